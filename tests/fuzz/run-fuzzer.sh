#!/bin/sh
# Runs one libFuzzer target for a bounded time over its checked-in seeds plus a scratch corpus.
# usage: run-fuzzer.sh TARGET SEED_DIR CORPUS_DIR SECONDS
set -eu
target=$1 seeds=$2 corpus=$3 seconds=$4
mkdir -p "$corpus"
if [ -d "$seeds" ]; then
    exec "$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        "$corpus" "$seeds"
fi
exec "$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 "$corpus"
