/* Helpers shared by the guest programs (guest and native builds alike). */
#ifndef POLKAVM_GUEST_PROGRAMS_COMMON_H
#define POLKAVM_GUEST_PROGRAMS_COMMON_H
#include <stdint.h>

/* xorshift32: a deterministic input generator, identical on every target. Never returns 0. */
static inline uint32_t xorshift32(uint32_t* state) {
  uint32_t x = *state;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  *state = x;
  return x;
}

/* Folds a value into a running 32-bit checksum (FNV-1a style multiply). */
static inline uint32_t checksum_mix(uint32_t sum, uint32_t value) { return (sum ^ value) * 16777619u; }

#endif
