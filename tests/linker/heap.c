/* The reference's custom instructions: sbrk, the heap base and memset; and a minimum stack size. */
#include <polkavm/guest.h>

POLKAVM_MIN_STACK_SIZE(40000)

static uint32_t initialised[4] = {1, 2, 3, 4};

uint64_t heap_base(void) { return (uint64_t)(uintptr_t)polkavm_heap_base(); }
POLKAVM_EXPORT(uint64_t, heap_base)

uint64_t grow(uint32_t size) { return polkavm_sbrk(size); }
POLKAVM_EXPORT(uint64_t, grow, uint32_t)

/* Fill heap memory with memset and read it back. */
uint32_t fill(uint32_t value) {
  unsigned char* base = (unsigned char*)polkavm_heap_base();
  if (polkavm_sbrk(0) < (uintptr_t)base + 64 && polkavm_sbrk(64) == 0) return 0xFFFFFFFFu;
  polkavm_memset(base, (int)value, 64);
  uint32_t sum = initialised[value & 3];
  for (int i = 0; i < 64; ++i) sum += base[i];
  return sum;
}
POLKAVM_EXPORT(uint32_t, fill, uint32_t)

/* Uses a lot of stack. */
uint32_t deep_stack(uint32_t seed) {
  volatile unsigned char buffer[30000];
  for (uint32_t i = 0; i < sizeof(buffer); i += 64) buffer[i] = (unsigned char)(seed + i);
  uint32_t sum = 0;
  for (uint32_t i = 0; i < sizeof(buffer); i += 64) sum += buffer[i];
  return sum;
}
POLKAVM_EXPORT(uint32_t, deep_stack, uint32_t)
