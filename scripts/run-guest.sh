#!/usr/bin/env bash
# Installs the build dependencies, builds polkatool and the sample guests (build/), writes the guests to
# build/guests/*.polkavm and runs one with `polkatool run`.
# Usage: scripts/run-guest.sh [GUEST [ARG]]   (default: prime-sieve 1000000; guests: see build/guests/)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

guest="${1:-prime-sieve}"
arg="${2:-1000000}"
build="$POLKAVM_ROOT/build"

"$POLKAVM_ROOT/scripts/setup.sh"
configure_and_build "$build" -DCMAKE_BUILD_TYPE=Release -- polkatool make-sample-guests

"$build/guest/make-sample-guests" "$build/guests"
blob="$build/guests/$guest.polkavm"
[[ -f "$blob" ]] || { echo "error: no sample guest named '$guest'" >&2; exit 2; }
echo "+ polkatool run $blob --call main --args $arg"
"$build/tools/polkatool/polkatool" run "$blob" --call main --args "$arg"
