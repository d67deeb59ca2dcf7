#!/usr/bin/env bash
# Installs the build dependencies, builds polkatool and a C guest program (build/: clang-19 for RISC-V, then
# `polkatool link`), and runs it on the VM with `polkatool run`.
# Usage: scripts/run-guest.sh [GUEST [ARG]]
#   GUEST: a program in guest/programs/ (default: hello, which calls the host function get_value, answered
#          with 42 here); ARG: the argument of its `run` export (default: 7 for hello, 0 = the benchmark-sized
#          workload for the others). Extra `polkatool run` options go in POLKAVM_RUN_OPTIONS.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

guest="${1:-hello}"
build="$POLKAVM_ROOT/build"
[[ -d "$POLKAVM_ROOT/guest/programs/$guest" ]] || {
  echo "error: no guest program named '$guest' (see guest/programs/)" >&2
  exit 2
}
if [[ $guest == hello ]]; then
  arg="${2:-7}"
  options=(--stub get_value=42)
else
  arg="${2:-0}"
  options=()
fi
# shellcheck disable=SC2206  # word splitting is the point
options+=(${POLKAVM_RUN_OPTIONS:-})

"$POLKAVM_ROOT/scripts/setup.sh"
configure_and_build "$build" -DCMAKE_BUILD_TYPE=Release -- polkatool "guest-$guest"

blob="$build/guest/programs/$guest.polkavm"
echo "+ polkatool run $blob --call run --args $arg ${options[*]}"
"$build/tools/polkatool/polkatool" run "$blob" --call run --args "$arg" "${options[@]}"
