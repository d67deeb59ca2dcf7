/* Zbb: every bit-manipulation instruction the linker lowers, reached from plain C where clang emits it
 * (built with -march=rv64emac_zbb / rv32emac_zbb) and through clang's builtins for orc.b. 32-bit
 * operations on RV64 become the W forms (clzw, ctzw, cpopw, rolw, rorw, roriw). */
#include "suite_guest.h"

static uint32_t zbb_orc32(uint32_t x) {
#if defined(__riscv)
  return (uint32_t)__builtin_riscv_orc_b_32(x);
#else
  uint32_t r = 0;
  for (int i = 0; i < 32; i += 8) r |= ((x >> i) & 0xFF) ? 0xFFu << i : 0;
  return r;
#endif
}

static uint64_t zbb_orc64(uint64_t x) {
#if defined(__riscv) && __riscv_xlen == 64
  return __builtin_riscv_orc_b_64(x);
#else
  return (uint64_t)zbb_orc32((uint32_t)(x >> 32)) << 32 | zbb_orc32((uint32_t)x);
#endif
}

#define ZBB_OPS 36

__attribute__((noinline)) uint64_t zbb_run(uint32_t op, uint64_t a, uint64_t b) {
  const uint32_t a32 = (uint32_t)a, b32 = (uint32_t)b;
  const int32_t s32 = (int32_t)a32, t32 = (int32_t)b32;
  const int64_t s64 = (int64_t)a, t64 = (int64_t)b;
  switch (op) {
    case 0: return a32 ? (uint64_t)__builtin_clz(a32) : 32;
    case 1: return a32 ? (uint64_t)__builtin_ctz(a32) : 32;
    case 2: return (uint64_t)__builtin_popcount(a32);
    case 3: return a ? (uint64_t)__builtin_clzll(a) : 64;
    case 4: return a ? (uint64_t)__builtin_ctzll(a) : 64;
    case 5: return (uint64_t)__builtin_popcountll(a);
    case 6: return SUITE_I32(s32 < t32 ? s32 : t32);
    case 7: return SUITE_I32(s32 > t32 ? s32 : t32);
    case 8: return SUITE_I32(a32 < b32 ? a32 : b32);
    case 9: return SUITE_I32(a32 > b32 ? a32 : b32);
    case 10: return (uint64_t)(s64 < t64 ? s64 : t64);
    case 11: return (uint64_t)(s64 > t64 ? s64 : t64);
    case 12: return a < b ? a : b;
    case 13: return a > b ? a : b;
    case 14: return SUITE_I32((a32 << (b32 & 31)) | (a32 >> (-b32 & 31)));
    case 15: return SUITE_I32((a32 >> (b32 & 31)) | (a32 << (-b32 & 31)));
    case 16: return (a << (b & 63)) | (a >> (-b & 63));
    case 17: return (a >> (b & 63)) | (a << (-b & 63));
    case 18: return SUITE_I32((a32 >> 7) | (a32 << 25));
    case 19: return (a >> 13) | (a << 51);
    case 20: return SUITE_I32((a32 << 5) | (a32 >> 27));
    case 21: return a & ~b;
    case 22: return a | ~b;
    case 23: return ~(a ^ b);
    case 24: return SUITE_I32(a32 & ~b32);
    case 25: return SUITE_I32(~(a32 ^ b32));
    case 26: return (uint64_t)(int64_t)(int8_t)a;
    case 27: return (uint64_t)(int64_t)(int16_t)a;
    case 28: return (uint16_t)a;
    case 29: return SUITE_I32(__builtin_bswap32(a32));
    case 30: return __builtin_bswap64(a);
    case 31: return SUITE_I32(zbb_orc32(a32));
    case 32: return zbb_orc64(a);
    /* Combinations: a leading-zero count feeding a shift, a population count of a difference. */
    case 33: return a32 ? SUITE_I32(a32 << __builtin_clz(a32)) : 0;
    case 34: return (uint64_t)__builtin_popcountll(a ^ b) + (uint64_t)__builtin_popcount(a32 & ~b32);
    case 35: return (uint64_t)(int64_t)(int8_t)(a >> 8) + (uint64_t)(uint16_t)(b >> 16) * 3;
    default: return 0xDEAD;
  }
}
SUITE_EXPORT(zbb_run)
