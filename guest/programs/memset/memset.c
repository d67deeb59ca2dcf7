/*
 * memset: n rounds of memset and memcpy over two 256 KiB heap buffers (the runtime's word-at-a-time
 * versions), then a checksum of the result. run(n) for n = 0 does 64 rounds.
 */
#include <polkavm/guest.h>
#include <stdlib.h>
#include <string.h>

#include "../common.h"

enum { kBufferSize = 256 * 1024 };

uint32_t run(uint32_t rounds) {
  if (rounds == 0) rounds = 64;
  uint8_t* a = (uint8_t*)malloc(kBufferSize);
  uint8_t* b = (uint8_t*)malloc(kBufferSize);
  if (!a || !b) return 0;
  for (uint32_t r = 0; r < rounds; ++r) {
    memset(a, (int)(r & 0xff), kBufferSize);
    /* Unaligned and overlapping copies too, so every path of memcpy/memmove runs. */
    memcpy(b, a, kBufferSize);
    memcpy(b + 1, a + 3, kBufferSize / 2);
    memmove(b + 5, b, kBufferSize / 4);
    b[r % kBufferSize] ^= (uint8_t)r;
  }
  uint32_t sum = 2166136261u;
  for (uint32_t i = 0; i < kBufferSize; i += 61) sum = checksum_mix(sum, b[i]);
  free(a);
  free(b);
  return sum;
}
POLKAVM_EXPORT(uint32_t, run, uint32_t)
