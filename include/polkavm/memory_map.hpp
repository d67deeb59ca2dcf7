// The reference's guest memory layout (crates/polkavm-common/src/abi.rs).
#pragma once

#include <cstdint>

#include "polkavm/error.hpp"

namespace polkavm {

inline constexpr uint32_t kMinPageSize = 0x1000;
inline constexpr uint32_t kMaxPageSize = 0x10000;
inline constexpr uint32_t kAddressSpaceBottom = 0x10000;
inline constexpr uint32_t kAddressSpaceTop = 0xFFFF0000u;

/// [0, 64K) guard | RO | guard | RW + heap | guard | stack | 64K guard | aux | [0xFFFF0000, 4G) guard
struct MemoryMap {
  uint32_t page_size = kMinPageSize;
  uint32_t ro_data_address = 0;
  uint32_t ro_data_size = 0;  // page-aligned
  uint32_t rw_data_address = 0;
  uint32_t rw_data_size = 0;  // page-aligned
  uint32_t heap_base = 0;     // rw_data_address + declared (unaligned) rw size
  uint32_t max_heap_size = 0;
  uint32_t stack_address_low = 0;
  uint32_t stack_address_high = 0;  // also the default stack pointer
  uint32_t aux_data_address = 0;
  uint32_t aux_data_size = 0;  // page-aligned

  uint32_t stack_size() const { return stack_address_high - stack_address_low; }

  /// Fails with "invalid page size" or "maximum memory size exceeded" as the reference does.
  static Result<MemoryMap> build(uint32_t page_size, uint32_t ro_data_size, uint32_t rw_data_size,
                                 uint32_t stack_size, uint32_t aux_data_size = 0);
};

}  // namespace polkavm
