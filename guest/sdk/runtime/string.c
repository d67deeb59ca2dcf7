/*
 * Freestanding memory and string functions for PolkaVM guests.
 *
 * The compiler emits calls to memcpy/memmove/memset/memcmp/bcmp on its own (struct copies, zeroing,
 * loops it recognises), so every guest needs them. This file is built with -ffreestanding, which stops
 * clang from turning the loops below back into calls to themselves.
 *
 * Word-at-a-time when both pointers share alignment; bytes otherwise. PolkaVM traps on nothing
 * misaligned, but aligned words are what the linker turns into single loads and stores.
 */
#include <stddef.h>
#include <stdint.h>

typedef uintptr_t word_t;
/* Word accesses that may alias anything (these functions see every type). */
typedef word_t __attribute__((may_alias)) aliased_word_t;

#define WORD_SIZE sizeof(word_t)
#define IS_ALIGNED(p) (((uintptr_t)(p) & (WORD_SIZE - 1)) == 0)

void* memcpy(void* __restrict dst, const void* __restrict src, size_t n) {
  unsigned char* d = (unsigned char*)dst;
  const unsigned char* s = (const unsigned char*)src;
  if ((((uintptr_t)d ^ (uintptr_t)s) & (WORD_SIZE - 1)) == 0) {
    while (n && !IS_ALIGNED(d)) {
      *d++ = *s++;
      --n;
    }
    for (; n >= 4 * WORD_SIZE; n -= 4 * WORD_SIZE, d += 4 * WORD_SIZE, s += 4 * WORD_SIZE) {
      aliased_word_t* dw = (aliased_word_t*)d;
      const aliased_word_t* sw = (const aliased_word_t*)s;
      word_t a = sw[0], b = sw[1], c = sw[2], e = sw[3];
      dw[0] = a;
      dw[1] = b;
      dw[2] = c;
      dw[3] = e;
    }
    for (; n >= WORD_SIZE; n -= WORD_SIZE, d += WORD_SIZE, s += WORD_SIZE)
      *(aliased_word_t*)d = *(const aliased_word_t*)s;
  }
  while (n--) *d++ = *s++;
  return dst;
}

void* memmove(void* dst, const void* src, size_t n) {
  unsigned char* d = (unsigned char*)dst;
  const unsigned char* s = (const unsigned char*)src;
  if (d == s || n == 0) return dst;
  /* Forward copying is safe unless the destination starts inside the source. */
  if ((uintptr_t)d - (uintptr_t)s >= n) return memcpy(dst, src, n);

  d += n;
  s += n;
  if ((((uintptr_t)d ^ (uintptr_t)s) & (WORD_SIZE - 1)) == 0) {
    while (n && !IS_ALIGNED(d)) {
      *--d = *--s;
      --n;
    }
    for (; n >= WORD_SIZE; n -= WORD_SIZE) {
      d -= WORD_SIZE;
      s -= WORD_SIZE;
      *(aliased_word_t*)d = *(const aliased_word_t*)s;
    }
  }
  while (n--) *--d = *--s;
  return dst;
}

void* memset(void* dst, int c, size_t n) {
  unsigned char* d = (unsigned char*)dst;
  const unsigned char byte = (unsigned char)c;
  while (n && !IS_ALIGNED(d)) {
    *d++ = byte;
    --n;
  }
  if (n >= WORD_SIZE) {
    const word_t pattern = (word_t)byte * (word_t)(~(word_t)0 / 0xff); /* byte repeated in every lane */
    for (; n >= 4 * WORD_SIZE; n -= 4 * WORD_SIZE, d += 4 * WORD_SIZE) {
      aliased_word_t* dw = (aliased_word_t*)d;
      dw[0] = pattern;
      dw[1] = pattern;
      dw[2] = pattern;
      dw[3] = pattern;
    }
    for (; n >= WORD_SIZE; n -= WORD_SIZE, d += WORD_SIZE) *(aliased_word_t*)d = pattern;
  }
  while (n--) *d++ = byte;
  return dst;
}

int memcmp(const void* a, const void* b, size_t n) {
  const unsigned char* x = (const unsigned char*)a;
  const unsigned char* y = (const unsigned char*)b;
  for (; n; --n, ++x, ++y) {
    if (*x != *y) return *x < *y ? -1 : 1;
  }
  return 0;
}

/* clang turns `memcmp(...) == 0` into bcmp, which only has to say equal or not. */
int bcmp(const void* a, const void* b, size_t n) { return memcmp(a, b, n); }

size_t strlen(const char* s) {
  const char* p = s;
  while (*p) ++p;
  return (size_t)(p - s);
}

int strcmp(const char* a, const char* b) {
  while (*a && *a == *b) {
    ++a;
    ++b;
  }
  return (unsigned char)*a - (unsigned char)*b;
}
