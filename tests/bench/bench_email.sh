#!/bin/bash
# EMAIL throughput: about 5 KB text + HTML emails per second relayed to postfix's smtp-sink on
# loopback with 1, 4 and 16 SMTP connections, Repoint (SendMessages through the API, queue,
# worker and libESMTP sender threads: tests/bench/bench_email.py) side by side with nodemailer's
# pooled SMTP transport (tests/bench/nodemailer_bench.js) against the same sink, same message.
# Not a test: prints a Markdown table. Installs postfix (for smtp-sink) with apt-get when missing
# and stops the postfix service that comes with it (not for CI).
# usage: tests/bench/bench_email.sh [messages per run]   (after `make`)
#   env: BENCH_CONNS ("1 4 16"), REPOINT_BIN (build/repoint)
set -euo pipefail
cd "$(dirname "$0")/../.."
count=${1:-5000}
conns_list=${BENCH_CONNS:-1 4 16}
export REPOINT_BIN=${REPOINT_BIN:-$PWD/build/repoint}
export RP_BUILD_DIR=${RP_BUILD_DIR:-$PWD/build} RP_SOURCE_DIR=$PWD
[ -x "$REPOINT_BIN" ] || { echo "bench_email: build first (make)" >&2; exit 1; }
sink=$(command -v smtp-sink || true)
[ -n "$sink" ] || [ ! -x /usr/sbin/smtp-sink ] || sink=/usr/sbin/smtp-sink
if [ -z "$sink" ]; then
    echo "bench_email: installing postfix for smtp-sink" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postfix >&2
    service postfix stop >/dev/null 2>&1 || true
    sink=/usr/sbin/smtp-sink
fi

tmp=$(mktemp -d)
sink_pid=""
cleanup() {
    [ -z "$sink_pid" ] || kill "$sink_pid" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

python3 - "$tmp/message.json" <<'PY'
import json, sys
para = ("Thank you for your order. Your parcel is on its way and should arrive within three "
        "working days. You can follow it from your account page at any time. ")
text = "Hello Ann,\n\n" + (para + "\n") * 14 + "\nThe Example Shop team\n"
html = ("<html><body><h1>Your order</h1>" + ("<p>" + para + "</p>") * 18 +
        "<p>The <b>Example Shop</b> team</p></body></html>")
json.dump({"from": "shop@example.com", "subject": "Your order is on its way", "text": text,
           "html": html}, open(sys.argv[1], "w"))
print(f"message: text {len(text)} + html {len(html)} bytes", file=sys.stderr)
PY

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# -u nobody: smtp-sink drops root after binding; backlog 1024.
"$sink" -u nobody "127.0.0.1:$port" 1024 &
sink_pid=$!
sleep 0.5

echo "| connections | Repoint emails/s | nodemailer emails/s | ratio |"
echo "|---|---|---|---|"
for c in $conns_list; do
    read -r n_rp s_rp ok_rp < <(python3 tests/bench/bench_email.py "$port" "$c" "$count" "$tmp/message.json")
    [ "$ok_rp" = "$n_rp" ] || echo "bench_email: Repoint delivered $ok_rp of $n_rp" >&2
    read -r n_nm s_nm < <(node tests/bench/nodemailer_bench.js "$port" "$c" "$count" "$tmp/message.json")
    python3 -c "
rp, nm = $n_rp / $s_rp, $n_nm / $s_nm
print(f'| $c | {rp:,.0f} | {nm:,.0f} | {rp / nm:.1f}x |')"
done
