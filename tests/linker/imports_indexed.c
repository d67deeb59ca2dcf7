/* Imports with fixed indices (metadata version 2): the import table follows the indices, with a gap. */
#include <polkavm/guest.h>

POLKAVM_IMPORT_WITH_INDEX(3, uint32_t, host_third, uint32_t)
POLKAVM_IMPORT_WITH_INDEX(0, uint32_t, host_first, uint32_t)

uint32_t use_indexed(uint32_t x) { return host_first(x) + host_third(x + 1); }
POLKAVM_EXPORT(uint32_t, use_indexed, uint32_t)
