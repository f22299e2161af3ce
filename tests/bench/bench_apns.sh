#!/bin/bash
# APNs delivery throughput over TLS + HTTP/2, side by side against one apns_sim (no latency, no
# records, 1,000 concurrent streams per connection, token auth with a fresh .p8):
#   repoint x1    build/bench/apns_bench: the real channel transport, 1 connection, 1,000 in flight
#   repoint pool  the same with apns.max_connections 4 and 4,000 in flight
#   node-apn      tests/bench/apns_node.js (@parse/node-apn from tests/peers), 1,000 in flight
#   h2load x1     h2load -c 1 -m 1000, the same request (JWT, topic, push type, payload)
#   h2load x4     h2load -c 4 -m 1000
# then memory: apns_bench's peak RSS with 100 in flight on 1 connection and 10,000 in flight on
# 10 connections. Not a test: prints a Markdown table.
# usage: tests/bench/bench_apns.sh [notifications per run]   (after cmake --build build)
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-100000}
build=${RP_BUILD_DIR:-build}
for tool in h2load node openssl python3; do
    command -v "$tool" >/dev/null || { echo "bench_apns: $tool is required" >&2; exit 1; }
done
[ -x "$build/sim/apns_sim" ] && [ -x "$build/bench/apns_bench" ] || {
    echo "bench_apns: build first" >&2; exit 1; }

tmp=$(mktemp -d)
sim_pid=""
cleanup() { [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

openssl ecparam -name prime256v1 -genkey -noout 2>/dev/null |
    openssl pkcs8 -topk8 -nocrypt -out "$tmp/AuthKey.p8"
python3 - "$tmp" <<'PY'
import json, sys
d = sys.argv[1]
json.dump({"TokenKey": open(f"{d}/AuthKey.p8").read(), "TokenKeyId": "BENCH12345",
           "TeamId": "TEAM123456", "BundleId": "com.example.bench"}, open(f"{d}/settings.json", "w"))
PY
printf '%s' '{"aps":{"alert":{"title":"Bench","body":"Hello from Repoint"}}}' > "$tmp/payload.json"

"$build/sim/apns_sim" --tls-cert tests/sim/testca/server.pem --tls-key tests/sim/testca/server.key \
    --key "BENCH12345:TEAM123456:$tmp/AuthKey.p8" --max-streams 1000 --no-record \
    --threads "${BENCH_SIM_THREADS:-2}" > "$tmp/sim.out" &
sim_pid=$!
for _ in $(seq 50); do [ -s "$tmp/sim.out" ] && break; sleep 0.1; done
url=$(awk '{print $4}' "$tmp/sim.out")
export REPOINT_APNS_PRODUCTION_URL=$url REPOINT_TLS_CA_FILE=tests/sim/testca/ca.pem REPOINT_LOG_LEVEL=warn

field() { python3 -c "import json,sys; d=json.loads(sys.stdin.read()); print(d$1)"; }
row() { # name json
    local rate cpu rss ok
    rate=$(echo "$2" | field '["rate"]')
    cpu=$(echo "$2" | field '["cpu_per_100k"]')
    rss=$(echo "$2" | field '["max_rss_kb"]')
    ok=$(echo "$2" | field '["statuses"].get("SUCCESSFUL", 0)')
    printf '| %s | %.0f | %.2f | %s | %s |\n' "$1" "$rate" "$cpu" "$((rss / 1024))" "$ok"
}
h2row() { # name conns
    local jwt out rate
    jwt=$("$build/bench/apns_bench" --settings "$tmp/settings.json" --print-jwt)
    out=$(h2load -n "$n" -c "$2" -m 1000 --header="authorization: bearer $jwt" \
        --header="apns-topic: com.example.bench" --header="apns-push-type: alert" \
        --header="content-type: application/json" -d "$tmp/payload.json" \
        "$url/3/device/$(printf '%064x' 1)" 2>&1)
    rate=$(echo "$out" | sed -n 's/.*finished in .*, \([0-9.]*\) req\/s.*/\1/p')
    printf '| %s | %.0f | - | - | %s |\n' "$1" "$rate" \
        "$(echo "$out" | sed -n 's/.*status codes: \([0-9]*\) 2xx.*/\1/p')"
}

echo "| client | notifications/s | CPU s per 100k | peak RSS MB | 200s |"
echo "| --- | --- | --- | --- | --- |"
row "repoint x1 (1 conn, 1,000 in flight)" "$(REPOINT_APNS_MAX_CONNECTIONS=1 \
    "$build/bench/apns_bench" --settings "$tmp/settings.json" --count "$n" --in-flight 1000)"
row "repoint pool (4 conns, 4,000 in flight)" "$(REPOINT_APNS_MAX_CONNECTIONS=4 \
    "$build/bench/apns_bench" --settings "$tmp/settings.json" --count "$n" --in-flight 4000)"
row "node-apn (1,000 in flight)" "$(node tests/bench/apns_node.js "$url" "$tmp/settings.json" \
    tests/sim/testca/ca.pem "$((n / 5))" 1000 1000)"
h2row "h2load -c 1 -m 1000" 1
h2row "h2load -c 4 -m 1000" 4

echo
echo "| memory | peak RSS MB |"
echo "| --- | --- |"
for spec in "1 100" "10 10000"; do
    set -- $spec
    out=$(REPOINT_APNS_MAX_CONNECTIONS=$1 "$build/bench/apns_bench" --settings "$tmp/settings.json" \
        --count 50000 --in-flight "$2")
    printf '| repoint, %s connection(s), %s in flight | %s |\n' "$1" "$2" \
        "$(( $(echo "$out" | field '["max_rss_kb"]') / 1024 ))"
done
