/*
 * matmul: C = A x B for n x n matrices of 32-bit integers (wrapping arithmetic, no floating point on
 * PolkaVM), i-k-j loop order, then a checksum of C. run(n) for n = 0 multiplies 256 x 256.
 */
#include <polkavm/guest.h>
#include <stdlib.h>
#include <string.h>

#include "../common.h"

uint32_t run(uint32_t n) {
  if (n == 0) n = 256;
  if (n > 2048) return 0;
  size_t cells = (size_t)n * n;
  uint32_t* a = (uint32_t*)malloc(cells * sizeof(uint32_t));
  uint32_t* b = (uint32_t*)malloc(cells * sizeof(uint32_t));
  uint32_t* c = (uint32_t*)malloc(cells * sizeof(uint32_t));
  if (!a || !b || !c) return 0;
  uint32_t state = 0xc0ffee11u;
  for (size_t i = 0; i < cells; ++i) {
    a[i] = xorshift32(&state) & 0xffff;
    b[i] = xorshift32(&state) & 0xffff;
  }
  memset(c, 0, cells * sizeof(uint32_t));
  for (uint32_t i = 0; i < n; ++i) {
    uint32_t* row = c + (size_t)i * n;
    for (uint32_t k = 0; k < n; ++k) {
      uint32_t aik = a[(size_t)i * n + k];
      const uint32_t* bk = b + (size_t)k * n;
      for (uint32_t j = 0; j < n; ++j) row[j] += aik * bk[j];
    }
  }
  uint32_t sum = 2166136261u;
  for (size_t i = 0; i < cells; ++i) sum = checksum_mix(sum, c[i]);
  free(a);
  free(b);
  free(c);
  return sum;
}
POLKAVM_EXPORT(uint32_t, run, uint32_t)
