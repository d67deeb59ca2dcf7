/* hello: the smallest guest that talks to its host. `run(x)` asks the host for a value and mixes it in. */
#include <polkavm/guest.h>

/* Implemented by the host (natively: hello/host.c). */
POLKAVM_IMPORT(uint32_t, get_value, uint32_t)

uint32_t run(uint32_t x) { return get_value(x) * 2 + x; }
POLKAVM_EXPORT(uint32_t, run, uint32_t)
