#!/bin/bash
# Admission control under overload (issue 10): "at twice the sustainable rate, admitted requests
# keep their normal p99". One-recipient SendMessages (SigV4-signed, replayed over 1,000 distinct
# recipients) against a real redis-server and the SMS simulator (plain HTTP), with the provider
# as the bottleneck, as in production: the simulator answers after BENCH_SIM_LATENCY_MS and each
# worker keeps at most BENCH_IN_FLIGHT deliveries in flight, so capacity is about
# in_flight / latency deliveries per second whatever else runs on the machine.
#   1. capacity: wrk (closed loop, 64 connections, admission off) for the run's seconds; the
#      simulator's accepted count over the time is the capacity C.
#   2. sustainable rate S = 0.8 C (a provider-bound pipeline run at 100% has no headroom; at 80%
#      its latency is steady): open loop (tests/bench/openloop.py) at S, admission off -> the
#      normal p50/p99.
#   3. admission.max_waiting_direct W = S x normal p99 (Little's law: the requests in the system
#      when each takes the normal p99), or BENCH_MAX_WAITING when set.
#   4. open loop at 2 S with admission on (W) -> p50/p99 of the admitted (2xx) requests and the
#      fraction refused with 429; then at S with W (what the bound costs at normal load), and
#      2 S with admission off for comparison (everyone waits).
# Latency is from each request's due time (open loop: no coordinated omission). Not a test.
# usage: tests/bench/bench_admission.sh [seconds per run]   (after `make`)
#   env: BENCH_SIM_LATENCY_MS (25), BENCH_IN_FLIGHT (20), BENCH_MAX_WAITING (from step 3),
#        REPOINT_BIN (build/repoint), SMS_SIM_BIN (build/sim/sms_sim)
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-10}
sim_latency=${BENCH_SIM_LATENCY_MS:-25}
in_flight=${BENCH_IN_FLIGHT:-20}
max_waiting=${BENCH_MAX_WAITING:-}
repoint=${REPOINT_BIN:-build/repoint}
sms_sim=${SMS_SIM_BIN:-build/sim/sms_sim}
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
tmp=$(mktemp -d)
rport=$(port) aport=$(port) sport=$(port)
pid="" spid=""
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
    [ -n "$spid" ] && kill "$spid" 2>/dev/null || true
    redis-cli -p "$rport" shutdown nosave >/dev/null 2>&1 || true
    rm -rf "$tmp"
}
trap cleanup EXIT
redis-server --port "$rport" --dir "$tmp" --appendonly yes --appendfsync everysec --save "" \
    --daemonize yes --logfile "$tmp/redis.log" >/dev/null
sid=AC0123456789abcdef0123456789abcdef
"$sms_sim" --port "$sport" --account-sid "$sid" --auth-token bench-token --threads 4 \
    --max-records 1000 >"$tmp/sim.log" 2>&1 &
spid=$!
echo "BENCHKEY000000000001 bench-secret-0123456789abcdefghijklmnop" > "$tmp/creds"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$tmp/key"
chmod 600 "$tmp/creds" "$tmp/key"
sim() { curl -fs "http://127.0.0.1:$sport/sim/$1" ${2:+-d "$2"}; }
for _ in $(seq 50); do sim stats >/dev/null && break; sleep 0.1; done
sim config "{\"latency_ms\":$sim_latency}" >/dev/null
accepted() { sim stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["accepted"])'; }

