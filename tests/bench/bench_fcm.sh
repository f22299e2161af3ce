#!/bin/bash
# FCM sends per second over HTTP/2 with many concurrent streams: the GCM channel's transport
# (build/bench/fcm_bench: channels/fcm + the OAuth cache + the nghttp2 pool of channels/h2pool.c
# on one libevent loop, one thread, as one Repoint worker) posting to tests/sim/fcm_sim's HTTP/2 port over TLS, and
# h2load posting the same request (same body, same bearer token) to the same port as the ceiling
# of this simulator on this machine. CPU per 100,000 sends is the client's own (user + system)
# and the simulator's. Not a test: prints a Markdown table.
# usage: tests/bench/bench_fcm.sh [sends] [in flight]   (after `make`; defaults 100000 256, a
#        worker's queue.in_flight)
#   env: BENCH_RUNS (3: the best run of each is reported), H2LOAD_CLIENTS (1), H2LOAD_STREAMS
#        (100: concurrent streams h2load keeps on its connection)
set -euo pipefail
cd "$(dirname "$0")/../.."
count=${1:-100000}
in_flight=${2:-256}
runs=${BENCH_RUNS:-3}
clients=${H2LOAD_CLIENTS:-1}
streams=${H2LOAD_STREAMS:-100}
for tool in h2load openssl curl python3; do
    command -v "$tool" >/dev/null || { echo "bench_fcm: $tool is required" >&2; exit 1; }
done
[ -x build/bench/fcm_bench ] && [ -x build/sim/fcm_sim ] || { echo "bench_fcm: build first" >&2; exit 1; }

tmp=$(mktemp -d)
sim_pid=""
cleanup() { [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null && wait "$sim_pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$tmp/sa.key" 2>/dev/null
openssl pkey -in "$tmp/sa.key" -pubout -out "$tmp/sa.pub"
email=bench@repoint-sim.iam.gserviceaccount.com
build/sim/fcm_sim --port 0 --h2-port 0 --tls-cert tests/sim/testca/server.pem \
    --tls-key tests/sim/testca/server.key --public-key "$tmp/sa.pub" --project repoint-sim \
    --client-email "$email" --max-records 1000 > "$tmp/sim.out" 2> "$tmp/sim.log" &
sim_pid=$!
for _ in $(seq 50); do grep -q listening "$tmp/sim.out" && break; sleep 0.1; done
h1=$(sed -n 's/.*listening on https:\/\/127.0.0.1:\([0-9]*\) h2.*/\1/p' "$tmp/sim.out")
h2=$(sed -n 's/.* h2 https:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$tmp/sim.out")
python3 - "$tmp/sa.key" "$email" "https://127.0.0.1:$h1/token" > "$tmp/sa.json" <<'PY'
import json, sys
print(json.dumps({"type": "service_account", "project_id": "repoint-sim", "private_key_id": "k1",
                  "private_key": open(sys.argv[1]).read(), "client_email": sys.argv[2],
                  "token_uri": sys.argv[3]}))
PY
hz=$(getconf CLK_TCK)
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
export REPOINT_FCM_URL="https://127.0.0.1:$h2" REPOINT_TLS_CA_FILE="$PWD/tests/sim/testca/ca.pem" \
    REPOINT_LOG_LEVEL=warn

# The same request for h2load: the body fcm_bench's content renders to, and a token.
assertion=$(build/bench/fcm_bench --service-json "$tmp/sa.json" --assertion)
token=$(curl -fsS --cacert tests/sim/testca/ca.pem \
    --data "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=$assertion" \
    "https://127.0.0.1:$h1/token" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
printf '%s' '{"message":{"token":"bench-token-1","notification":{"title":"Hello","body":"A benchmark message from Repoint"},"data":{"k":"v","pinpoint.notification.title":"Hello","pinpoint.notification.body":"A benchmark message from Repoint","pinpoint.openApp":"true"}}}' > "$tmp/body.json"

best_rp="" best_h2=""
for run in $(seq "$runs"); do
    s0=$(ticks "$sim_pid")
    out=$(build/bench/fcm_bench --service-json "$tmp/sa.json" --count "$count" --in-flight "$in_flight")
    s1=$(ticks "$sim_pid")
    rate=$(python3 -c 'import json,sys; print(int(json.loads(sys.argv[1])["per_second"]))' "$out")
    cpu=$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(round(d["cpu_seconds"]*100000/d["sent"],2))' "$out")
    ok=$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(d["successful"] == d["sent"])' "$out")
    simcpu=$(awk -v a="$s0" -v b="$s1" -v hz="$hz" -v n="$count" 'BEGIN{printf "%.2f", (b-a)/hz*100000/n}')
    echo "repoint run $run: $out (simulator CPU per 100k: ${simcpu}s)" >&2
    [ "$ok" = True ] || { echo "bench_fcm: not every send succeeded" >&2; exit 1; }
    if [ -z "$best_rp" ] || [ "$rate" -gt "${best_rp%% *}" ]; then best_rp="$rate $cpu $simcpu"; fi

    s0=$(ticks "$sim_pid")
    /usr/bin/time -f "%U %S" -o "$tmp/h2time" h2load -n "$count" -c "$clients" -m "$streams" \
        -d "$tmp/body.json" -H "authorization: Bearer $token" -H "content-type: application/json" \
        "https://127.0.0.1:$h2/v1/projects/repoint-sim/messages:send" > "$tmp/h2load.out" 2>&1
    s1=$(ticks "$sim_pid")
    grep -q "succeeded, 0 failed" "$tmp/h2load.out" || { cat "$tmp/h2load.out" >&2; exit 1; }
    grep -q "status codes: $count 2xx" "$tmp/h2load.out" || { cat "$tmp/h2load.out" >&2; exit 1; }
    h2rate=$(sed -n 's/^finished in .*, \([0-9.]*\) req\/s.*/\1/p' "$tmp/h2load.out" | cut -d. -f1)
    h2cpu=$(awk -v n="$count" '{printf "%.2f", ($1+$2)*100000/n}' "$tmp/h2time")
    simcpu=$(awk -v a="$s0" -v b="$s1" -v hz="$hz" -v n="$count" 'BEGIN{printf "%.2f", (b-a)/hz*100000/n}')
    echo "h2load run $run: $h2rate req/s, client CPU per 100k ${h2cpu}s, simulator ${simcpu}s" >&2
    if [ -z "$best_h2" ] || [ "$h2rate" -gt "${best_h2%% *}" ]; then best_h2="$h2rate $h2cpu $simcpu"; fi
done
read -r rp_rate rp_cpu rp_sim <<< "$best_rp"
read -r h2_rate h2_cpu h2_sim <<< "$best_h2"
echo
echo "| client ($count sends, best of $runs) | sends/s | client CPU s per 100k | simulator CPU s per 100k |"
echo "| --- | ---: | ---: | ---: |"
echo "| Repoint GCM transport, $in_flight in flight | $rp_rate | $rp_cpu | $rp_sim |"
echo "| h2load -c $clients -m $streams (ceiling) | $h2_rate | $h2_cpu | $h2_sim |"
echo
echo "Repoint / h2load: $(awk -v a="$rp_rate" -v b="$h2_rate" 'BEGIN{printf "%.0f%%", a*100/b}')"
