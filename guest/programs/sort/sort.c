/*
 * sort: sorts n pseudo-random 32-bit numbers with an introsort-style quicksort (median of three,
 * insertion sort for short ranges, heapsort when recursion gets too deep), checks the order and
 * returns a checksum of the sorted array. run(n) for n = 0 sorts 100,000 numbers.
 */
#include <polkavm/guest.h>
#include <stdlib.h>

#include "../common.h"

static void swap(uint32_t* a, uint32_t* b) {
  uint32_t t = *a;
  *a = *b;
  *b = t;
}

static void insertion_sort(uint32_t* v, size_t n) {
  for (size_t i = 1; i < n; ++i) {
    uint32_t x = v[i];
    size_t j = i;
    for (; j > 0 && v[j - 1] > x; --j) v[j] = v[j - 1];
    v[j] = x;
  }
}

static void sift_down(uint32_t* v, size_t root, size_t n) {
  for (;;) {
    size_t child = 2 * root + 1;
    if (child >= n) return;
    if (child + 1 < n && v[child + 1] > v[child]) ++child;
    if (v[root] >= v[child]) return;
    swap(&v[root], &v[child]);
    root = child;
  }
}

static void heap_sort(uint32_t* v, size_t n) {
  for (size_t i = n / 2; i-- > 0;) sift_down(v, i, n);
  for (size_t end = n; end-- > 1;) {
    swap(&v[0], &v[end]);
    sift_down(v, 0, end);
  }
}

static void intro_sort(uint32_t* v, size_t n, int depth) {
  while (n > 16) {
    if (depth-- == 0) {
      heap_sort(v, n);
      return;
    }
    /* Median of three into v[0], then Hoare partition around it. */
    size_t mid = n / 2;
    if (v[mid] < v[0]) swap(&v[mid], &v[0]);
    if (v[n - 1] < v[0]) swap(&v[n - 1], &v[0]);
    if (v[n - 1] < v[mid]) swap(&v[n - 1], &v[mid]);
    swap(&v[0], &v[mid]);
    uint32_t pivot = v[0];
    size_t i = 0, j = n;
    for (;;) {
      do ++i;
      while (i < n && v[i] < pivot);
      do --j;
      while (v[j] > pivot);
      if (i >= j) break;
      swap(&v[i], &v[j]);
    }
    swap(&v[0], &v[j]);
    /* Recurse into the smaller side, loop on the larger: O(log n) stack. */
    if (j < n - j - 1) {
      intro_sort(v, j, depth);
      v += j + 1;
      n -= j + 1;
    } else {
      intro_sort(v + j + 1, n - j - 1, depth);
      n = j;
    }
  }
  insertion_sort(v, n);
}

uint32_t run(uint32_t n) {
  if (n == 0) n = 100000;
  uint32_t* v = (uint32_t*)malloc((size_t)n * sizeof(uint32_t));
  if (!v) return 0;
  uint32_t state = 0x12345678u;
  for (uint32_t i = 0; i < n; ++i) v[i] = xorshift32(&state) % (n * 4u + 1u); /* with duplicates */
  int depth = 0;
  for (uint32_t m = n; m; m >>= 1) depth += 2;
  intro_sort(v, n, depth);
  uint32_t sum = 2166136261u;
  for (uint32_t i = 0; i < n; ++i) {
    if (i && v[i - 1] > v[i]) POLKAVM_TRAP(); /* not sorted: a bug, make it loud */
    sum = checksum_mix(sum, v[i]);
  }
  free(v);
  return sum;
}
POLKAVM_EXPORT(uint32_t, run, uint32_t)
