/* A guest that traps on purpose (tests/CMakeLists.txt: polkatool run reports where, and fails). Built with
 * debug information, so the trap has a source location. */
#include <polkavm/guest.h>

uint32_t run(uint32_t x) {
  if (x == 7) __builtin_trap();  /* the line polkatool run must name */
  return x + 1;
}
POLKAVM_EXPORT(uint32_t, run, uint32_t)
