/* 32-bit integer arithmetic, linked for RV32 and RV64 and compiled natively for comparison.
 * Every export is `int32_t f(int32_t a, int32_t b)`; all are defined for every input (no C undefined behaviour). */
#include "polkavm_test_guest.h"

#define BINARY(name, expr)                        \
  int32_t name(int32_t a, int32_t b) {            \
    uint32_t ua = (uint32_t)a, ub = (uint32_t)b;  \
    (void)ua;                                     \
    (void)ub;                                     \
    return (int32_t)(expr);                       \
  }                                               \
  TEST_EXPORT(name, 2, 1);

BINARY(alu_add, ua + ub)
BINARY(alu_sub, ua - ub)
BINARY(alu_mul, ua * ub)
BINARY(alu_mulh, (uint32_t)(((int64_t)a * (int64_t)b) >> 32))
BINARY(alu_mulhu, (uint32_t)(((uint64_t)ua * (uint64_t)ub) >> 32))
BINARY(alu_mulhsu, (uint32_t)(((int64_t)a * (int64_t)(uint64_t)ub) >> 32))
BINARY(alu_div, b == 0 ? -1 : (a == INT32_MIN && b == -1) ? a : a / b)
BINARY(alu_divu, ub == 0 ? 0xFFFFFFFFu : ua / ub)
BINARY(alu_rem, b == 0 ? a : (a == INT32_MIN && b == -1) ? 0 : a % b)
BINARY(alu_remu, ub == 0 ? ua : ua % ub)
BINARY(alu_and, ua & ub)
BINARY(alu_or, ua | ub)
BINARY(alu_xor, ua ^ ub)
BINARY(alu_andn, ua & ~ub)
BINARY(alu_shl, ua << (ub & 31))
BINARY(alu_shr, ua >> (ub & 31))
BINARY(alu_sar, a < 0 ? ~(~ua >> (ub & 31)) : ua >> (ub & 31))
BINARY(alu_shl_const, (ua << 7) ^ (ua << 31) ^ (ub >> 3))
BINARY(alu_sar_const, (a < 0 ? ~(~ua >> 5) : ua >> 5) + (b < 0 ? ~(~ub >> 31) : ub >> 31))
BINARY(alu_rotl, (ua << (ub & 31)) | (ua >> ((32 - (ub & 31)) & 31)))
BINARY(alu_rotr, (ua >> (ub & 31)) | (ua << ((32 - (ub & 31)) & 31)))
BINARY(alu_slt, a < b)
BINARY(alu_sltu, ua < ub)
BINARY(alu_sge_imm, (a >= -5) + 2 * (ua >= 1000u) + 4 * (a == 0) + 8 * (b != 0))
BINARY(alu_min, a < b ? a : b)
BINARY(alu_max, a > b ? a : b)
BINARY(alu_minu, ua < ub ? ua : ub)
BINARY(alu_maxu, ua > ub ? ua : ub)
BINARY(alu_abs_diff, a > b ? ua - ub : ub - ua)
BINARY(alu_select, a == 17 ? ub * 3 : ua + 0x12345)
BINARY(alu_constants, ua * 0x9E3779B9u + 0x7FFFFFFFu - (ub | 0x80000000u))
BINARY(alu_negate, -ua + (~ub))
BINARY(alu_sext8, (int32_t)(int8_t)ua + (int32_t)(int16_t)ub)
BINARY(alu_zext, (ua & 0xFF) + (ub & 0xFFFF))
BINARY(alu_bswap, ((ua & 0xFF) << 24) | ((ua & 0xFF00) << 8) | ((ua >> 8) & 0xFF00) | (ua >> 24))
BINARY(alu_popcount, __builtin_popcount(ua) + __builtin_popcount(ub) * 64)
BINARY(alu_clz, (ua ? __builtin_clz(ua) : 32) + (ub ? __builtin_ctz(ub) : 32) * 64)
BINARY(alu_div_const, a / 7 + ua / 13 + a % 10 + ua % 1000)
