#!/bin/sh
# Installs the Debian 12 packages Repoint builds and runs with. Idempotent and non-interactive:
# packages already present are left alone. Needs root (or sudo).
#   deploy/install-deps.sh           build and runtime dependencies
#   deploy/install-deps.sh --test    also what the test suite needs (redis-server, jq, clang ...)
set -eu

BUILD_PKGS="build-essential cmake pkg-config libmicrohttpd-dev libjansson-dev libhiredis-dev
libssl-dev libcurl4-openssl-dev libnghttp2-dev libesmtp-dev libevent-dev zlib1g-dev
libcmocka-dev libcsv-dev libjemalloc-dev libyajl-dev redis-server"
TEST_PKGS="jq clang libclang-rt-14-dev clang-tidy cppcheck wrk curl python3 openssl nghttp2-client
python3-aiosmtpd systemd"

pkgs=$BUILD_PKGS
if [ "${1:-}" = "--test" ]; then
    pkgs="$pkgs $TEST_PKGS"
    # Test peers from npm (tests/peers/package.json) need node; a machine may have its own.
    command -v npm >/dev/null 2>&1 || pkgs="$pkgs nodejs npm"
fi

missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done

install_peers() {
    [ "${1:-}" = "--test" ] || return 0
    peers="$(dirname "$0")/../tests/peers"
    [ -d "$peers/node_modules" ] && [ "$peers/node_modules" -nt "$peers/package.json" ] && return 0
    echo "install-deps: npm install in tests/peers" >&2
    npm install --prefix "$peers" --no-audit --no-fund --loglevel=error >/dev/null
    touch "$peers/node_modules"
}

if [ -z "$missing" ]; then
    install_peers "${1:-}"
    exit 0
fi

SUDO=""
if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { echo "install-deps: need root to install:$missing" >&2; exit 1; }
    SUDO=sudo
fi
echo "install-deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
install_peers "${1:-}"
