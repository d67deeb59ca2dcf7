// The linker's state and passes, shared by linker.cpp (sections, decoding, blocks, reachability, imports),
// relocations.cpp (relocations, metadata, exports) and layout.cpp (data layout, pointers, code emission).
#pragma once

#include <elf.h>
#include <fmt/format.h>

#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "linker/elf.hpp"
#include "linker/ir.hpp"
#include "linker/riscv.hpp"
#include "polkavm/elf_linker.hpp"

namespace polkavm::linker {

// Relocation types missing from older <elf.h>.
constexpr uint32_t kRelocSetUleb128 = 60;
constexpr uint32_t kRelocSubUleb128 = 61;

// The reference's custom-0 instructions (crates/polkavm-linker/src/program_from_elf.rs, FUNC3_*).
constexpr uint32_t kEcalliWord = 0x0000000b;  // `.insn r 0xb, 0, 0, zero, zero, zero`: an import stub
constexpr uint32_t kMaxInputRegs = 9;
constexpr uint32_t kMaxOutputRegs = 2;

inline Error fail(const std::string& message) { return Error("failed to link ELF: " + message); }

// "relocation R_RISCV_TPREL_HI20", or "relocation type 200" for a number without a name.
inline std::string relocation_kind(uint32_t type) {
  const std::string name = relocation_name(type);
  return name.starts_with("R_") ? "relocation " + name : name;
}

// Little-endian; the caller has checked the bounds.
inline uint64_t read_uint(std::span<const uint8_t> data, size_t offset, size_t size) {
  uint64_t value = 0;
  for (size_t i = 0; i < size; ++i) value |= uint64_t{data[offset + i]} << (8 * i);
  return value;
}

inline uint64_t align_up(uint64_t value, uint64_t align) { return (value + align - 1) / align * align; }

enum class SectionKind : uint8_t { None, Code, RoData, RwData, Bss, Metadata, Exports, MinStackSize };

// A pointer in data: where the relocation points, as the reference's RelocationKind.
struct DataReloc {
  enum class Kind : uint8_t {
    Abs,        // the address of `target`
    JumpTable,  // address of code `target` minus the address of `origin` (a relative switch table entry)
    Offset,     // address of `target` minus the address of `origin`
  };
  enum class Size : uint8_t { U8, U16, U32, U64, Six, Uleb128 };
  Kind kind = Kind::Abs;
  Size size = Size::U64;
  Location target;
  Location origin;
};

inline uint32_t byte_size(DataReloc::Size size) {
  switch (size) {
    case DataReloc::Size::U8: return 1;
    case DataReloc::Size::U16: return 2;
    case DataReloc::Size::U32: return 4;
    case DataReloc::Size::U64: return 8;
    case DataReloc::Size::Six: return 1;
    case DataReloc::Size::Uleb128: return 1;
  }
  return 1;
}

// The reference's ExternMetadata: what an import or export declares about itself.
struct ExternMetadata {
  std::optional<uint32_t> index;
  std::string symbol;
  uint8_t input_regs = 0;
  uint8_t output_regs = 0;
  auto operator<=>(const ExternMetadata&) const = default;
};

struct Export {
  Location location;
  ExternMetadata metadata;
};

// Replacement of an instruction decided by its relocations.
struct Override {
  std::vector<Op> ops;
  std::optional<Terminator> terminator;
};

inline Instruction make(Opcode op, std::initializer_list<Reg> regs = {}) {
  Instruction insn;
  insn.opcode = op;
  insn.valid = true;
  size_t i = 0;
  for (Reg reg : regs) insn.reg[i++] = static_cast<uint8_t>(reg);
  return insn;
}

inline std::optional<Opcode> absolute_load(RvOp op) {
  switch (op) {
    case RvOp::LB: return Opcode::load_i8;
    case RvOp::LH: return Opcode::load_i16;
    case RvOp::LW: return Opcode::load_i32;
    case RvOp::LD: return Opcode::load_u64;
    case RvOp::LBU: return Opcode::load_u8;
    case RvOp::LHU: return Opcode::load_u16;
    case RvOp::LWU: return Opcode::load_u32;
    default: return std::nullopt;
  }
}

inline std::optional<std::pair<Opcode, Opcode>> absolute_store(RvOp op) {
  switch (op) {
    case RvOp::SB: return std::pair{Opcode::store_u8, Opcode::store_imm_u8};
    case RvOp::SH: return std::pair{Opcode::store_u16, Opcode::store_imm_u16};
    case RvOp::SW: return std::pair{Opcode::store_u32, Opcode::store_imm_u32};
    case RvOp::SD: return std::pair{Opcode::store_u64, Opcode::store_imm_u64};
    default: return std::nullopt;
  }
}

/// One link: the ELF, what the passes learn about it, and the blob they build. link() runs the passes in the
/// order linker.cpp describes; each returns the first error it meets.
class Linker {
 public:
  Linker(const ElfLinkerConfig& config, ElfFile elf, std::span<const uint8_t> input)
      : config_(config), elf_(std::move(elf)), input_(input) {}
  Result<ProgramBlob> link();

