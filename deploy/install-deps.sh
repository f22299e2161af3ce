#!/bin/sh
# Installs the Debian 12 packages Repoint builds and runs with. Idempotent and non-interactive:
# packages already present are left alone. Needs root (or sudo).
#   deploy/install-deps.sh           build and runtime dependencies
#   deploy/install-deps.sh --test    also what the test suite needs (redis-server, jq, clang ...)
set -eu

BUILD_PKGS="build-essential cmake pkg-config libmicrohttpd-dev libjansson-dev libhiredis-dev
libssl-dev libcurl4-openssl-dev libnghttp2-dev libesmtp-dev libevent-dev zlib1g-dev
libcmocka-dev libcsv-dev redis-server"
TEST_PKGS="jq clang libclang-rt-14-dev clang-tidy cppcheck wrk curl python3 openssl"

pkgs=$BUILD_PKGS
[ "${1:-}" = "--test" ] && pkgs="$pkgs $TEST_PKGS"

missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

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
