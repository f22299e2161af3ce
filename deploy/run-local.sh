#!/bin/bash
# `make run`: installs what is missing, builds, starts a local redis-server (data in var/redis,
# AOF on, loopback only) unless REPOINT_REDIS_URL is set, creates an access key pair and the
# secrets key on first run, starts `repoint serve` on 127.0.0.1:8080 and prints how to call it.
# Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."

deploy/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target repoint >/dev/null

CONFIG=${REPOINT_CONFIG:-config/repoint.conf}
VAR=${REPOINT_VAR_DIR:-var}
mkdir -p "$VAR"
chmod 700 "$VAR"
build/repoint init --config "$CONFIG"

redis_pid=""
repoint_pid=""
stop() {
    trap - INT TERM EXIT
    if [ -n "$repoint_pid" ]; then kill -TERM "$repoint_pid" 2>/dev/null || true; wait "$repoint_pid" 2>/dev/null || true; fi
    if [ -n "$redis_pid" ]; then
        redis-cli -p "$REDIS_PORT" shutdown >/dev/null 2>&1 || kill -TERM "$redis_pid" 2>/dev/null || true
        wait "$redis_pid" 2>/dev/null || true
    fi
    echo "repoint and redis stopped."
}
trap stop INT TERM EXIT

if [ -z "${REPOINT_REDIS_URL:-}" ]; then
    REDIS_PORT=${REPOINT_LOCAL_REDIS_PORT:-6390}
    if redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
        echo "make run: something already answers on 127.0.0.1:$REDIS_PORT; stop it or set REPOINT_LOCAL_REDIS_PORT" >&2
        exit 1
    fi
    mkdir -p "$VAR/redis"
    redis_dir=$(cd "$VAR/redis" && pwd)
    redis-server deploy/redis.conf --port "$REDIS_PORT" --dir "$redis_dir" \
        --daemonize no --logfile "$redis_dir/redis.log" &
    redis_pid=$!
    for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
    export REPOINT_REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
fi

build/repoint serve --config "$CONFIG" &
repoint_pid=$!
listen=$(REPOINT_LOG_LEVEL=error build/repoint check-config --config "$CONFIG" | awk '$1=="listen"{print $2}')
for _ in $(seq 50); do curl -fs "http://$listen/repoint/health" >/dev/null 2>&1 && break; sleep 0.1; done
creds_file=$(build/repoint check-config --config "$CONFIG" | awk '$1=="auth.credentials_file"{print $2}')
read -r akid secret _ < <(grep -v '^#' "$creds_file" | grep -m1 .)

cat <<MSG

Repoint is running on http://$listen (Redis: $REPOINT_REDIS_URL). Call it with the AWS CLI:

export AWS_ACCESS_KEY_ID=$akid AWS_SECRET_ACCESS_KEY=$secret AWS_DEFAULT_REGION=us-east-1
aws pinpoint create-app --endpoint-url http://$listen --create-application-request Name=my-first-app

Press Ctrl-C to stop Repoint and Redis.
MSG
wait "$repoint_pid"
