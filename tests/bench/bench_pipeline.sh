#!/bin/bash
# Delivery pipeline throughput and latency, end to end: Repoint's queue and SMS workers sending to
# the Twilio-style simulator (build/sim/sms_sim, no latency), against a real redis-server. Not a
# test: prints numbers (a Markdown table, then the Redis command breakdown of every run).
#   ceiling      redis-benchmark -P 16 (SET, GET, LPUSH, XADD) and GET without pipelining
#   campaign     deliveries nobody waits for (origin 1), injected into rp:q:{SMS:N} before the
#                daemon starts; timed from the first to the last delivery the simulator accepts
#   send x1      SendMessages, one recipient per request (wrk, SigV4-signed, 1,000 addresses)
#   send x100    SendMessages, 100 distinct recipients per request
#   1000/s       SendMessages (one recipient) at a fixed 1,000 requests per second, open loop
#                (tests/bench/openloop.py): latency from each request's due time
# Every run is repeated for each workers.threads value in BENCH_WORKERS; with BENCH_TLS=1 the
# campaign and send x1 runs are repeated with the simulator on HTTPS (the test CA).
# usage: tests/bench/bench_pipeline.sh [seconds per run] [campaign deliveries]   (after `make`)
#   env: BENCH_WORKERS ("1 2"), BENCH_HTTP_THREADS (8), BENCH_TLS (1), BENCH_CONNS (64; x100 runs
#        use a eighth), BENCH_SHARDS and BENCH_IN_FLIGHT (queue.shards / queue.in_flight, config
#        defaults), REPOINT_BIN (build/repoint), SMS_SIM_BIN (build/sim/sms_sim)
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-10}
campaign=${2:-60000}
workers_list=${BENCH_WORKERS:-1 2}
http_threads=${BENCH_HTTP_THREADS:-8}
tls_too=${BENCH_TLS:-1}
conns=${BENCH_CONNS:-64}
bin=${REPOINT_BIN:-build/repoint}
sim_bin=${SMS_SIM_BIN:-build/sim/sms_sim}
for tool in redis-server redis-cli redis-benchmark wrk curl python3 bc; do
    command -v "$tool" >/dev/null || { echo "bench_pipeline: $tool is required" >&2; exit 1; }
done
if [ ! -x "$bin" ] || [ ! -x "$sim_bin" ]; then echo "bench_pipeline: build first (make)" >&2; exit 1; fi

