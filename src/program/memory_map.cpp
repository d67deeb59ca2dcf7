// The guest address-space layout (the reference's MemoryMapBuilder::build in
// crates/polkavm-common/src/abi.rs), with the same errors in the same order.
#include <bit>
#include <optional>

#include "polkavm/memory_map.hpp"

namespace polkavm {

namespace {

// Rounds `value` up to a multiple of `alignment` (a power of two); nothing when the result leaves u32.
std::optional<uint32_t> align_up_u32(uint32_t alignment, uint32_t value) {
  const uint64_t aligned = (uint64_t{value} + alignment - 1) & ~uint64_t{alignment - 1};
  if (aligned > UINT32_MAX) return std::nullopt;
  return static_cast<uint32_t>(aligned);
}

// Address-space reservations are 64 KiB aligned and computed in 64 bits, so they cannot overflow.
uint64_t reserve(uint32_t size) { return (uint64_t{size} + kMaxPageSize - 1) & ~uint64_t{kMaxPageSize - 1}; }

}  // namespace

Result<MemoryMap> MemoryMap::build(uint32_t page_size, uint32_t ro_data_size, uint32_t rw_data_size,
                                   uint32_t stack_size, uint32_t aux_data_size) {
  if (page_size < kMinPageSize) return Error("invalid page size: page size is too small");
  if (page_size > kMaxPageSize) return Error("invalid page size: page size is too big");
  if (!std::has_single_bit(page_size)) return Error("invalid page size: page size is not a power of two");

  const auto ro_mapped = align_up_u32(page_size, ro_data_size);
  if (!ro_mapped) return Error("the size of read-only data is too big");
  const auto rw_mapped = align_up_u32(page_size, rw_data_size);
  if (!rw_mapped) return Error("the size of read-write data is too big");
  const auto stack_mapped = align_up_u32(page_size, stack_size);
  if (!stack_mapped) return Error("the size of the stack is too big");
  const auto aux_mapped = align_up_u32(page_size, aux_data_size);
  if (!aux_mapped) return Error("the size of the aux data is too big");

  // Growing up from the bottom: guard, RO, guard, RW + heap, guard.
  uint64_t low = kAddressSpaceBottom + reserve(ro_data_size) + kMaxPageSize;
  const uint64_t rw_data_address = low;
  const uint64_t heap_base = low + rw_data_size;
  low += reserve(rw_data_size);
  const uint64_t heap_slack = low - heap_base;
  low += kMaxPageSize;

  // Growing down from the top: aux, guard, stack.
  int64_t high = kAddressSpaceTop;
  high -= static_cast<int64_t>(reserve(aux_data_size));
  const uint32_t aux_data_address = static_cast<uint32_t>(high);
  high -= kMaxPageSize;
  const uint32_t stack_address_high = static_cast<uint32_t>(high);
  high -= static_cast<int64_t>(reserve(stack_size));

  if (static_cast<int64_t>(low) > high) return Error("maximum memory size exceeded");

  MemoryMap map;
  map.page_size = page_size;
  map.ro_data_address = kAddressSpaceBottom;
  map.ro_data_size = *ro_mapped;
  map.rw_data_address = static_cast<uint32_t>(rw_data_address);
  map.rw_data_size = *rw_mapped;
  map.heap_base = static_cast<uint32_t>(heap_base);
  map.max_heap_size = static_cast<uint32_t>(static_cast<uint64_t>(high) - low + heap_slack);
  map.stack_address_high = stack_address_high;
  map.stack_address_low = stack_address_high - *stack_mapped;
  map.aux_data_address = aux_data_address;
  map.aux_data_size = *aux_mapped;
  return map;
}

}  // namespace polkavm
