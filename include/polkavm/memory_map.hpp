/// @file
/// The reference's guest memory layout (crates/polkavm-common/src/abi.rs).
#pragma once

#include <cstdint>

#include "polkavm/export.h"
#include "polkavm/error.hpp"

namespace polkavm {

inline constexpr uint32_t kMinPageSize = 0x1000;   ///< the smallest page size a module may have
inline constexpr uint32_t kMaxPageSize = 0x10000;  ///< the largest page size; also the regions' alignment
inline constexpr uint32_t kAddressSpaceBottom = 0x10000;  ///< below it: the guard region at address 0
inline constexpr uint32_t kAddressSpaceTop = 0xFFFF0000u;  ///< at and above it: the guard region at the top

/// [0, 64K) guard | RO | guard | RW + heap | guard | stack | 64K guard | aux | [0xFFFF0000, 4G) guard
struct POLKAVM_API MemoryMap {
  uint32_t page_size = kMinPageSize;  ///< the module's page size
  uint32_t ro_data_address = 0;  ///< start of the read-only data (kAddressSpaceBottom)
  uint32_t ro_data_size = 0;  ///< page-aligned
  uint32_t rw_data_address = 0;  ///< start of the read-write data
  uint32_t rw_data_size = 0;  ///< page-aligned
  uint32_t heap_base = 0;     ///< rw_data_address + declared (unaligned) rw size
  uint32_t max_heap_size = 0;  ///< how far sbrk can grow the heap from heap_base
  uint32_t stack_address_low = 0;  ///< the lowest stack address
  uint32_t stack_address_high = 0;  ///< one past the highest stack address; also the default stack pointer
  uint32_t aux_data_address = 0;  ///< start of the aux data
  uint32_t aux_data_size = 0;  ///< page-aligned

  uint32_t stack_size() const { return stack_address_high - stack_address_low; }  ///< the stack's size in bytes

  /// The layout for these sizes (each rounded up to pages). Fails with "invalid page size" or "maximum memory
  /// size exceeded" as the reference does.
  static Result<MemoryMap> build(uint32_t page_size, uint32_t ro_data_size, uint32_t rw_data_size,
                                 uint32_t stack_size, uint32_t aux_data_size = 0);
};

}  // namespace polkavm
