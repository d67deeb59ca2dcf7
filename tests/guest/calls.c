/* Calls through function pointers (dynamic jumps) and recursion: a writable table of pointers changed at
 * run time, callbacks passed as arguments, indirect tail calls, mutual recursion, recursion through a
 * pointer, a recursive quicksort and a recursive-descent expression evaluator. */
#include "suite_guest.h"

#if defined(__riscv)
/* A 64 KiB stack for the recursion (the record guest.h's POLKAVM_MIN_STACK_SIZE writes). */
__asm__(".pushsection .polkavm_min_stack_size,\"R\",@note\n.4byte 65536\n.popsection\n");
#endif

typedef uint64_t (*calls_fn)(uint64_t, uint64_t);

__attribute__((noinline)) static uint64_t calls_add(uint64_t a, uint64_t b) { return a + b; }
__attribute__((noinline)) static uint64_t calls_mul(uint64_t a, uint64_t b) { return a * b; }
__attribute__((noinline)) static uint64_t calls_mix(uint64_t a, uint64_t b) { return (a ^ (b << 7)) + (a >> 3); }
__attribute__((noinline)) static uint64_t calls_sub(uint64_t a, uint64_t b) { return a - b; }

static calls_fn calls_table[4] = {calls_add, calls_mul, calls_mix, calls_sub};  /* in .data: writable */

/* Applies `f` n times, feeding the result back: a loop of indirect calls. */
__attribute__((noinline)) static uint64_t calls_fold(calls_fn f, uint64_t x, uint64_t y, uint32_t n) {
  for (uint32_t i = 0; i < n; ++i) x = f(x, y + i);
  return x;
}

/* An indirect tail call: the call through `f` is the function's last action. */
__attribute__((noinline)) static uint64_t calls_tail(calls_fn f, uint64_t a, uint64_t b) { return f(a + 1, b * 3); }

__attribute__((noinline)) static int calls_is_odd(uint32_t n);
__attribute__((noinline)) static int calls_is_even(uint32_t n) { return n == 0 ? 1 : calls_is_odd(n - 1); }
__attribute__((noinline)) static int calls_is_odd(uint32_t n) { return n == 0 ? 0 : calls_is_even(n - 1); }

/* Recursion through a function pointer: each level calls itself through the table. */
typedef uint64_t (*calls_rec_fn)(uint32_t, uint64_t);
__attribute__((noinline)) static uint64_t calls_rec_a(uint32_t n, uint64_t x);
__attribute__((noinline)) static uint64_t calls_rec_b(uint32_t n, uint64_t x);
static calls_rec_fn const calls_rec_table[2] = {calls_rec_a, calls_rec_b};  /* in .data.rel.ro */
static uint64_t calls_rec_a(uint32_t n, uint64_t x) { return n == 0 ? x : calls_rec_table[n & 1](n - 1, x * 3 + n) + 1; }
static uint64_t calls_rec_b(uint32_t n, uint64_t x) { return n == 0 ? x : calls_rec_table[(n >> 1) & 1](n - 1, x ^ (x >> 5)) * 7; }

__attribute__((noinline)) static void calls_qsort(uint32_t* v, int32_t lo, int32_t hi) {
  if (lo >= hi) return;
  const uint32_t pivot = v[lo + (hi - lo) / 2];
  int32_t i = lo, j = hi;
  while (i <= j) {
    while (v[i] < pivot) ++i;
    while (v[j] > pivot) --j;
    if (i <= j) {
      const uint32_t t = v[i];
      v[i++] = v[j];
      v[j--] = t;
    }
  }
  calls_qsort(v, lo, j);
  calls_qsort(v, i, hi);
}

/* Recursive descent over a generated expression: digits, + - * and parentheses. */
struct calls_parser {
  const char* s;
  uint32_t at;
};
__attribute__((noinline)) static uint32_t calls_expr(struct calls_parser* p);
__attribute__((noinline)) static uint32_t calls_atom(struct calls_parser* p) {
  const char c = p->s[p->at++];
  if (c == '(') {
    const uint32_t v = calls_expr(p);
    ++p->at;  /* ')' */
    return v;
  }
  return (uint32_t)(c - '0');
}
__attribute__((noinline)) static uint32_t calls_term(struct calls_parser* p) {
  uint32_t v = calls_atom(p);
  while (p->s[p->at] == '*') {
    ++p->at;
    v *= calls_atom(p);
  }
  return v;
}
static uint32_t calls_expr(struct calls_parser* p) {
  uint32_t v = calls_term(p);
  while (p->s[p->at] == '+' || p->s[p->at] == '-') {
    const char op = p->s[p->at++];
    const uint32_t w = calls_term(p);
    v = op == '+' ? v + w : v - w;
  }
  return v;
}
/* Writes a random expression of the given depth from the generator state `x`. */
__attribute__((noinline)) static uint32_t calls_gen(char* out, uint32_t at, uint64_t* x, uint32_t depth) {
  *x = *x * 6364136223846793005ull + 1442695040888963407ull;
  if (depth == 0 || (*x >> 60) < 3) {
    out[at++] = (char)('0' + (uint32_t)(*x >> 33) % 10);
    return at;
  }
  out[at++] = '(';
  at = calls_gen(out, at, x, depth - 1);
  out[at++] = "+-*"[(uint32_t)(*x >> 40) % 3];
  at = calls_gen(out, at, x, depth - 1);
  out[at++] = ')';
  return at;
}

#define CALLS_OPS 12

uint64_t calls_run(uint32_t op, uint64_t a, uint64_t b) {
  switch (op) {
    case 0: case 1: case 2: case 3: return calls_table[op](a, b);
    case 4: return calls_fold(calls_table[b & 3], a, b, 37);
    case 5: return calls_tail(calls_table[(a >> 8) & 3], a, b);
    case 6: {
      /* Rewrites the table and calls through it. */
      calls_fn saved = calls_table[0];
      calls_table[0] = calls_table[(a & 1) + 1];
      const uint64_t r = calls_table[0](a, b);
      calls_table[0] = saved;
      return r;
    }
    case 7: return (uint64_t)calls_is_even((uint32_t)a % 2000) * 2 + (uint64_t)calls_is_odd((uint32_t)b % 1500);
    case 8: return calls_rec_table[a & 1]((uint32_t)b % 300, a);
    case 9: {
      uint32_t v[200];
      uint64_t x = a ^ b;
      for (int i = 0; i < 200; ++i) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        v[i] = (uint32_t)(x >> 40) % 1000;
      }
      calls_qsort(v, 0, 199);
      uint64_t h = 0;
      for (int i = 0; i < 200; ++i) h = h * 31 + v[i];
      return h;
    }
    case 10: {
      char text[2048];
      uint64_t x = a + b;
      const uint32_t length = calls_gen(text, 0, &x, 7);
      text[length] = 0;
      struct calls_parser p = {text, 0};
      return (uint64_t)calls_expr(&p) << 16 | length;
    }
    case 11: {
      /* A pointer passed through memory and called from a loop over the table. */
      uint64_t acc = a;
      for (uint32_t i = 0; i < 16; ++i) acc = calls_fold(calls_table[(i + b) & 3], acc, i, 2);
      return acc;
    }
  }
  return 0xDEAD;
}
SUITE_EXPORT(calls_run)
