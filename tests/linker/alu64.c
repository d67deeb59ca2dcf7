/* 64-bit integer arithmetic (RV64 only: RV32 would need a runtime for 64-bit division), linked and compiled
 * natively for comparison. Every export is `int64_t f(int64_t a, int64_t b)`; all are defined for every input. */
#include "polkavm_test_guest.h"

#define BINARY64(name, expr)                      \
  int64_t name(int64_t a, int64_t b) {            \
    uint64_t ua = (uint64_t)a, ub = (uint64_t)b;  \
    (void)ua;                                     \
    (void)ub;                                     \
    return (int64_t)(expr);                       \
  }                                               \
  TEST_EXPORT(name, 2, 1);

BINARY64(alu64_add, ua + ub)
BINARY64(alu64_sub, ua - ub)
BINARY64(alu64_mul, ua * ub)
BINARY64(alu64_mulh, (uint64_t)(((__int128)a * (__int128)b) >> 64))
BINARY64(alu64_mulhu, (uint64_t)(((unsigned __int128)ua * (unsigned __int128)ub) >> 64))
BINARY64(alu64_mulhsu, (uint64_t)(((__int128)a * (__int128)(unsigned __int128)ub) >> 64))
BINARY64(alu64_div, b == 0 ? -1 : (a == INT64_MIN && b == -1) ? a : a / b)
BINARY64(alu64_divu, ub == 0 ? ~(uint64_t)0 : ua / ub)
BINARY64(alu64_rem, b == 0 ? a : (a == INT64_MIN && b == -1) ? 0 : a % b)
BINARY64(alu64_remu, ub == 0 ? ua : ua % ub)
BINARY64(alu64_shl, ua << (ub & 63))
BINARY64(alu64_shr, ua >> (ub & 63))
BINARY64(alu64_sar, a < 0 ? ~(~ua >> (ub & 63)) : ua >> (ub & 63))
BINARY64(alu64_rotl, (ua << (ub & 63)) | (ua >> ((64 - (ub & 63)) & 63)))
BINARY64(alu64_rotr, (ua >> (ub & 63)) | (ua << ((64 - (ub & 63)) & 63)))
BINARY64(alu64_slt, a < b)
BINARY64(alu64_sltu, ua < ub)
BINARY64(alu64_bits, (ua & ~ub) ^ (ua | 0x8000000000000001ull) ^ (ub >> 40))
BINARY64(alu64_constants, ua * 0x9E3779B97F4A7C15ull + 0x123456789ABCDEFull - (ub ^ 0xFFFF0000FFFF0000ull))
BINARY64(alu64_minmax, (uint64_t)(a < b ? a : b) * 3 + (ua > ub ? ua : ub))
BINARY64(alu64_clz, (ua ? __builtin_clzll(ua) : 64) + (ub ? __builtin_ctzll(ub) : 64) * 128 +
                        __builtin_popcountll(ua ^ ub) * 65536)
BINARY64(alu64_bswap, __builtin_bswap64(ua) + (ub >> 1))
/* The W forms: 32-bit arithmetic on 64-bit registers, sign-extended. */
BINARY64(alu64_word_ops, (int64_t)(int32_t)((uint32_t)a + (uint32_t)b) + (int64_t)(int32_t)((uint32_t)a * (uint32_t)b) +
                             (int64_t)(int32_t)((uint32_t)a << (b & 31)) + (int64_t)(int32_t)((uint32_t)a >> (b & 31)) +
                             (int64_t)(int32_t)(((int32_t)a < 0) ? ~(~(uint32_t)a >> (b & 31)) : (uint32_t)a >> (b & 31)))
BINARY64(alu64_word_div, (int64_t)((int32_t)b == 0 ? -1 : ((int32_t)a == INT32_MIN && (int32_t)b == -1) ? (int32_t)a
                                                                                                    : (int32_t)a / (int32_t)b) +
                             (int64_t)(int32_t)((uint32_t)b == 0 ? (uint32_t)a : (uint32_t)a % (uint32_t)b))
BINARY64(alu64_unsigned_word, (uint64_t)(uint32_t)a + ((uint64_t)(uint32_t)b << 3))
BINARY64(alu64_loads, a == 0 ? 0 : (int64_t)(int8_t)ua + (int64_t)(uint8_t)ub + (int64_t)(int16_t)(ua >> 16) +
                                       (int64_t)(uint16_t)(ub >> 8) + (int64_t)(int32_t)(ua >> 32) +
                                       (int64_t)(uint32_t)(ub >> 7))
