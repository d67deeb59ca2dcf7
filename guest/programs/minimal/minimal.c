/* minimal: an export that does almost nothing, for measuring the cost of a call into the VM. */
#include <polkavm/guest.h>

uint32_t run(uint32_t x) { return x + 1; }
POLKAVM_EXPORT(uint32_t, run, uint32_t)
