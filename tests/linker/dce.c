/* Code and data that no export reaches (dropped at opt level >= 1) next to code and data that one does. */
#include "polkavm_test_guest.h"

static const uint32_t used_table[8] = {3, 1, 4, 1, 5, 9, 2, 6};
static const uint32_t unused_table[4096] = {1, 2, 3};
uint32_t unused_data[2048] = {7};

int32_t unused_function(int32_t x) {
  int32_t sum = 0;
  for (int32_t i = 0; i < x; ++i) sum += (int32_t)unused_table[i & 4095] + (int32_t)unused_data[i & 2047];
  return sum;
}

int32_t used_function(int32_t x) { return (int32_t)used_table[x & 7] * 10; }
TEST_EXPORT(used_function, 1, 1);
