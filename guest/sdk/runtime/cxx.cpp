// C++ support for PolkaVM guests built with -fno-exceptions -fno-rtti: global new/delete on the
// runtime's heap. Allocation failure traps (there are no exceptions to throw).
#include <new>  // guest/sdk/libc/new
#include <stddef.h>
#include <stdlib.h>

#include "polkavm/guest.h"

namespace {
void* allocate_or_trap(size_t size) {
  void* p = malloc(size ? size : 1);
  if (!p) polkavm_trap();
  return p;
}
void* allocate_aligned_or_trap(size_t size, std::align_val_t alignment) {
  void* p = aligned_alloc(static_cast<size_t>(alignment), size ? size : 1);
  if (!p) polkavm_trap();
  return p;
}
}  // namespace

void* operator new(size_t size) { return allocate_or_trap(size); }
void* operator new[](size_t size) { return allocate_or_trap(size); }
void* operator new(size_t size, std::align_val_t alignment) { return allocate_aligned_or_trap(size, alignment); }
void* operator new[](size_t size, std::align_val_t alignment) { return allocate_aligned_or_trap(size, alignment); }
void operator delete(void* p) noexcept { free(p); }
void operator delete[](void* p) noexcept { free(p); }
void operator delete(void* p, size_t) noexcept { free(p); }
void operator delete[](void* p, size_t) noexcept { free(p); }
void operator delete(void* p, std::align_val_t) noexcept { free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { free(p); }
void operator delete(void* p, size_t, std::align_val_t) noexcept { free(p); }
void operator delete[](void* p, size_t, std::align_val_t) noexcept { free(p); }
