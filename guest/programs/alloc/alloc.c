/*
 * alloc: a heap workout. n random steps over 256 slots: malloc, calloc, realloc (grow and shrink),
 * aligned_alloc and free, each block filled with a pattern derived from its slot and checked before it
 * is resized or freed (a mismatch traps). Returns a checksum of the operations and contents, which
 * does not depend on the addresses, so the native twin (C library heap) must agree. run(0) = 100,000 steps.
 */
#include <polkavm/guest.h>
#include <stdlib.h>
#include <string.h>

#include "../common.h"

enum { kSlots = 256 };

struct slot {
  uint8_t* data;
  uint32_t size;
  uint8_t tag;
};

static void fill(struct slot* s) {
  for (uint32_t i = 0; i < s->size; ++i) s->data[i] = (uint8_t)(s->tag + i * 7);
}

static uint32_t verify(const struct slot* s, uint32_t sum) {
  for (uint32_t i = 0; i < s->size; ++i) {
    if (s->data[i] != (uint8_t)(s->tag + i * 7)) POLKAVM_TRAP(); /* heap corruption */
  }
  return checksum_mix(sum, s->size ^ ((uint32_t)s->tag << 24));
}

uint32_t run(uint32_t steps) {
  if (steps == 0) steps = 100000;
  struct slot slots[kSlots];
  memset(slots, 0, sizeof(slots));
  uint32_t state = 0x2545f491u, sum = 2166136261u;
  for (uint32_t step = 0; step < steps; ++step) {
    uint32_t r = xorshift32(&state);
    struct slot* s = &slots[r % kSlots];
    /* Mostly small blocks, sometimes large ones (up to 16 KiB). */
    uint32_t size = (r >> 8) % 16 == 0 ? (r >> 12) % 16384 : (r >> 12) % 256;
    uint8_t tag = (uint8_t)(step * 13);
    switch ((r >> 28) % 4) {
      case 0: /* free, or allocate when empty */
        if (s->data) {
          sum = verify(s, sum);
          free(s->data);
          s->data = NULL;
          s->size = 0;
          break;
        }
        /* fall through */
      case 1:
        if (s->data) {
          sum = verify(s, sum);
          free(s->data);
        }
        s->data = (uint8_t*)((r & 1) ? calloc(1, size) : malloc(size));
        if (!s->data && size) POLKAVM_TRAP();
        if ((r & 1) && s->data) {
          for (uint32_t i = 0; i < size; ++i)
            if (s->data[i] != 0) POLKAVM_TRAP(); /* calloc must zero */
        }
        s->size = s->data ? size : 0;
        s->tag = tag;
        fill(s);
        break;
      case 2: { /* realloc keeps the common prefix */
        if (!s->data) break;
        sum = verify(s, sum);
        uint32_t keep = size < s->size ? size : s->size;
        uint8_t* grown = (uint8_t*)realloc(s->data, size ? size : 1);
        if (!grown) POLKAVM_TRAP();
        for (uint32_t i = 0; i < keep; ++i)
          if (grown[i] != (uint8_t)(s->tag + i * 7)) POLKAVM_TRAP();
        s->data = grown;
        s->size = size;
        s->tag = tag;
        fill(s);
        break;
      }
      case 3: { /* over-aligned blocks */
        if (s->data) {
          sum = verify(s, sum);
          free(s->data);
        }
        size_t alignment = (size_t)32 << ((r >> 4) % 6); /* 32 .. 1024 */
        s->data = (uint8_t*)aligned_alloc(alignment, (size + alignment - 1) / alignment * alignment);
        if (!s->data) POLKAVM_TRAP();
        if ((uintptr_t)s->data % alignment) POLKAVM_TRAP();
        s->size = size;
        s->tag = tag;
        fill(s);
        break;
      }
    }
  }
  for (int i = 0; i < kSlots; ++i) {
    if (slots[i].data) {
      sum = verify(&slots[i], sum);
      free(slots[i].data);
    }
  }
  return sum;
}
POLKAVM_EXPORT(uint32_t, run, uint32_t)
