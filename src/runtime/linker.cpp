// The typed host-function layer's untyped core (polkavm/linker.hpp): resolving a module's imports and
// exports, and the call loop that answers ecallis and the segfaults of dynamic paging.
#include "polkavm/linker.hpp"

#include <fmt/format.h>

#include "polkavm/debug_info.hpp"

namespace polkavm {

namespace detail {

Result<std::shared_ptr<const PreState>> resolve(
    const Module& module, const std::map<std::string, std::shared_ptr<const HostFunction>, std::less<>>& functions,
    std::shared_ptr<const std::function<Result<void>(RawInstance&, void*, uint32_t)>> fallback) {
  auto state = std::make_shared<PreState>(PreState{module, {}, {}, std::move(fallback)});
  const bool strict = module.config().strict;
  for (const ProgramExport& e : module.exports()) {
    if (!state->exports.emplace(e.symbol, e.pc).second && strict) return Error("duplicate export: " + e.symbol, ErrorKind::InvalidBlob);
  }
  const bool is_64_bit = module.is_64_bit();
  for (const std::string& symbol : module.imports()) {
    auto found = functions.find(symbol);
    if (found == functions.end()) {
      if (strict && !state->fallback) return Error("missing host function: " + symbol, ErrorKind::InvalidArgument);
      state->imports.push_back(nullptr);  // calling it traps (or reaches the fallback)
      continue;
    }
    const size_t regs = is_64_bit ? found->second->regs_64 : found->second->regs_32;
    if (regs > kArgRegs.size())
      return Error(fmt::format("host function {} takes {} argument registers in a {}-bit program (at most {})", symbol,
                               regs, is_64_bit ? 64 : 32, kArgRegs.size()),
                   ErrorKind::InvalidArgument);
    state->imports.push_back(found->second);
  }
  return std::shared_ptr<const PreState>(std::move(state));
}

Result<uint32_t> export_pc(const PreState& pre, std::string_view entry) {
  auto found = pre.exports.find(entry);
  if (found == pre.exports.end()) return Error(fmt::format("failed to find export: {}", entry), ErrorKind::InvalidArgument);
  return found->second;
}

namespace {

CallError trap_of(const RawInstance& instance) {
  const std::optional<uint32_t> pc = instance.program_counter();
  std::optional<std::string> location;
  if (pc) {
    if (Result<std::optional<SourceLocation>> found = source_location(instance.module().blob(), *pc); found && *found)
      location = to_string(**found);
  }
  return CallError::trap(pc, std::move(location));
}

/// The reference's default answer to a segfault under dynamic paging: a stack page is mapped zeroed, a page
/// of RO or RW data is mapped with the blob's bytes (RO data read-only again afterwards); anything else traps.
/// True when the page was mapped.
Result<bool> resolve_segfault(RawInstance& instance, const Segfault& segfault) {
  const Module& module = instance.module();
  const MemoryMap& map = module.memory_map();
  const uint64_t begin = segfault.page_address, end = begin + segfault.page_size;
  auto failed = [&](const char* what, const Error& error) {
    return Error(fmt::format("failed to {} when handling a segfault at 0x{:x}: {}", what, begin, error.message()));
  };
  if (begin >= map.stack_address_low && end <= map.stack_address_high) {
    if (Result<void> r = instance.zero_memory_with_memory_protection(segfault.page_address, segfault.page_size,
                                                                     MemoryProtection::ReadWrite);
        !r)
      return failed("zero memory", r.error());
    return true;
  }
  struct Region {
    uint64_t address, size;
    const std::vector<uint8_t>& data;
    bool read_only;
  };
  const Region regions[] = {{map.ro_data_address, map.ro_data_size, module.blob().ro_data, true},
                            {map.rw_data_address, map.rw_data_size, module.blob().rw_data, false}};
  for (const Region& region : regions) {
    if (begin < region.address || end > region.address + region.size) continue;
    const uint64_t offset = begin - region.address;
    const bool has_data = offset < region.data.size();
    // A page holding blob data is mapped writable first, so that the host can fill it.
    const MemoryProtection initial =
        has_data || !region.read_only ? MemoryProtection::ReadWrite : MemoryProtection::Read;
    if (Result<void> r = instance.zero_memory_with_memory_protection(segfault.page_address, segfault.page_size, initial);
        !r)
      return failed("zero memory", r.error());
    if (has_data) {
      const uint64_t length = std::min<uint64_t>(region.data.size() - offset, segfault.page_size);
      if (Result<void> r = instance.write_memory(
              segfault.page_address, std::span<const uint8_t>(region.data.data() + offset, static_cast<size_t>(length)));
          !r)
        return failed("write memory", r.error());
      if (region.read_only)
        if (Result<void> r = instance.protect_memory(segfault.page_address, segfault.page_size); !r)
          return failed("protect memory", r.error());
    }
    return true;
  }
  return false;
}

}  // namespace

CallResult<void> run_call(const PreState& pre, RawInstance& instance, void* user_data) {
  for (;;) {
    Result<Interrupt> interrupt = instance.run();
    if (!interrupt) return CallError::error(interrupt.error());
    switch (interrupt->kind) {
      case Interrupt::Kind::Finished: return {};
      case Interrupt::Kind::Trap: return trap_of(instance);
      case Interrupt::Kind::NotEnoughGas: return CallError::not_enough_gas();
      case Interrupt::Kind::Step: return CallError::step();
      case Interrupt::Kind::Ecalli: {
        const uint32_t index = interrupt->hostcall;
        const HostFunction* host = index < pre.imports.size() ? pre.imports[index].get() : nullptr;
        Result<void> answered;
        if (host != nullptr) {
          answered = host->fn(instance, user_data);
        } else if (pre.fallback) {
          answered = (*pre.fallback)(instance, user_data, index);
        } else {
          return trap_of(instance);  // a host function nobody defined
        }
        if (!answered) return CallError::user(answered.error());
        break;
      }
      case Interrupt::Kind::Segfault: {
        Result<bool> mapped = resolve_segfault(instance, interrupt->segfault);
        if (!mapped) return CallError::error(mapped.error());
        if (!*mapped) return trap_of(instance);
        break;
      }
    }
  }
}

}  // namespace detail

std::string CallError::to_string() const {
  switch (kind_) {
    case Kind::Trap: {
      std::string text = pc_ ? fmt::format("trap at pc 0x{:x}", *pc_) : std::string("trap");
      if (location_) text += " (" + *location_ + ")";
      return text;
    }
    case Kind::NotEnoughGas: return "not enough gas";
    case Kind::Step: return "stopped by step tracing";
    case Kind::User: return "host function failed: " + message_;
    case Kind::Error: return message_;
  }
  return message_;
}

}  // namespace polkavm
