# Shared by the scripts in this folder (sourced, not run).
# POLKAVM_CXX picks the C++ compiler (default: the one README.md explains); POLKAVM_JOBS the build parallelism.

POLKAVM_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
POLKAVM_CXX="${POLKAVM_CXX:-g++}"
POLKAVM_JOBS="${POLKAVM_JOBS:-$(nproc)}"

# configure_and_build BUILD_DIR [CMAKE_ARG...] [-- TARGET...]: configures with Ninja and builds the targets
# (everything when none are given).
configure_and_build() {
  local build_dir="$1"
  shift
  local cmake_args=() targets=()
  while (($#)) && [[ "$1" != "--" ]]; do
    cmake_args+=("$1")
    shift
  done
  (($#)) && shift
  targets=("$@")
  cmake -S "$POLKAVM_ROOT" -B "$build_dir" -G Ninja -DCMAKE_CXX_COMPILER="$POLKAVM_CXX" "${cmake_args[@]}"
  cmake --build "$build_dir" --parallel "$POLKAVM_JOBS" ${targets[@]+--target "${targets[@]}"}
}
