/* Control flow and memory: loops, branches, recursion, calls through function pointers, switch tables,
 * and globals in .rodata, .data and .bss. Linked for RV32 and RV64 and compiled natively for comparison. */
#include "polkavm_test_guest.h"

int32_t gcd(int32_t a, int32_t b) {
  uint32_t x = a < 0 ? -(uint32_t)a : (uint32_t)a, y = b < 0 ? -(uint32_t)b : (uint32_t)b;
  while (y != 0) {
    uint32_t t = x % y;
    x = y;
    y = t;
  }
  return (int32_t)x;
}
TEST_EXPORT(gcd, 2, 1);

int32_t collatz_steps(int32_t n) {
  uint32_t x = (uint32_t)n, steps = 0;
  if (x == 0) return -1;
  while (x != 1 && steps < 10000) {
    x = (x & 1) ? 3 * x + 1 : x / 2;
    ++steps;
  }
  return (int32_t)steps;
}
TEST_EXPORT(collatz_steps, 1, 1);

/* A sieve in a stack array: loads and stores relative to sp. */
int32_t count_primes(int32_t limit) {
  unsigned char composite[1000];
  if (limit > 1000) limit = 1000;
  for (int32_t i = 0; i < limit; ++i) composite[i] = 0;
  int32_t count = 0;
  for (int32_t i = 2; i < limit; ++i) {
    if (composite[i]) continue;
    ++count;
    for (int32_t j = i * i; j < limit; j += i) composite[j] = 1;
  }
  return count;
}
TEST_EXPORT(count_primes, 1, 1);

__attribute__((noinline)) static int32_t fib_rec(int32_t n) { return n < 2 ? n : fib_rec(n - 1) + fib_rec(n - 2); }
int32_t fib(int32_t n) { return fib_rec(n); }
TEST_EXPORT(fib, 1, 1);

__attribute__((noinline)) static int32_t ackermann_rec(int32_t m, int32_t n) {
  if (m == 0) return n + 1;
  if (n == 0) return ackermann_rec(m - 1, 1);
  return ackermann_rec(m - 1, ackermann_rec(m, n - 1));
}
int32_t ackermann(int32_t m, int32_t n) { return ackermann_rec(m, n); }
TEST_EXPORT(ackermann, 2, 1);

/* Calls through a table of function pointers (in .data.rel.ro) and through a pointer passed around. */
typedef int32_t (*op_fn)(int32_t, int32_t);
__attribute__((noinline)) static int32_t op_add(int32_t a, int32_t b) { return a + b; }
__attribute__((noinline)) static int32_t op_sub(int32_t a, int32_t b) { return a - b; }
__attribute__((noinline)) static int32_t op_mul(int32_t a, int32_t b) { return (int32_t)((uint32_t)a * (uint32_t)b); }
__attribute__((noinline)) static int32_t op_xor(int32_t a, int32_t b) { return a ^ b; }
static op_fn const ops[4] = {op_add, op_sub, op_mul, op_xor};

__attribute__((noinline)) static int32_t fold(op_fn f, int32_t seed, int32_t n) {
  int32_t acc = seed;
  for (int32_t i = 1; i <= n; ++i) acc = f(acc, i);
  return acc;
}
int32_t call_indirect(int32_t which, int32_t n) { return fold(ops[which & 3], 1, n & 15); }
TEST_EXPORT(call_indirect, 2, 1);

/* A function pointer kept in writable memory and changed at run time. */
static op_fn current_op = op_add;
int32_t set_op(int32_t which) {
  current_op = ops[which & 3];
  return 0;
}
TEST_EXPORT(set_op, 1, 0);
int32_t apply_op(int32_t a, int32_t b) { return current_op(a, b); }
TEST_EXPORT(apply_op, 2, 1);

/* A dense switch that becomes a jump table. */
__attribute__((noinline)) int32_t dispatch(int32_t op, int32_t x) {
  switch (op) {
    case 0: return x * 3 + 1;
    case 1: return x ^ 0x5555;
    case 2: return gcd(x, 48);
    case 3: return x - 1000;
    case 4: return x << 3;
    case 5: return fib_rec(x & 15);
    case 6: return x / 3;
    case 7: return -x;
    case 8: return x & 0xF0F0;
    case 9: return x * x;
    default: return -1;
  }
}
TEST_EXPORT(dispatch, 2, 1);

/* Globals: a table in .rodata, a string, initialised .data and zeroed .bss. */
static const int32_t squares[16] = {0, 1, 4, 9, 16, 25, 36, 49, 64, 81, 100, 121, 144, 169, 196, 225};
static const char message[] = "the quick brown fox jumps over the lazy dog";
int32_t data_counter = 1000;
int32_t bss_counter;
int32_t bss_array[64];

int32_t lookup(int32_t i) { return squares[i & 15]; }
TEST_EXPORT(lookup, 1, 1);

int32_t hash_message(int32_t seed) {
  uint32_t h = (uint32_t)seed;
  for (const char* p = message; *p; ++p) h = h * 31 + (unsigned char)*p;
  return (int32_t)h;
}
TEST_EXPORT(hash_message, 1, 1);

/* State that survives between calls. */
int32_t bump(int32_t by) {
  data_counter += by;
  bss_counter += 1;
  bss_array[bss_counter & 63] += by;
  return data_counter * 100 + bss_counter;
}
TEST_EXPORT(bump, 1, 1);

int32_t sum_bss_array(void) {
  int32_t sum = 0;
  for (int i = 0; i < 64; ++i) sum += bss_array[i] * (i + 1);
  return sum;
}
TEST_EXPORT(sum_bss_array, 0, 1);

/* A pointer to a global inside another global (a data relocation to data). */
static int32_t* const counter_pointer = &data_counter;
int32_t read_through_pointer(void) { return *counter_pointer; }
TEST_EXPORT(read_through_pointer, 0, 1);

/* Byte, halfword and word loads and stores of both signs. */
typedef int16_t __attribute__((may_alias)) alias_i16;
typedef uint16_t __attribute__((may_alias)) alias_u16;
typedef int32_t __attribute__((may_alias)) alias_i32;
static unsigned char bytes_area[32] __attribute__((aligned(8))) = {0x80, 0x7F, 0xFF, 0x01, 0x34, 0x12,
                                                                   0x78, 0x56, 0xF0, 0xFF, 0xFF, 0x7F};
int32_t memory_mix(int32_t index) {
  int32_t i = index & 7;
  int32_t total = (int32_t)(signed char)bytes_area[i] + (int32_t)bytes_area[i + 1];
  total += (int32_t) * (alias_i16*)&bytes_area[2 * (i & 3)] + (int32_t) * (alias_u16*)&bytes_area[2 * (i & 3)];
  total += *(alias_i32*)&bytes_area[4 * (i & 1)];
  bytes_area[16 + i] = (unsigned char)(total + i);
  *(alias_u16*)&bytes_area[24] = (uint16_t)total;
  return total + bytes_area[16 + i] + *(alias_u16*)&bytes_area[24];
}
TEST_EXPORT(memory_mix, 1, 1);
