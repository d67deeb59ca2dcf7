/* Atomic read-modify-write operations (A extension: AMOs and LR/SC loops), run single-threaded. Uses the
 * guest SDK's header. Each export takes an operand, updates shared counters and returns a checksum. */
#include <polkavm/guest.h>

/* GCC (the native build) has no __atomic_fetch_max/min; single-threaded, plain code does the same. */
#if defined(__clang__)
#define FETCH_MAX(p, v) __atomic_fetch_max(p, v, __ATOMIC_SEQ_CST)
#define FETCH_MIN(p, v) __atomic_fetch_min(p, v, __ATOMIC_SEQ_CST)
#else
#define FETCH_MAX(p, v) ({ __typeof__(*(p)) old_ = *(p), v_ = (v); *(p) = old_ > v_ ? old_ : v_; old_; })
#define FETCH_MIN(p, v) ({ __typeof__(*(p)) old_ = *(p), v_ = (v); *(p) = old_ < v_ ? old_ : v_; old_; })
#endif

static int32_t word = 100;
static uint32_t uword = 7;
#if __riscv_xlen == 64 || !defined(__riscv)
static int64_t dword = 1000;
static uint64_t udword = 3;
#endif

int64_t atomic_words(int32_t x) {
  uint64_t sum = 0;  /* unsigned: wraps instead of overflowing */
  sum += __atomic_fetch_add(&word, x, __ATOMIC_SEQ_CST);
  sum += (uint64_t)(__atomic_fetch_sub(&word, 3, __ATOMIC_RELAXED)) * 2;
  sum += (uint64_t)(__atomic_fetch_and(&word, x | 0xF0, __ATOMIC_ACQUIRE)) * 3;
  sum += (uint64_t)(__atomic_fetch_or(&word, 0x1000, __ATOMIC_RELEASE)) * 4;
  sum += (uint64_t)(__atomic_fetch_xor(&word, x, __ATOMIC_ACQ_REL)) * 5;
  sum += (uint64_t)(__atomic_exchange_n(&word, word + x, __ATOMIC_SEQ_CST)) * 6;
  sum += (uint64_t)(FETCH_MAX(&word, x)) * 7;
  sum += (uint64_t)(FETCH_MIN(&word, x * 2)) * 8;
  sum += (uint64_t)(FETCH_MAX(&uword, (uint32_t)x)) * 9;
  sum += (uint64_t)(FETCH_MIN(&uword, (uint32_t)x + 5)) * 10;
  int32_t expected = word;
  sum += (uint64_t)(__atomic_compare_exchange_n(&word, &expected, expected - 1, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) * 11;
  expected = 12345;
  sum += (uint64_t)(__atomic_compare_exchange_n(&word, &expected, 0, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) * 12;
  return (int64_t)(sum + (uint64_t)(int64_t)word * 1000 + uword);
}
POLKAVM_EXPORT(int64_t, atomic_words, int32_t)

#if __riscv_xlen == 64 || !defined(__riscv)
int64_t atomic_dwords(int64_t x) {
  uint64_t sum = 0;
  sum += __atomic_fetch_add(&dword, x, __ATOMIC_SEQ_CST);
  sum += (uint64_t)(__atomic_fetch_and(&dword, x | 0xFF00, __ATOMIC_SEQ_CST)) * 3;
  sum += (uint64_t)(__atomic_fetch_or(&dword, (int64_t)1 << 40, __ATOMIC_SEQ_CST)) * 5;
  sum += (uint64_t)(__atomic_fetch_xor(&dword, x, __ATOMIC_SEQ_CST)) * 7;
  sum += (uint64_t)(__atomic_exchange_n(&dword, dword - x, __ATOMIC_SEQ_CST)) * 11;
  sum += (uint64_t)(FETCH_MAX(&dword, x)) * 13;
  sum += (uint64_t)(FETCH_MIN(&dword, -x)) * 17;
  sum += (uint64_t)((int64_t)FETCH_MAX(&udword, (uint64_t)x)) * 19;
  sum += (uint64_t)((int64_t)FETCH_MIN(&udword, (uint64_t)x >> 1)) * 23;
  int64_t expected = dword;
  sum += (uint64_t)(__atomic_compare_exchange_n(&dword, &expected, expected * 3, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) * 29;
  return (int64_t)(sum + (uint64_t)dword + udword);
}
POLKAVM_EXPORT(int64_t, atomic_dwords, int64_t)
#endif
