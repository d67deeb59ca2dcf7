#!/usr/bin/env bash
# Installs the Debian 12 packages needed to build, test and benchmark polkavm-cpp.
# Idempotent: runs apt-get only when a package is missing. Needs root (or sudo when not root).
set -euo pipefail

PACKAGES=(
  cmake ninja-build pkg-config g++ clang-19 lld-19 libclang-rt-19-dev
  libfmt-dev libgtest-dev libgmock-dev libbenchmark-dev libcli11-dev nlohmann-json3-dev
  libasmjit-dev libseccomp-dev libelf-dev libdw-dev
  libssl-dev  # SHA-256 (libcrypto) for the module cache
  libpng-dev  # polkavm-doom --frame-png
  freedoom  # the Doom ROM of bench/doom_bench and polkavm-doom (/usr/share/games/doom/freedoom1.wad)
  doxygen  # the docs target: the API reference of include/polkavm/ (cmake/PolkaVMDocs.cmake)
)

is_installed() {
  [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == "install ok installed" ]]
}

missing=()
for package in "${PACKAGES[@]}"; do
  is_installed "$package" || missing+=("$package")
done

if ((${#missing[@]} == 0)); then
  echo "setup: all ${#PACKAGES[@]} packages are installed"
  exit 0
fi

as_root=()
if ((EUID != 0)); then
  as_root=(sudo)
fi

echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -q
"${as_root[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