tmp=$(mktemp -d)
redis_pid="" sim_pid="" rp_pid=""
stop_pid() { # pid: SIGTERM, then SIGKILL after 10 s; sets $stop_rc to its exit status
    local pid=$1
    stop_rc=0
    [ -n "$pid" ] || return 0
    kill "$pid" 2>/dev/null || return 0
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || stop_rc=$?
}
bad_stops=0
stop_daemon() { # a SIGTERM'd repoint must exit 0; anything else is counted and reported
    stop_pid "$rp_pid"
    if [ "$stop_rc" != 0 ]; then
        bad_stops=$((bad_stops + 1))
        echo "bench_pipeline: repoint exited with status $stop_rc on SIGTERM" >&2
    fi
    rp_pid=""
}
cleanup() {
    stop_daemon
    stop_pid "$sim_pid"
    stop_pid "$redis_pid"
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rport=$(free_port)
aport=$(free_port)
url=http://127.0.0.1:$aport
rcli() { redis-cli -p "$rport" "$@"; }
hz=$(getconf CLK_TCK)
account=AC0123456789abcdef0123456789abcdef
token=bench-sim-token-0123456789abcdef
export AWS_ACCESS_KEY_ID=BENCHKEY000000000001 AWS_SECRET_ACCESS_KEY=bench-secret-0123456789abcdefghijklmnop
echo "$AWS_ACCESS_KEY_ID $AWS_SECRET_ACCESS_KEY" > "$tmp/creds"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$tmp/key"
chmod 600 "$tmp/creds" "$tmp/key"

redis-server --port "$rport" --bind 127.0.0.1 --dir "$tmp" --appendonly yes --appendfsync everysec \
    --save "" --maxmemory-policy noeviction --logfile "$tmp/redis.log" &
redis_pid=$!
for _ in $(seq 50); do [ "$(rcli ping 2>/dev/null)" = PONG ] && break; sleep 0.1; done

# ---- the ceiling: what this Redis does on this machine ---------------------------------------
ceiling=$( {
    redis-benchmark -p "$rport" -P 16 -n 400000 -q --csv -t set,get,lpush
    redis-benchmark -p "$rport" -P 16 -n 400000 -q --csv XADD bench:stream '*' f v
    redis-benchmark -p "$rport" -n 100000 -q --csv -t get
} 2>/dev/null | awk -F'","' 'NR>0 && $1 !~ /^"test/ {gsub(/"/,"",$1); gsub(/"/,"",$2); n++;
    label = (n == 5 ? "GET -P 1" : $1 " -P 16"); sub(/ bench:stream \* f v/, "", label);
    printf "%s%s %s/s", (n > 1 ? ", " : ""), label, $2}')
rcli flushall >/dev/null

# ---- processes ---------------------------------------------------------------------------------
sim_scheme=http
start_sim() { # http|https
    stop_pid "$sim_pid"
    sim_scheme=$1
    local port
    port=$(free_port)
    local tls=()
    [ "$sim_scheme" = https ] && tls=(--tls-cert tests/sim/testca/server.pem --tls-key tests/sim/testca/server.key)
    "$sim_bin" --port "$port" --account-sid "$account" --auth-token "$token" --max-records 1000 \
        "${tls[@]}" >>"$tmp/sim.log" 2>&1 &
    sim_pid=$!
    sim_url=$sim_scheme://127.0.0.1:$port
    for _ in $(seq 50); do sim_accepted >/dev/null 2>&1 && break; sleep 0.1; done
}
sim_accepted() {
    curl -fsS --cacert tests/sim/testca/ca.pem "$sim_url/sim/stats" | sed -n 's/.*"accepted":\([0-9]*\).*/\1/p'
}
start_daemon() { # workers
    stop_daemon
    env REPOINT_LISTEN="127.0.0.1:$aport" REPOINT_REDIS_URL="redis://127.0.0.1:$rport/0" \
        REPOINT_AUTH_CREDENTIALS_FILE="$tmp/creds" REPOINT_SECRETS_KEY_FILE="$tmp/key" \
        REPOINT_LOG_LEVEL=warn REPOINT_WORKERS_THREADS="$1" REPOINT_HTTP_THREADS="$http_threads" \
        REPOINT_SMS_URL="$sim_url" REPOINT_SMS_ACCOUNT_SID="$account" REPOINT_SMS_AUTH_TOKEN="$token" \
        REPOINT_TLS_CA_FILE="$PWD/tests/sim/testca/ca.pem" "${overrides[@]}" \
        "$bin" serve >>"$tmp/repoint.log" 2>&1 &
    rp_pid=$!
    for _ in $(seq 100); do curl -fs "$url/repoint/health" >/dev/null && return 0; sleep 0.05; done
    echo "bench_pipeline: repoint did not start:" >&2
    tail -20 "$tmp/repoint.log" >&2
    exit 1
}

# ---- measurement helpers -----------------------------------------------------------------------
ticks() { [ -n "$1" ] && [ -r "/proc/$1/stat" ] && awk '{print $14 + $15}' "/proc/$1/stat" || echo 0; }
busy() { awk '/^cpu /{print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }
now() { date +%s.%N; }
begin_run() {
    rcli info commandstats > "$tmp/cmd.before"
    begin_cpu
}
begin_cpu() {
    c_redis=$(ticks "$redis_pid") c_rp=$(ticks "$rp_pid") c_sim=$(ticks "$sim_pid") c_all=$(busy)
}
# end_run seconds deliveries [ignored commands]: sets $cpu (CPU microseconds per delivery of Redis,
# Repoint and the simulator), $busy (the whole machine's CPU use, % of one core) and $cmds
end_run() {
    local s=$1 n=$2
    cpu=$(awk -v hz="$hz" -v n="$n" -v a="$c_redis" -v b="$(ticks "$redis_pid")" -v c="$c_rp" \
        -v d="$(ticks "$rp_pid")" -v e="$c_sim" -v f="$(ticks "$sim_pid")" \
        'BEGIN{k = 1e6 / hz / (n > 0 ? n : 1); printf "%d / %d / %d", (b-a)*k, (d-c)*k, (f-e)*k}')
    busy=$(awk -v hz="$hz" -v s="$s" -v g="$c_all" -v h="$(busy)" 'BEGIN{printf "%d", (h-g)*100/(hz*s)}')
    rcli info commandstats > "$tmp/cmd.after"
    cmds=$(python3 tests/bench/cmdstats.py "$tmp/cmd.before" "$tmp/cmd.after" "$n" "${3:-}")
}
settle() { # waits until the simulator's count stops moving (at most 20 s); prints it
    local last=-1 cur
    for _ in $(seq 200); do
        cur=$(sim_accepted)
        [ "$cur" = "$last" ] && break
        last=$cur
        sleep 0.3
    done
    echo "$cur"
}
rows=()
details=()
row() { # run workers deliveries deliveries/s req/s p50 p99 errors
    local per
    per=$(sed -n 's/.* commands, \([0-9.]*\) per delivery (\([0-9.]*\) us.*/\1 (\2 µs)/p' <<<"$cmds")
    rows+=("$(printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |' "$1" "$2" \
        "$sim_scheme" "$3" "$4" "$5" "$6" "$7" "$8" "$per" "$cpu" "$busy")")
    details+=("$1, workers $2, $sim_scheme: $cmds")
    echo "${rows[-1]}"
}

# ---- the runs ----------------------------------------------------------------------------------
overrides=()
[ -n "${BENCH_SHARDS:-}" ] && overrides+=(REPOINT_QUEUE_SHARDS="$BENCH_SHARDS")
[ -n "${BENCH_IN_FLIGHT:-}" ] && overrides+=(REPOINT_QUEUE_IN_FLIGHT="$BENCH_IN_FLIGHT")
setting() { # key: the value the daemon will use (config defaults, BENCH_* overrides)
    env "${overrides[@]}" "$bin" check-config 2>/dev/null | awk -v k="$1" '$1 == k {print $2}'
}
shards=$(setting queue.shards)
in_flight=$(setting queue.in_flight)
shards_key() { for i in $(seq 0 $((shards - 1))); do printf 'rp:q:{SMS:%d} ' "$i"; done; }
campaign_run() { # workers
    stop_daemon
    begin_run
    local first=$((RANDOM * 100000)) done_n=0
    for ((i = 0; i < campaign; i += 10000)); do
        local n=$((campaign - i < 10000 ? campaign - i : 10000))
        # shellcheck disable=SC2046
        rcli --eval tests/bench/inject_campaign.lua $(shards_key) , "$app" "$n" "$((first + i))" \
            "$(date +%s%3N)" >/dev/null
    done
    local s0 t0 t_first="" t_done cur
    s0=$(sim_accepted)
    t0=$(now)
    begin_cpu
    start_daemon "$1"
    for _ in $(seq 600); do
        cur=$(sim_accepted)
        [ -z "$t_first" ] && [ "$cur" -gt "$s0" ] && t_first=$(now)
        [ "$cur" -ge $((s0 + campaign)) ] && break
        sleep 0.1
    done
    t_done=$(now)
    done_n=$((cur - s0))
    local el rate
    el=$(echo "$t_done - ${t_first:-$t0}" | bc -l)
    rate=$(printf '%.0f' "$(echo "$done_n / $el" | bc -l)")
    end_run "$(echo "$t_done - $t0" | bc -l)" "$done_n" eval
    local note=0
    [ "$done_n" -lt "$campaign" ] && note="$((campaign - done_n)) not delivered in 60 s"
    row "campaign" "$1" "$done_n" "$rate" "-" "-" "-" "$note"
}
wrk_run() { # name workers lua connections
    local s0 t0 t1 s1 s2 out
    begin_run
    s0=$(sim_accepted)
    t0=$(now)
    out=$(wrk -t1 -c"$4" -d"${secs}s" --timeout 15s --latency -s "$3" "$url")
    t1=$(now)
    s1=$(sim_accepted)
    s2=$(settle)
    local el
    el=$(echo "$t1 - $t0" | bc -l)
    end_run "$el" "$((s2 - s0))"
    read -r rps p50 p99 bad < <(awk '/Requests\/sec/{r=$2} /^ +50%/{a=$2} /^ +99%/{b=$2}
        /Non-2xx/{n+=$NF} /Socket errors/{gsub(/,/,""); n+=$4+$6+$8+$10}
        END{printf "%s %s %s %d\n", r, a, b, n}' <<<"$out")
    row "$1" "$2" "$((s1 - s0))" "$(printf '%.0f' "$(echo "($s1 - $s0) / $el" | bc -l)")" \
        "$(printf '%.0f' "$rps")" "$p50" "$p99" "$bad"
}
paced_run() { # workers
    local s0 out
    begin_run
    s0=$(sim_accepted)
    out=$(echo "$AWS_ACCESS_KEY_ID $AWS_SECRET_ACCESS_KEY" | python3 tests/bench/openloop.py "$url" \
        "/v1/apps/$app/messages" "$body1" --rate 1000 --seconds "$secs" --distinct 1000)
    local s2
    s2=$(settle)
    end_run "$secs" "$((s2 - s0))"
    IFS='|' read -r rate p50 p99 bad < <(python3 -c 'import json, sys; d = json.loads(sys.argv[1])
print("%s|%.1fms|%.1fms (p99.9 %.1fms)|%d" % (d["rate"], d["p50"], d["p99"], d["p999"],
      d["non2xx"] + d["errors"]))' "$out")
    row "send x1 at 1000/s" "$1" "$((s2 - s0))" "-" "$rate" "$p50" "$p99" "$bad"
}

start_sim http
start_daemon 0
app=$(python3 - "$url" <<'PY'
import sys, boto3
c = boto3.client("pinpoint", endpoint_url=sys.argv[1], region_name="us-east-1")
app = c.create_app(CreateApplicationRequest={"Name": "bench"})["ApplicationResponse"]["Id"]
c.update_sms_channel(ApplicationId=app, SMSChannelRequest={"Enabled": True, "SenderId": "BENCH"})
print(app)
PY
)
cfg='"MessageConfiguration":{"SMSMessage":{"Body":"bench"}}'
body1='{"Addresses":{"+1555300{i}":{"ChannelType":"SMS"}},'$cfg'}'
body100='{"Addresses":{'$(for k in $(seq -w 0 99); do printf '"+1555{i}0000%s":{"ChannelType":"SMS"}' "$k"; [ "$k" = 99 ] || printf ,; done)'},'$cfg'}'
sign() { echo "$AWS_ACCESS_KEY_ID $AWS_SECRET_ACCESS_KEY" | python3 tests/bench/sign_many.py "$url" POST "/v1/apps/$app/messages" "$1" "$2" "$3"; }
sign "$body1" 1000 "$tmp/x1.lua"
sign "$body100" 10 "$tmp/x100.lua"

echo "| run | workers | provider | deliveries | deliveries/s | req/s | p50 | p99 | errors |" \
    "Redis cmds/delivery (Redis time) | CPU µs/delivery Redis / Repoint / sim | machine CPU % |"
echo "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for w in $workers_list; do
    campaign_run "$w"
    wrk_run "send x1" "$w" "$tmp/x1.lua" "$conns"
    wrk_run "send x100" "$w" "$tmp/x100.lua" "$((conns / 8))"
    paced_run "$w"
done
if [ "$tls_too" = 1 ]; then
    w=${workers_list%% *}
    stop_daemon
    start_sim https
    campaign_run "$w"
    wrk_run "send x1" "$w" "$tmp/x1.lua" "$conns"
fi
echo
echo "Redis commands per delivery, by command:"
for d in "${details[@]}"; do echo "- $d"; done
echo "ceiling (redis-benchmark, 50 clients): $ceiling"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //');" \
    "http.threads $http_threads, wrk -t1 -c$conns (x100: -c$((conns / 8))) -d${secs}s," \
    "campaign $campaign deliveries, queue.in_flight $in_flight, queue.shards $shards"
stop_daemon
[ "$bad_stops" = 0 ] || echo "repoint exited abnormally on $bad_stops of its SIGTERMs (see stderr)"
grep -E ' (error|warn) ' "$tmp/repoint.log" | grep -v 'auth.mode' | sort | uniq -c | sort -rn | head -5 || true
