/*
 * A small heap for PolkaVM guests, on top of the VM's sbrk instruction.
 *
 * Design: power-of-two size classes (32 bytes .. 2 GiB), one free list per class, no splitting and no
 * coalescing. Every block is 2^k bytes: a 16-byte header, then the payload. Freed blocks go back to
 * their class's list and are reused as they are. This wastes up to half of each block but is short,
 * constant-time, and obviously correct, which is what a guest runtime needs most. The heap never
 * shrinks (PolkaVM's sbrk cannot give memory back).
 *
 * Payloads are 16-byte aligned (alignof(max_align_t) on riscv64). aligned_alloc takes a larger block
 * and records how far it moved the payload, so free() finds the block start again.
 */
#include <stddef.h>
#include <stdint.h>

#include "polkavm/guest.h"

void* memcpy(void* __restrict dst, const void* __restrict src, size_t n);
void* memset(void* dst, int c, size_t n);

enum {
  kHeaderSize = 16,
  kMinClass = 5,  /* 32-byte blocks: 16 bytes of payload */
  kMaxClass = 31, /* 2 GiB: the whole 32-bit address space can't hold more */
};

struct header {
  uintptr_t size_class; /* log2 of the block size */
  uintptr_t offset;     /* payload shift done by aligned_alloc, 0 otherwise */
};
_Static_assert(sizeof(struct header) <= kHeaderSize, "header fits");

struct free_block {
  struct free_block* next;
};

static struct free_block* free_lists[kMaxClass + 1];
static int heap_aligned;

static struct header* header_of(void* payload) { return (struct header*)((char*)payload - kHeaderSize); }

/* A fresh block of 2^size_class bytes from the VM, or NULL. */
static void* grow_heap(unsigned size_class) {
  if (!heap_aligned) {
    /* The heap starts right after the program's data, at any address: align it once. */
    uintptr_t top = polkavm_sbrk(0);
    uintptr_t pad = (uintptr_t)(-top) & (kHeaderSize - 1);
    if (pad && polkavm_sbrk(pad) == 0) return NULL;
    heap_aligned = 1;
  }
  uintptr_t size = (uintptr_t)1 << size_class;
  uintptr_t top = polkavm_sbrk(size);
  if (top == 0) return NULL;
  return (void*)(top - size); /* sbrk returns the new top */
}

static unsigned class_for(size_t payload) {
  if (payload > ((size_t)1 << kMaxClass) - kHeaderSize) return kMaxClass + 1;
  size_t total = payload + kHeaderSize;
  unsigned c = kMinClass;
  while (((size_t)1 << c) < total) ++c;
  return c;
}

void* malloc(size_t size) {
  unsigned c = class_for(size);
  if (c > kMaxClass) return NULL;
  void* block;
  if (free_lists[c]) {
    block = free_lists[c];
    free_lists[c] = free_lists[c]->next;
  } else {
    block = grow_heap(c);
    if (!block) return NULL;
  }
  void* payload = (char*)block + kHeaderSize;
  struct header* h = header_of(payload);
  h->size_class = c;
  h->offset = 0;
  return payload;
}

void free(void* ptr) {
  if (!ptr) return;
  struct header* h = header_of(ptr);
  char* payload = (char*)ptr - h->offset;
  unsigned c = (unsigned)h->size_class;
  if (c < kMinClass || c > kMaxClass) polkavm_trap(); /* not ours, or the header was overwritten */
  struct free_block* block = (struct free_block*)(payload - kHeaderSize);
  block->next = free_lists[c];
  free_lists[c] = block;
}

/* Usable bytes at ptr. */
static size_t capacity(void* ptr) {
  struct header* h = header_of(ptr);
  return ((size_t)1 << h->size_class) - kHeaderSize - h->offset;
}

void* calloc(size_t count, size_t size) {
  if (size && count > (size_t)-1 / size) return NULL;
  size_t total = count * size;
  void* p = malloc(total);
  if (p) memset(p, 0, total); /* reused blocks are dirty */
  return p;
}

void* realloc(void* ptr, size_t size) {
  if (!ptr) return malloc(size);
  if (size == 0) {
    free(ptr);
    return NULL;
  }
  size_t have = capacity(ptr);
  if (size <= have) return ptr;
  void* fresh = malloc(size);
  if (!fresh) return NULL; /* the old block stays valid, as C requires */
  memcpy(fresh, ptr, have);
  free(ptr);
  return fresh;
}

void* aligned_alloc(size_t alignment, size_t size) {
  if (alignment == 0 || (alignment & (alignment - 1)) != 0) return NULL;
  if (alignment <= kHeaderSize) return malloc(size);
  if (size > (size_t)-1 - alignment) return NULL;
  char* raw = (char*)malloc(size + alignment);
  if (!raw) return NULL;
  char* aligned = (char*)(((uintptr_t)raw + alignment - 1) & ~(uintptr_t)(alignment - 1));
  if (aligned != raw) {
    /* The new header may overlap the payload's first bytes, which is fine: nobody uses them. */
    struct header* h = header_of(aligned);
    h->size_class = header_of(raw)->size_class;
    h->offset = (uintptr_t)(aligned - raw);
  }
  return aligned;
}
