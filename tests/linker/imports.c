/* Host functions through the guest SDK's imports: each call becomes `ecalli <index>`, indices assigned by the
 * linker in symbol order. An import that nothing reachable calls gets no index. */
#include <polkavm/guest.h>

POLKAVM_IMPORT(uint64_t, host_multiply, uint64_t, uint64_t)
POLKAVM_IMPORT(uint32_t, host_counter)
POLKAVM_IMPORT(void, host_log, uint32_t)
POLKAVM_IMPORT(uint32_t, host_unused, uint32_t)

uint64_t use_imports(uint32_t n) {
  uint64_t total = 0;
  for (uint32_t i = 0; i < n; ++i) {
    host_log(i);
    total += host_multiply(i + 1, host_counter());
  }
  return total;
}
POLKAVM_EXPORT(uint64_t, use_imports, uint32_t)

/* Unreachable from any export: host_unused is dropped at opt level >= 1. */
uint32_t never_called(uint32_t x) { return host_unused(x); }
