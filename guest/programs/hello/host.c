/* The native twin's stand-in for the host function: always 42, like `polkatool run --stub get_value=42`. */
#include <stdint.h>

uint32_t get_value(uint32_t x) {
  (void)x;
  return 42;
}
