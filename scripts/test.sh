#!/usr/bin/env bash
# Installs the build dependencies, builds everything (Release, build/) and the API reference (the docs target,
# which fails on any Doxygen warning), and runs the whole ctest suite; reruns the unit tests with the
# interpreter's other dispatch modes (build-switch/, build-musttail/ with clang); then fuzzes
# (build-fuzz/: random code for 25 s, the interpreter against the compiler for 25 s, the two with dynamic
# paging and a host mapping pages for 20 s, the assembler for 15 s, the linker and the blob parser for 20 s
# each) and runs the tests again under AddressSanitizer +
# UndefinedBehaviorSanitizer (build-asan/).
# Usage: scripts/test.sh [--no-sanitize]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

sanitize=1
case "${1:-}" in
  "") ;;
  --no-sanitize) sanitize=0 ;;
  *) echo "usage: $0 [--no-sanitize]" >&2; exit 2 ;;
esac

"$POLKAVM_ROOT/scripts/setup.sh"

configure_and_build "$POLKAVM_ROOT/build" -DCMAKE_BUILD_TYPE=Release -DPOLKAVM_SANITIZE=OFF \
  -DPOLKAVM_BUILD_TESTS=ON -DPOLKAVM_BUILD_TOOLS=ON -DPOLKAVM_BUILD_BENCH=ON
# The API reference (a few seconds): an undocumented public declaration or any other Doxygen warning fails.
cmake --build "$POLKAVM_ROOT/build" --target docs
ctest --test-dir "$POLKAVM_ROOT/build" --output-on-failure --parallel "$POLKAVM_JOBS"

# The interpreter's other dispatch modes run the unit suite again, on the interpreter (the compiler's code
# does not depend on the dispatch mode): the portable switch, and musttail (clang only). One test process
# each: per-test processes would cost more than the tests. The switch build has no compiler backend
# (POLKAVM_ENABLE_COMPILER=OFF): so the unit suite also runs where the compiler is refused, and it builds faster.
interpreter_only='-*/compiler:*/compiler_*:*_compiler'
configure_and_build "$POLKAVM_ROOT/build-switch" -DCMAKE_BUILD_TYPE=Release -DPOLKAVM_INTERPRETER_DISPATCH=switch \
  -DPOLKAVM_ENABLE_COMPILER=OFF -DPOLKAVM_BUILD_BENCH=OFF -DPOLKAVM_BUILD_GUESTS=OFF -- polkavm_tests
"$POLKAVM_ROOT/build-switch/tests/polkavm_tests" --gtest_brief=1 --gtest_filter="$interpreter_only"
POLKAVM_CXX=clang++-19 configure_and_build "$POLKAVM_ROOT/build-musttail" -DCMAKE_BUILD_TYPE=Release \
  -DPOLKAVM_INTERPRETER_DISPATCH=musttail -DPOLKAVM_BUILD_BENCH=OFF -DPOLKAVM_BUILD_GUESTS=OFF -- polkavm_tests
"$POLKAVM_ROOT/build-musttail/tests/polkavm_tests" --gtest_brief=1 --gtest_filter="$interpreter_only"

if ((sanitize)); then
  # The sanitizer builds use -O1 with line tables only: enough for symbolized reports, and about half the
  # compile time of -O2 -g.
  sanitizer_flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DPOLKAVM_SANITIZE=ON
                   "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG" "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG")

  # Short libFuzzer runs (clang, ASan + UBSan): random programs must never crash the host, and the two
  # backends must agree on them; mutated ELFs and blobs must never crash the linker or the blob parser.
  POLKAVM_CXX=clang++-19 configure_and_build "$POLKAVM_ROOT/build-fuzz" "${sanitizer_flags[@]}" \
    -DPOLKAVM_BUILD_FUZZ=ON -DPOLKAVM_BUILD_TESTS=OFF -DPOLKAVM_BUILD_TOOLS=ON -DPOLKAVM_BUILD_BENCH=OFF \
    -- run_program_fuzz differential_fuzz paging_fuzz assemble_fuzz link_fuzz blob_fuzz
  # The assembler starts from our spec sources (first byte: the instruction set; directive lines dropped).
  assemble_seeds="$POLKAVM_ROOT/build-fuzz/assemble-seeds"
  rm -rf "$assemble_seeds" && mkdir -p "$assemble_seeds"
  for source in "$POLKAVM_ROOT"/tests/spec/*.txt; do
    { printf '\000'; grep -v -E '^(pre|post|step):' "$source"; } >"$assemble_seeds/$(basename "$source" .txt)"
  done
  # The linker starts from the guest programs' ELFs (built above in build/), each behind three settings bytes
  # (see link_fuzz.cpp): opt level 0 with debug info; opt level 2; --strip, opt level 1 and no minimum stack.
  link_seeds="$POLKAVM_ROOT/build-fuzz/link-seeds"
  rm -rf "$link_seeds" && mkdir -p "$link_seeds"
  for elf in "$POLKAVM_ROOT"/build/guest/programs/*.elf; do
    [[ -f $elf ]] || continue
    for settings in 00 04 0b; do
      { printf "\\x$settings"; cat "$elf"; } >"$link_seeds/$(basename "$elf" .elf)-$settings"
    done
  done
  # The container parser starts from the same programs' blobs (with their debug sections).
  blob_seeds="$POLKAVM_ROOT/build-fuzz/blob-seeds"
  rm -rf "$blob_seeds" && mkdir -p "$blob_seeds"
  for blob in "$POLKAVM_ROOT"/build/guest/programs/*.polkavm; do
    if [[ -f $blob ]]; then cp "$blob" "$blob_seeds/"; fi
  done
  for target in run_program_fuzz:25 differential_fuzz:25 paging_fuzz:20 assemble_fuzz:15 link_fuzz:20 blob_fuzz:20; do
    name="${target%%:*}"
    fuzz_log="$POLKAVM_ROOT/build-fuzz/$name.log"
    corpus=()
    [[ $name == assemble_fuzz ]] && corpus=("$assemble_seeds")
    [[ $name == link_fuzz ]] && corpus=("$link_seeds")
    [[ $name == blob_fuzz ]] && corpus=("$blob_seeds")
    if ! "$POLKAVM_ROOT/build-fuzz/fuzz/$name" "${corpus[@]}" -max_total_time="${target##*:}" -detect_leaks=0 \
      -print_final_stats=1 -artifact_prefix="$POLKAVM_ROOT/build-fuzz/" >"$fuzz_log" 2>&1; then
      tail -n 60 "$fuzz_log"
      echo "fuzzing $name found a crash; the input is in build-fuzz/" >&2
      exit 1
    fi
    echo "$name:"
    grep -E "^(Done|stat::new_units_added)" "$fuzz_log"
  done

  # The same suite minus the benchmarks (the conformance tests need the tools' vector runner): the unit
  # tests in one process (sanitizer start-up per test would dominate), then ctest's other tests (the tools,
  # the guest programs; the unit tests' names are the ones with a dot).
  configure_and_build "$POLKAVM_ROOT/build-asan" "${sanitizer_flags[@]}" -DPOLKAVM_BUILD_TOOLS=ON \
    -DPOLKAVM_BUILD_BENCH=OFF
  export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
  export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
  "$POLKAVM_ROOT/build-asan/tests/polkavm_tests" --gtest_brief=1
  ctest --test-dir "$POLKAVM_ROOT/build-asan" --output-on-failure --parallel "$POLKAVM_JOBS" -E '[.]'

fi
