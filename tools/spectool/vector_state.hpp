// The machine state that test vectors describe (pages, memory chunks, the observed outcome of a run) and
// the operations both the vector runner and the vector generator perform on an instance.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "polkavm/runtime.hpp"

namespace polkavm::vectors {

inline constexpr uint32_t kPageSize = 0x1000;

struct Page {
  uint32_t address = 0;
  uint32_t length = 0;
  bool is_writable = false;
  bool operator==(const Page&) const = default;
};

struct Chunk {
  uint32_t address = 0;
  std::vector<uint8_t> contents;
  bool operator==(const Chunk&) const = default;
};

/// What a run left behind, in the vectors' vocabulary.
struct Observed {
  std::string status;  // "halt", "panic", "ecalli", "page-fault", "out-of-gas"; empty until the first run
  std::optional<uint32_t> page_fault_address;
  std::optional<uint32_t> hostcall;
  std::optional<uint32_t> pc;
  Gas gas = 0;
  std::array<uint64_t, kRegCount> regs{};
};

/// Runs until an interrupt other than Step and records the outcome. Step interrupts (when tracing) record the
/// pc, which is how the pc of a halting jump is known: after Finished the instance reports no program counter.
Result<void> execute(RawInstance& instance, Observed& observed);

/// Maps `page` zero-filled with its protection.
Result<void> map_page(RawInstance& instance, const Page& page);

/// Writes `chunk` even into read-only pages (lifting the protection for the write), as the vectors expect.
Result<void> write_chunk(RawInstance& instance, const Chunk& chunk);

/// The whole file as text.
Result<std::string> read_text(const std::filesystem::path& path);

/// The runs of non-zero bytes in `bytes`, which start at guest address `base`.
std::vector<Chunk> nonzero_chunks(uint32_t base, std::span<const uint8_t> bytes);

}  // namespace polkavm::vectors
