#!/bin/sh
# Static checks on our code: cppcheck and clang-tidy (.clang-tidy), both must be silent.
# Run by the suite (CTest "lint") so a new warning fails `make test`.
set -eu
cd "$(dirname "$0")/.."
build=${1:-build}
files=$(ls gateway/*.c gateway/api/*.c channels/*.c channels/*/*.c templates/*.c 2>/dev/null)
jobs=$(nproc)
out=$(cppcheck -j "$jobs" --enable=warning,style,performance --std=c11 -q --inline-suppr \
      -I gateway -I . --error-exitcode=1 $files 2>&1) || { echo "$out"; exit 1; }
[ -z "$out" ] || { echo "$out"; exit 1; }
# One clang-tidy per few files, as many at once as there are cores.
out=$(echo $files | xargs -n 4 -P "$jobs" clang-tidy -p "$build" --quiet 2>&1 |
      grep -E "(warning|error):" || true)
[ -z "$out" ] || { echo "$out"; exit 1; }
echo "lint: cppcheck and clang-tidy clean on $(echo $files | wc -w) files"
