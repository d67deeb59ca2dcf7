/* Atomics beyond tests/linker/atomics.c: 8- and 16-bit operations (masked LR/SC loops on a 32-bit word),
 * AMOs whose result is unused (rd = zero), compare-and-swap loops written in C, and every 32-bit AMO on
 * RV64. Operations 0-17 run on both architectures, 18-27 (64-bit LR/SC and AMOs) on RV64 only. */
#include "suite_guest.h"

#if defined(__clang__)
#define AX_MAX(p, v) __atomic_fetch_max(p, v, __ATOMIC_SEQ_CST)
#define AX_MIN(p, v) __atomic_fetch_min(p, v, __ATOMIC_SEQ_CST)
#else
#define AX_MAX(p, v) ({ __typeof__(*(p)) old_ = *(p), v_ = (v); *(p) = old_ > v_ ? old_ : v_; old_; })
#define AX_MIN(p, v) ({ __typeof__(*(p)) old_ = *(p), v_ = (v); *(p) = old_ < v_ ? old_ : v_; old_; })
#endif

#define AX_OPS32 18
#define AX_OPS 28

static uint8_t ax_bytes[4] = {1, 2, 3, 4};
static int16_t ax_halves[2] = {-5, 300};
static uint32_t ax_word = 0x12345678;
static int32_t ax_sword = -77;
#if !defined(__riscv) || __riscv_xlen == 64
static uint64_t ax_dword = 0x0123456789ABCDEFull;
#endif

/* A read-modify-write through compare-and-swap, as lock-free code writes it. */
__attribute__((noinline)) static uint32_t ax_cas_update(uint32_t* p, uint32_t x) {
  uint32_t old = __atomic_load_n(p, __ATOMIC_RELAXED);
  while (!__atomic_compare_exchange_n(p, &old, old * 3 + x, 1, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
  }
  return old;
}

uint64_t atomics_ext_run(uint32_t op, uint64_t a, uint64_t b) {
  /* Every call starts from the same state, so results do not depend on earlier calls. */
  for (int k = 0; k < 4; ++k) ax_bytes[k] = (uint8_t)(k * 0x55 + 1);
  ax_halves[0] = -5;
  ax_halves[1] = 300;
  ax_word = 0x12345678;
  ax_sword = -77;
#if !defined(__riscv) || __riscv_xlen == 64
  ax_dword = 0x0123456789ABCDEFull;
#endif
  const uint32_t i = (uint32_t)b & 3;
  uint64_t r;
  switch (op) {
    case 0: r = __atomic_fetch_add(&ax_bytes[i], (uint8_t)a, __ATOMIC_SEQ_CST); break;
    case 1: r = __atomic_fetch_and(&ax_bytes[i], (uint8_t)a, __ATOMIC_SEQ_CST); break;
    case 2: r = __atomic_fetch_or(&ax_bytes[i], (uint8_t)a, __ATOMIC_SEQ_CST); break;
    case 3: r = __atomic_exchange_n(&ax_bytes[i], (uint8_t)a, __ATOMIC_SEQ_CST); break;
    case 4: {
      uint8_t expected = (uint8_t)(a >> 8);
      r = __atomic_compare_exchange_n(&ax_bytes[i], &expected, (uint8_t)a, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
      r = r << 8 | expected;
      break;
    }
    case 5: r = (uint64_t)(int64_t)__atomic_fetch_sub(&ax_halves[i & 1], (int16_t)a, __ATOMIC_SEQ_CST); break;
    case 6: r = (uint64_t)(int64_t)AX_MAX(&ax_halves[i & 1], (int16_t)a); break;
    case 7: r = (uint64_t)(int64_t)AX_MIN(&ax_halves[i & 1], (int16_t)a); break;
    case 8: r = (uint64_t)(int64_t)__atomic_fetch_xor(&ax_halves[i & 1], (int16_t)a, __ATOMIC_RELAXED); break;
    case 9: r = AX_MAX(&ax_bytes[i], (uint8_t)a); break;
    case 10: r = AX_MIN(&ax_bytes[i], (uint8_t)a); break;
    /* Results unused: the AMOs write to zero. */
    case 11:
      __atomic_fetch_add(&ax_word, (uint32_t)a, __ATOMIC_RELAXED);
      __atomic_fetch_or(&ax_word, (uint32_t)b << 4, __ATOMIC_RELAXED);
      __atomic_fetch_xor(&ax_sword, (int32_t)a, __ATOMIC_RELAXED);
      __atomic_fetch_and(&ax_sword, (int32_t)(b | 0xFF), __ATOMIC_RELAXED);
      r = ax_word;
      break;
    case 12: r = ax_cas_update(&ax_word, (uint32_t)a); break;
    case 13: r = SUITE_I32(AX_MAX(&ax_sword, (int32_t)a)); break;
    case 14: r = SUITE_I32(AX_MIN(&ax_sword, (int32_t)a)); break;
    case 15: r = SUITE_I32(AX_MAX(&ax_word, (uint32_t)a)); break;
    case 16: r = SUITE_I32(AX_MIN(&ax_word, (uint32_t)a)); break;
    case 17: r = SUITE_I32(__atomic_exchange_n(&ax_sword, (int32_t)b, __ATOMIC_ACQUIRE)); break;
#if !defined(__riscv) || __riscv_xlen == 64
    case 18: {
      uint64_t expected = ax_dword;
      r = __atomic_compare_exchange_n(&ax_dword, &expected, a * 5 + b, 1, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
      r = r * 1000 + (expected & 0xFFFF);
      break;
    }
    case 19: {
      uint64_t old = __atomic_load_n(&ax_dword, __ATOMIC_RELAXED);
      while (!__atomic_compare_exchange_n(&ax_dword, &old, old ^ (a << 1), 1, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) {
      }
      r = old;
      break;
    }
    case 20: r = AX_MAX(&ax_dword, a); break;
    case 21: r = AX_MIN(&ax_dword, a); break;
    case 22: __atomic_fetch_add(&ax_dword, b, __ATOMIC_RELAXED); r = ax_dword; break;
    case 23: r = (uint64_t)AX_MIN((int64_t*)&ax_dword, (int64_t)a) + (uint64_t)AX_MAX((int64_t*)&ax_dword, (int64_t)b); break;
    case 24: r = __atomic_fetch_and(&ax_dword, a, __ATOMIC_SEQ_CST); break;
    case 25: r = __atomic_fetch_or(&ax_dword, a, __ATOMIC_SEQ_CST); break;
    case 26: r = __atomic_fetch_xor(&ax_dword, b, __ATOMIC_SEQ_CST); break;
    case 27: r = __atomic_exchange_n(&ax_dword, a ^ b, __ATOMIC_SEQ_CST); break;
#endif
    default: return 0xDEAD;
  }
  /* The state after the operation, folded into the result. */
  uint64_t state = (uint64_t)ax_bytes[0] | (uint64_t)ax_bytes[1] << 8 | (uint64_t)ax_bytes[2] << 16 |
                   (uint64_t)ax_bytes[3] << 24;
  state = state * 31 + (uint16_t)ax_halves[0] + ((uint64_t)(uint16_t)ax_halves[1] << 16);
  state = state * 31 + ax_word + (uint32_t)ax_sword;
#if !defined(__riscv) || __riscv_xlen == 64
  if (op >= AX_OPS32) state = state * 31 + ax_dword;
#endif
  return r ^ (state << 1);
}
SUITE_EXPORT(atomics_ext_run)
