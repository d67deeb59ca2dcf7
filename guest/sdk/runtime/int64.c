/*
 * 64-bit division helpers for rv32 guests (libgcc/compiler-rt names). rv32's M extension divides 32-bit
 * values only, so clang calls these for 64-bit `/` and `%`. Plain shift-and-subtract: at most 64 steps.
 * Not built for rv64, where the hardware divides 64-bit values.
 */
#include <stdint.h>

#if __riscv_xlen == 32
static uint64_t udivmod64(uint64_t n, uint64_t d, uint64_t* rem) {
  if (d == 0) __builtin_trap(); /* the C behaviour is undefined; stop loudly */
  if ((d >> 32) == 0 && (n >> 32) == 0) {
    *rem = (uint32_t)n % (uint32_t)d;
    return (uint32_t)n / (uint32_t)d;
  }
  uint64_t q = 0, r = 0;
  for (int i = 63; i >= 0; --i) {
    r = (r << 1) | ((n >> i) & 1);
    if (r >= d) {
      r -= d;
      q |= (uint64_t)1 << i;
    }
  }
  *rem = r;
  return q;
}

uint64_t __udivdi3(uint64_t n, uint64_t d) {
  uint64_t r;
  return udivmod64(n, d, &r);
}

uint64_t __umoddi3(uint64_t n, uint64_t d) {
  uint64_t r;
  udivmod64(n, d, &r);
  return r;
}

static uint64_t magnitude(int64_t v) { return v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v; }

int64_t __divdi3(int64_t n, int64_t d) {
  uint64_t r;
  uint64_t q = udivmod64(magnitude(n), magnitude(d), &r);
  return (int64_t)(((n < 0) != (d < 0)) ? (uint64_t)0 - q : q);
}

int64_t __moddi3(int64_t n, int64_t d) {
  uint64_t r;
  udivmod64(magnitude(n), magnitude(d), &r);
  return (int64_t)(n < 0 ? (uint64_t)0 - r : r); /* the remainder takes the dividend's sign */
}
#endif
