#!/bin/bash
# API throughput: GetEndpoint and UpdateEndpoint per second, measured with wrk against a real
# redis-server, with SigV4 verified on every request (a botocore-signed request replayed within
# its 15-minute validity) and with auth.mode off for comparison. Not a test: prints numbers.
# usage: tests/bench/bench_api.sh [seconds] [connections]   (after `make`)
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-10}
conns=${2:-64}
tmp=$(mktemp -d)
rport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
aport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$rport" --dir "$tmp" --appendonly yes --appendfsync everysec --save "" \
    --daemonize yes --logfile "$tmp/redis.log" >/dev/null
echo "BENCHKEY000000000001 bench-secret-0123456789abcdefghijklmnop" > "$tmp/creds"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$tmp/key"
chmod 600 "$tmp/creds" "$tmp/key"
cleanup() { kill "$pid" 2>/dev/null || true; redis-cli -p "$rport" shutdown nosave >/dev/null 2>&1 || true; rm -rf "$tmp"; }
trap cleanup EXIT
start_daemon() {
    REPOINT_LISTEN=127.0.0.1:$aport REPOINT_REDIS_URL=redis://127.0.0.1:$rport/0 \
    REPOINT_AUTH_CREDENTIALS_FILE=$tmp/creds REPOINT_SECRETS_KEY_FILE=$tmp/key \
    REPOINT_LOG_LEVEL=warn REPOINT_AUTH_MODE=$1 build/repoint serve 2>>"$tmp/repoint.log" &
    pid=$!
    for _ in $(seq 50); do curl -fs "http://127.0.0.1:$aport/repoint/health" >/dev/null && break; sleep 0.1; done
}
url=http://127.0.0.1:$aport
start_daemon sigv4
export AWS_ACCESS_KEY_ID=BENCHKEY000000000001 AWS_SECRET_ACCESS_KEY=bench-secret-0123456789abcdefghijklmnop
app=$(python3 - "$url" <<'PY'
import sys, boto3
c = boto3.client("pinpoint", endpoint_url=sys.argv[1], region_name="us-east-1")
app = c.create_app(CreateApplicationRequest={"Name": "bench"})["ApplicationResponse"]["Id"]
c.update_endpoint(ApplicationId=app, EndpointId="bench-1", EndpointRequest={
    "ChannelType": "GCM", "Address": "f" * 152, "User": {"UserId": "u-bench"},
    "Attributes": {"plan": ["pro"], "interests": ["a", "b", "c"]},
    "Demographic": {"Platform": "android", "Locale": "en_US"}, "Metrics": {"sessions": 3}})
print(app)
PY
)
body='{"ChannelType":"GCM","Address":"ffff","Attributes":{"plan":["team"]},"Metrics":{"sessions":4}}'
run() { # name method path [body]
    local name=$1 method=$2 path=$3 payload=${4:-}
    local args=()
    if [ "$mode" = sigv4 ]; then
        while IFS= read -r h; do args+=(-H "$h"); done < <(echo "$AWS_ACCESS_KEY_ID $AWS_SECRET_ACCESS_KEY" | python3 tests/bench/sign.py "$url" "$method" "$path" "$payload")
    else
        args+=(-H "Content-Type: application/json")
    fi
    cat > "$tmp/req.lua" <<LUA
wrk.method = "$method"
wrk.body = [[$payload]]
LUA
    printf '%-28s ' "$name ($mode)"
    wrk -t2 -c"$conns" -d"${secs}s" --latency -s "$tmp/req.lua" "${args[@]}" "$url$path" \
        | awk '/Requests\/sec/{rps=$2} /^ +50%/{p50=$2} /^ +99%/{p99=$2} /Non-2xx/{bad=$NF}
               END{printf "%10s req/s  p50 %8s  p99 %8s  non-2xx %s\n", rps, p50, p99, bad+0}'
}
spread() { # name method path-template body-template: 1,000 distinct signed requests
    local name=$1
    echo "$AWS_ACCESS_KEY_ID $AWS_SECRET_ACCESS_KEY" | python3 tests/bench/sign_many.py "$url" "$2" "$3" "$4" 1000 "$tmp/many.lua"
    printf '%-28s ' "$name (sigv4)"
    wrk -t2 -c"$conns" -d"${secs}s" --latency -s "$tmp/many.lua" "$url" \
        | awk '/Requests\/sec/{rps=$2} /^ +50%/{p50=$2} /^ +99%/{p99=$2} /Non-2xx/{bad=$NF}
               END{printf "%10s req/s  p50 %8s  p99 %8s  non-2xx %s\n", rps, p50, p99, bad+0}'
}
mode=sigv4
spread "UpdateEndpoint x1000" PUT "/v1/apps/$app/endpoints/spread-{i}" \
    '{"ChannelType":"GCM","Address":"token-{i}","User":{"UserId":"user-{i}"},"Attributes":{"plan":["pro"]},"Metrics":{"sessions":{i}}}'
spread "GetEndpoint x1000" GET "/v1/apps/$app/endpoints/spread-{i}" ""
for mode in sigv4 off; do
    if [ "$mode" = off ]; then kill "$pid"; wait "$pid" 2>/dev/null || true; start_daemon off; fi
    run GetEndpoint GET "/v1/apps/$app/endpoints/bench-1"
    run UpdateEndpoint PUT "/v1/apps/$app/endpoints/bench-1" "$body"
done
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); wrk -t2 -c$conns -d${secs}s"