 private:
  // ---- helpers ----
  uint32_t pointer_size() const { return elf_.is_64 ? 8 : 4; }
  const ElfSection& section(uint32_t index) const { return elf_.sections[index]; }
  SectionKind kind(uint32_t index) const { return kinds_[index]; }
  bool is_code(uint32_t index) const { return kind(index) == SectionKind::Code; }
  bool is_data(uint32_t index) const {
    const SectionKind k = kind(index);
    return k == SectionKind::RoData || k == SectionKind::RwData || k == SectionKind::Bss;
  }
  std::string describe(Location location) const;
  Result<std::optional<Location>> relocation_target(const ElfSection& in, const ElfRelocation& relocation) const;
  Result<uint64_t> relocation_offset(const ElfSection& in, const ElfRelocation& relocation, uint64_t width) const;
  const DataReloc* data_reloc_at(Location location) const;
  std::optional<uint32_t> block_at(Location location) const;

  // ---- passes ----
  Result<void> choose_isa();
  Result<void> classify_sections();
  Result<void> harvest_data_relocations(uint32_t index, bool lenient);
  Result<void> harvest_code_relocations(uint32_t index);
  Result<ExternMetadata> parse_metadata(Location location);
  Result<void> parse_exports(uint32_t index);
  Result<void> decode_code_section(uint32_t index);
  void add_inst(const SourceInst& inst);
  Result<bool> decode_unrelocated_auipc(const ElfSection& text, uint64_t offset, const RvInst& auipc,
                                        SourceInst& out);
  Result<void> build_blocks();
  void compute_reachability();
  Result<void> assign_imports();
  Result<void> lay_out_data();
  Result<uint64_t> address_of(Location location) const;
  Result<void> apply_data_relocations();
  Result<ProgramBlob> emit();

  Result<Override> lower_with_target(const RvInst& inst, Location location, std::optional<Location> target);
  Result<RvInst> decode_at(const ElfSection& text, uint64_t offset, const char* what) const;

  const ElfLinkerConfig& config_;
  ElfFile elf_;
  std::span<const uint8_t> input_;  // the ELF's bytes, for its DWARF (dwarf.cpp)
  InstructionSet isa_ = InstructionSet::Latest64;
  std::vector<SectionKind> kinds_;
  uint32_t regspill_ = 0;  // the synthetic section the lowering spills borrowed registers to

  // Sorted by location. Those of sections that are not loaded are harvested only when extern metadata is read
  // from such a section (parse_metadata): mostly they are debug information's, and nothing else reads them.
  std::vector<std::pair<Location, DataReloc>> data_relocs_;
  std::vector<bool> harvested_;  // by section: its relocations are in data_relocs_
  std::map<Location, Location> code_pointers_;  // pointer-sized relocations inside code (import stubs)
  std::map<Location, Override> overrides_;
  std::vector<Export> exports_;
  std::vector<ExternMetadata> imports_;  // distinct, in order of first appearance
  std::vector<DecodedInst> insts_;  // in location order
  std::vector<Op> inst_ops_;  // the ops of insts_, until build_blocks moves them into the blocks
  std::vector<Terminator> inst_terminators_;

  std::vector<Block> blocks_;  // in order of their start
  std::vector<bool> reachable_;
  std::vector<bool> dynamic_;  // the block's address is taken: it needs a jump-table entry
  std::set<uint32_t> reachable_sections_;

  std::vector<uint32_t> import_index_;  // imports_[i] -> ecalli number (UINT32_MAX: unused)
  std::vector<std::string> import_names_;
  std::map<uint32_t, uint64_t> section_base_;
  std::map<uint32_t, std::vector<uint8_t>> section_bytes_;  // patched copies of laid-out PROGBITS sections
  std::vector<uint32_t> ro_sections_, rw_sections_;
  uint64_t rw_start_ = 0;
  uint32_t ro_data_size_ = 0, rw_data_size_ = 0, stack_size_ = 0, heap_base_ = 0;
  std::vector<uint8_t> ro_data_, rw_data_;
  std::vector<uint32_t> jump_table_index_;  // block -> index in the jump table (UINT32_MAX: none)
};

}  // namespace polkavm::linker
