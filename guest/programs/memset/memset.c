/*
 * memset: n rounds of memset and memcpy over two 256 KiB heap buffers (the runtime's word-at-a-time
 * versions), then a checksum of the result. run(n) for n = 0 does 64 rounds.
 *
 * With kUseInstruction (0x10000) set in the argument, the fills use the VM's own `memset` instruction
 * (polkavm_memset) instead, like the reference's `benchmark_custom_accelerated`; the checksum is the same.
 */
#include <polkavm/guest.h>
#include <stdlib.h>
#include <string.h>

#include "../common.h"

enum { kBufferSize = 256 * 1024, kUseInstruction = 0x10000 };

uint32_t run(uint32_t arg) {
  int use_instruction = (arg & kUseInstruction) != 0;
  uint32_t rounds = arg & 0xffff;
  if (rounds == 0) rounds = 64;
  uint8_t* a = (uint8_t*)malloc(kBufferSize);
  uint8_t* b = (uint8_t*)malloc(kBufferSize);
  if (!a || !b) return 0;
  for (uint32_t r = 0; r < rounds; ++r) {
    if (use_instruction)
      polkavm_memset(a, (int)(r & 0xff), kBufferSize);
    else
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
