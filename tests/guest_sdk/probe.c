/*
 * The SDK's probe guest: one of each thing guest.h can emit, so guest_sdk_test can check the bytes
 * and relocations in the ELF against the reference layout. Built for rv64 and rv32, with the default
 * (auipc) pointers and with POLKAVM_GUEST_ABSOLUTE_POINTERS, with plain and with indexed imports.
 */
#include <polkavm/guest.h>

/* The reference linker wants either no import or every import to have an index, hence two builds. */
#ifdef PROBE_INDEXED
POLKAVM_IMPORT_WITH_INDEX(3, uint64_t, get_value, uint32_t)
POLKAVM_IMPORT_WITH_INDEX(7, void, log_u64, uint64_t, const char*)
POLKAVM_IMPORT_WITH_INDEX(9, uint32_t, unused_import) /* never called: must not reach the ELF */
#else
POLKAVM_IMPORT(uint64_t, get_value, uint32_t)
POLKAVM_IMPORT(void, log_u64, uint64_t, const char*)
POLKAVM_IMPORT(uint32_t, unused_import) /* never called: must not reach the ELF */
#endif

POLKAVM_MIN_STACK_SIZE(65536)
POLKAVM_MIN_STACK_SIZE(4096)

uint32_t run(uint32_t n) {
  log_u64(n, "run");
  return (uint32_t)get_value(n) + 1;
}
POLKAVM_EXPORT(uint32_t, run, uint32_t)

void* grow(size_t n) {
  uintptr_t top = polkavm_sbrk(n);
  return top ? (void*)(top - n) : (void*)0;
}
POLKAVM_EXPORT(void*, grow, size_t)

uint64_t sum6(uint32_t a, uint32_t b, uint32_t c, uint32_t d, uint32_t e, uint32_t f) {
  return (uint64_t)a + b + c + d + e + f;
}
POLKAVM_EXPORT(uint64_t, sum6, uint32_t, uint32_t, uint32_t, uint32_t, uint32_t, uint32_t)

void fill(void* dst, size_t n) { polkavm_memset(dst, 0xab, n); }
POLKAVM_EXPORT(void, fill, void*, size_t)

void* heap_start(void) { return polkavm_heap_base(); }
POLKAVM_EXPORT(void*, heap_start)
