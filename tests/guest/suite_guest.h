/* The guest suite's programs (tests/guest_suite_test.cpp) each export one entry point,
 *   uint64_t <name>_run(uint32_t op, uint64_t a, uint64_t b),
 * that runs operation `op` on `a` and `b`. The same file is compiled natively into the test, where the
 * export macro expands to nothing, and the native result is the expected one. */
#ifndef POLKAVM_SUITE_GUEST_H
#define POLKAVM_SUITE_GUEST_H

#include "../linker/polkavm_test_guest.h"

/* op, a, b: 3 registers on RV64; 5 on RV32 (a 64-bit value takes a register pair), and 2 for the result. */
#if defined(__riscv) && __riscv_xlen == 32
#define SUITE_EXPORT(fn) TEST_EXPORT(fn, 5, 2);
#else
#define SUITE_EXPORT(fn) TEST_EXPORT(fn, 3, 1);
#endif

/* A 32-bit result, sign-extended to 64 bits the same way on every target. */
#define SUITE_I32(x) ((uint64_t)(int64_t)(int32_t)(uint32_t)(x))

#endif
