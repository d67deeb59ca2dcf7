/* The M extension at its edges: division by zero, INT_MIN / -1, and the high halves of every product, on
 * the instructions themselves (inline assembly, so the compiler cannot branch around the edge cases).
 * Natively, C computes what RISC-V defines. Operations 0-11 are 32-bit (both architectures); 12-19 are
 * 64-bit (RV64 only: RV32's M extension divides 32-bit values). */
#include "suite_guest.h"

#define MEXT_OPS32 12
#define MEXT_OPS 20

#if defined(__riscv)
/* One R-type instruction on full registers. */
#define MEXT_RV(insn, x, y)                                                   \
  ({                                                                          \
    unsigned long r_;                                                         \
    __asm__(insn " %0, %1, %2" : "=r"(r_) : "r"((unsigned long)(x)), "r"((unsigned long)(y))); \
    r_;                                                                       \
  })
#endif

static uint64_t mext_op32(uint32_t op, int32_t a, int32_t b) {
  const uint32_t ua = (uint32_t)a, ub = (uint32_t)b;
#if defined(__riscv) && __riscv_xlen == 32
  switch (op) {
    case 0: return SUITE_I32(MEXT_RV("mul", a, b));
    case 1: return SUITE_I32(MEXT_RV("mulh", a, b));
    case 2: return SUITE_I32(MEXT_RV("mulhu", a, b));
    case 3: return SUITE_I32(MEXT_RV("mulhsu", a, b));
    case 4: return SUITE_I32(MEXT_RV("div", a, b));
    case 5: return SUITE_I32(MEXT_RV("divu", a, b));
    case 6: return SUITE_I32(MEXT_RV("rem", a, b));
    case 7: return SUITE_I32(MEXT_RV("remu", a, b));
  }
#elif defined(__riscv)
  /* RV64: the W forms take the low 32 bits and sign-extend the result. RV64 has no 32-bit mulh; the
   * compiler's 64-bit multiply and shift do it. */
  switch (op) {
    case 0: return MEXT_RV("mulw", a, b);
    case 1: return SUITE_I32(((int64_t)a * b) >> 32);
    case 2: return SUITE_I32(((uint64_t)ua * ub) >> 32);
    case 3: return SUITE_I32(((int64_t)a * (int64_t)(uint64_t)ub) >> 32);
    case 4: return MEXT_RV("divw", a, b);
    case 5: return MEXT_RV("divuw", a, b);
    case 6: return MEXT_RV("remw", a, b);
    case 7: return MEXT_RV("remuw", a, b);
  }
#else
  switch (op) {
    case 0: return SUITE_I32(ua * ub);
    case 1: return SUITE_I32(((int64_t)a * b) >> 32);
    case 2: return SUITE_I32(((uint64_t)ua * ub) >> 32);
    case 3: return SUITE_I32(((int64_t)a * (int64_t)(uint64_t)ub) >> 32);
    case 4: return SUITE_I32(b == 0 ? -1 : (a == INT32_MIN && b == -1) ? a : a / b);
    case 5: return SUITE_I32(ub == 0 ? 0xFFFFFFFFu : ua / ub);
    case 6: return SUITE_I32(b == 0 ? a : (a == INT32_MIN && b == -1) ? 0 : a % b);
    case 7: return SUITE_I32(ub == 0 ? ua : ua % ub);
  }
#endif
  /* Compiled C with constant divisors and a multiply-accumulate (magic-number division, mulh). */
  switch (op) {
    case 8: return SUITE_I32(a / 7 + a % 7);
    case 9: return SUITE_I32(ua / 10 + ua % 1000);
    case 10: return SUITE_I32(ua * 0x9E3779B9u + ub * 31u);
    case 11: return SUITE_I32(a / -3 - (a % 16));
  }
  return 0xDEAD;
}

#if !defined(__riscv) || __riscv_xlen == 64
static uint64_t mext_op64(uint32_t op, int64_t a, int64_t b) {
#if defined(__riscv)
  switch (op) {
    case 12: return MEXT_RV("mul", a, b);
    case 13: return MEXT_RV("mulh", a, b);
    case 14: return MEXT_RV("mulhu", a, b);
    case 15: return MEXT_RV("mulhsu", a, b);
    case 16: return MEXT_RV("div", a, b);
    case 17: return MEXT_RV("divu", a, b);
    case 18: return MEXT_RV("rem", a, b);
    case 19: return MEXT_RV("remu", a, b);
  }
#else
  const uint64_t ua = (uint64_t)a, ub = (uint64_t)b;
  switch (op) {
    case 12: return ua * ub;
    case 13: return (uint64_t)(((__int128)a * b) >> 64);
    case 14: return (uint64_t)(((unsigned __int128)ua * ub) >> 64);
    case 15: return (uint64_t)(((__int128)a * (__int128)(unsigned __int128)ub) >> 64);
    case 16: return (uint64_t)(b == 0 ? -1 : (a == INT64_MIN && b == -1) ? a : a / b);
    case 17: return ub == 0 ? ~(uint64_t)0 : ua / ub;
    case 18: return (uint64_t)(b == 0 ? a : (a == INT64_MIN && b == -1) ? 0 : a % b);
    case 19: return ub == 0 ? ua : ua % ub;
  }
#endif
  return 0xDEAD;
}
#endif

uint64_t mext_run(uint32_t op, uint64_t a, uint64_t b) {
  if (op < MEXT_OPS32) return mext_op32(op, (int32_t)a, (int32_t)b);
#if !defined(__riscv) || __riscv_xlen == 64
  return mext_op64(op, (int64_t)a, (int64_t)b);
#else
  return 0xDEAD;
#endif
}
SUITE_EXPORT(mext_run)
