#include "vector_state.hpp"

#include <fmt/format.h>

#include <fstream>
#include <sstream>

namespace polkavm::vectors {
namespace {

std::string_view status_of(Interrupt::Kind kind) {
  switch (kind) {
    case Interrupt::Kind::Finished: return "halt";
    case Interrupt::Kind::Trap: return "panic";
    case Interrupt::Kind::Ecalli: return "ecalli";
    case Interrupt::Kind::Segfault: return "page-fault";
    case Interrupt::Kind::NotEnoughGas: return "out-of-gas";
    case Interrupt::Kind::Step: return "step";
  }
  return "unknown";
}

}  // namespace

Result<void> execute(RawInstance& instance, Observed& observed) {
  while (true) {
    auto interrupt = instance.run();
    if (!interrupt) return interrupt.error();
    if (interrupt->kind == Interrupt::Kind::Step) {
      observed.pc = instance.program_counter();
      continue;
    }
    observed.status = status_of(interrupt->kind);
    observed.page_fault_address.reset();
    observed.hostcall.reset();
    if (interrupt->kind == Interrupt::Kind::Segfault) observed.page_fault_address = interrupt->segfault.page_address;
    if (interrupt->kind == Interrupt::Kind::Ecalli) observed.hostcall = interrupt->hostcall;
    if (auto pc = instance.program_counter()) observed.pc = pc;
    observed.gas = instance.gas();
    for (int i = 0; i < kRegCount; ++i) observed.regs[i] = instance.reg(static_cast<Reg>(i));
    return {};
  }
}

Result<void> map_page(RawInstance& instance, const Page& page) {
  auto protection = page.is_writable ? MemoryProtection::ReadWrite : MemoryProtection::Read;
  return instance.zero_memory_with_memory_protection(page.address, page.length, protection);
}

Result<void> write_chunk(RawInstance& instance, const Chunk& chunk) {
  if (chunk.contents.empty()) return {};
  uint64_t first = chunk.address / kPageSize * kPageSize;
  uint64_t end = uint64_t(chunk.address) + chunk.contents.size();
  std::vector<uint32_t> read_only;
  for (uint64_t page = first; page < end; page += kPageSize) {
    auto address = static_cast<uint32_t>(page);
    if (!instance.is_memory_accessible(address, kPageSize, MemoryProtection::ReadWrite)) {
      if (auto r = instance.unprotect_memory(address, kPageSize); !r) return r;
      read_only.push_back(address);
    }
  }
  auto written = instance.write_memory(chunk.address, chunk.contents);
  for (uint32_t address : read_only)
    if (auto r = instance.protect_memory(address, kPageSize); !r) return r;
  return written;
}

Result<std::string> read_text(const std::filesystem::path& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return Error(fmt::format("cannot open {}", path.string()));
  std::ostringstream text;
  text << file.rdbuf();
  if (file.bad()) return Error(fmt::format("cannot read {}", path.string()));
  return text.str();
}

std::vector<Chunk> nonzero_chunks(uint32_t base, std::span<const uint8_t> bytes) {
  std::vector<Chunk> chunks;
  for (size_t i = 0; i < bytes.size();) {
    if (bytes[i] == 0) {
      ++i;
      continue;
    }
    size_t end = i;
    while (end < bytes.size() && bytes[end] != 0) ++end;
    chunks.push_back({base + static_cast<uint32_t>(i), {bytes.begin() + i, bytes.begin() + end}});
    i = end;
  }
  return chunks;
}

}  // namespace polkavm::vectors
