/*
 * prime-sieve: the sieve of Eratosthenes over [0, n] on a heap buffer, then a checksum of the primes.
 * Exercises malloc, byte stores and tight loops. run(n) for n = 0 uses 2,000,000.
 */
#include <polkavm/guest.h>
#include <stdlib.h>
#include <string.h>

#include "../common.h"

uint32_t run(uint32_t n) {
  if (n == 0) n = 2000000;
  uint8_t* composite = (uint8_t*)malloc((size_t)n + 1);
  if (!composite) return 0;
  memset(composite, 0, (size_t)n + 1);
  for (uint32_t i = 2; (uint64_t)i * i <= n; ++i) {
    if (composite[i]) continue;
    for (uint32_t j = i * i; j <= n; j += i) composite[j] = 1;
  }
  uint32_t count = 0, sum = 2166136261u;
  for (uint32_t i = 2; i <= n; ++i) {
    if (!composite[i]) {
      ++count;
      sum = checksum_mix(sum, i);
    }
  }
  free(composite);
  return checksum_mix(sum, count);
}
POLKAVM_EXPORT(uint32_t, run, uint32_t)