start_daemon() { # max_waiting max_queue
    if [ -n "$pid" ]; then kill "$pid"; wait "$pid" 2>/dev/null || true; fi
    REPOINT_LISTEN=127.0.0.1:$aport REPOINT_REDIS_URL=redis://127.0.0.1:$rport/0 \
    REPOINT_AUTH_CREDENTIALS_FILE=$tmp/creds REPOINT_SECRETS_KEY_FILE=$tmp/key \
    REPOINT_LOG_LEVEL=warn REPOINT_SMS_URL=http://127.0.0.1:$sport REPOINT_SMS_ACCOUNT_SID=$sid \
    REPOINT_SMS_AUTH_TOKEN=bench-token REPOINT_QUEUE_IN_FLIGHT=$in_flight \
    REPOINT_ADMISSION_MAX_WAITING_DIRECT=$1 REPOINT_ADMISSION_MAX_QUEUE_PER_CHANNEL=$2 \
    "$repoint" serve 2>>"$tmp/repoint.log" &
    pid=$!
    for _ in $(seq 100); do curl -fs "http://127.0.0.1:$aport/repoint/health" >/dev/null && break; sleep 0.1; done
}
# Waits until the simulator's count stops moving (the backlog of a run is delivered).
settle() {
    local a b
    a=$(accepted)
    while sleep 1; b=$(accepted); [ "$a" != "$b" ]; do a=$b; done
}
url=http://127.0.0.1:$aport
export AWS_ACCESS_KEY_ID=BENCHKEY000000000001 AWS_SECRET_ACCESS_KEY=bench-secret-0123456789abcdefghijklmnop
start_daemon 0 0
app=$(python3 - "$url" <<'PY'
import sys, boto3
c = boto3.client("pinpoint", endpoint_url=sys.argv[1], region_name="us-east-1")
app = c.create_app(CreateApplicationRequest={"Name": "bench"})["ApplicationResponse"]["Id"]
c.update_sms_channel(ApplicationId=app, SMSChannelRequest={"Enabled": True, "SenderId": "Bench"})
print(app)
PY
)
path=/v1/apps/$app/messages
body='{"MessageConfiguration":{"SMSMessage":{"Body":"bench {i}"}},"Addresses":{"+1555300{i}":{"ChannelType":"SMS"}}}'
body_wrk=$body

# 1. capacity
echo "$AWS_ACCESS_KEY_ID $AWS_SECRET_ACCESS_KEY" | python3 tests/bench/sign_many.py "$url" POST "$path" "$body_wrk" 1000 "$tmp/many.lua"
wrk -t1 -c4 -d2s -s "$tmp/many.lua" "$url" >/dev/null   # warm-up: connections, caches
settle
a0=$(accepted)
t0=$(date +%s.%N)
wrk -t2 -c64 -d"${secs}s" -s "$tmp/many.lua" "$url" >/dev/null
a1=$(accepted)
t1=$(date +%s.%N)
capacity=$(python3 -c "print(round(($a1 - $a0) / ($t1 - $t0)))")
settle
sustainable=$(python3 -c "print(round(0.8 * $capacity))")
double=$((2 * sustainable))

openloop() { # rate
    echo "$AWS_ACCESS_KEY_ID $AWS_SECRET_ACCESS_KEY" | python3 tests/bench/openloop.py "$url" \
        "$path" "$body" --rate "$1" --seconds "$secs" --distinct 1000 --connections 2000
}
report() { # label json
    python3 -c 'import json, sys
d = json.loads(sys.argv[2])
n = d["sent"]
refused = d["statuses"].get("429", 0)
fmt = lambda v: "-" if v is None else "%.1f ms" % v
print("| %s | %d | %.0f/s | %d | %s | %s | %s | %s | %.1f%% | %d |" % (sys.argv[1], n, d["rate"],
      d["ok"], fmt(d["ok_p50"]), fmt(d["ok_p99"]), fmt(d["ok_p999"]), fmt(d["ok_service_p99"]),
      100.0 * refused / n, d["non2xx"] - refused + d["errors"]))' "$1" "$2"
}
normal=$(openloop "$sustainable")
settle
if [ -z "$max_waiting" ]; then
    max_waiting=$(python3 -c 'import json, sys
print(max(1, round(int(sys.argv[1]) * json.loads(sys.argv[2])["ok_p99"] / 1000)))' "$sustainable" "$normal")
fi
echo "capacity C = $capacity deliveries/s (wrk -c64, admission off, sim latency ${sim_latency} ms, queue.in_flight $in_flight); sustainable S = 0.8 C = $sustainable/s; admission.max_waiting_direct W = $max_waiting"
echo
echo "| run | requests | offered | 2xx | admitted p50 | admitted p99 | admitted p99.9 | admitted p99 from write | 429 | other errors |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
report "1x S = $sustainable/s, admission off (normal)" "$normal"
start_daemon "$max_waiting" 0
report "2x S = $double/s, max_waiting_direct $max_waiting" "$(openloop "$double")"
settle
report "1x S = $sustainable/s, max_waiting_direct $max_waiting" "$(openloop "$sustainable")"
settle
start_daemon 0 0
report "2x S = $double/s, admission off" "$(openloop "$double")"
settle
echo
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load average $(cut -d' ' -f1-3 /proc/loadavg)"
