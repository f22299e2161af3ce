#!/bin/bash
# Admission control under overload (issue 10): "at twice the sustainable rate, admitted requests
# keep their normal p99". One-recipient SendMessages (SigV4-signed, replayed over 1,000 distinct
# recipients) against a real redis-server and the SMS simulator (plain HTTP), with the provider
# as the bottleneck, as in production: the simulator answers after BENCH_SIM_LATENCY_MS and the
# worker keeps at most BENCH_IN_FLIGHT deliveries in flight (plus one read of queue.batch 4), so
# capacity is about (in_flight + 4) / latency deliveries per second whatever else runs here.
#   1. sustainable rate S: open-loop steps (tests/bench/openloop.py, admission off) from 100/s up
#      by 25% for BENCH_STEP_SECONDS (4) each; S is the last rate at which every request got its
#      2xx and the p99 stayed within 3x the first step's (past it the backlog, and with it every
#      request's wait, grows). A closed loop (wrk) cannot find S: it holds a concurrency, not a
#      rate.
#   2. the normal p50/p99: open loop at S for the run's seconds, admission off.
#   3. admission.max_waiting_direct sized by Little's law from the normal run: W50 = S x normal
#      p50 (about the requests waiting at normal load) and W99 = S x normal p99 (what keeps the
#      admitted requests' mean wait at the normal p99), or BENCH_MAX_WAITING for both.
#   4. open loop at 2 S with W50, then W99 -> p50/p99 of the admitted (2xx) requests and the
#      fraction refused with 429; at S with W50 (what the bound costs at normal load); and 2 S
#      with admission off for comparison (everyone waits).
# Latency is from each request's due time (open loop: no coordinated omission). Not a test.
# usage: tests/bench/bench_admission.sh [seconds per run]   (after `make`)
#   env: BENCH_SIM_LATENCY_MS (25), BENCH_IN_FLIGHT (20), BENCH_MAX_WAITING (from step 3),
#        BENCH_STEP_SECONDS (4),
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
    REPOINT_SMS_AUTH_TOKEN=bench-token REPOINT_QUEUE_IN_FLIGHT=$in_flight REPOINT_QUEUE_BATCH=4 \
    REPOINT_QUEUE_SHARDS=1 \
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

openloop() { # rate
    echo "$AWS_ACCESS_KEY_ID $AWS_SECRET_ACCESS_KEY" | python3 tests/bench/openloop.py "$url" \
        "$path" "$body" --rate "$1" --seconds "$secs" --distinct 1000 --connections 2000
}
# 1. the sustainable rate
steps=${BENCH_STEP_SECONDS:-4}
sustainable=$(
    rate=100 first="" last=""
    while :; do
        out=$(echo "$AWS_ACCESS_KEY_ID $AWS_SECRET_ACCESS_KEY" | python3 tests/bench/openloop.py "$url" \
            "$path" "$body" --rate "$rate" --seconds "$steps" --distinct 1000 --connections 2000)
        settle
        read -r ok p99 < <(python3 -c 'import json, sys; d = json.loads(sys.argv[1])
print(int(d["ok"] == d["sent"]), d["ok_p99"] or 1e9)' "$out")
        echo "  step $rate/s: all 2xx $ok, p99 $p99 ms" >&2
        [ -z "$first" ] && first=$p99
        if [ "$ok" != 1 ] || python3 -c "import sys; sys.exit(0 if $p99 > 3 * $first else 1)"; then
            break
        fi
        last=$rate
        rate=$(( rate * 5 / 4 ))
    done
    echo "${last:-100}")
double=$((2 * sustainable))

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
little() { # percentile
    python3 -c 'import json, sys
print(max(1, round(int(sys.argv[1]) * json.loads(sys.argv[2])[sys.argv[3]] / 1000)))' \
        "$sustainable" "$normal" "$1"
}
w50=${max_waiting:-$(little ok_p50)}
w99=${max_waiting:-$(little ok_p99)}
echo "sustainable S = $sustainable/s (sim latency ${sim_latency} ms, queue.in_flight $in_flight, queue.batch 4); W50 = $w50, W99 = $w99"
echo
echo "| run | requests | offered | 2xx | admitted p50 | admitted p99 | admitted p99.9 | admitted p99 from write | 429 | other errors |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
report "1x S = $sustainable/s, admission off (normal)" "$normal"
start_daemon "$w50" 0
report "2x S = $double/s, max_waiting_direct W50 = $w50" "$(openloop "$double")"
settle
report "1x S = $sustainable/s, max_waiting_direct W50 = $w50" "$(openloop "$sustainable")"
settle
start_daemon "$w99" 0
report "2x S = $double/s, max_waiting_direct W99 = $w99" "$(openloop "$double")"
settle
start_daemon 0 0
report "2x S = $double/s, admission off" "$(openloop "$double")"
settle
echo
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load average $(cut -d' ' -f1-3 /proc/loadavg)"
