// ELF -> PolkaVM program blob. The passes, in order:
//   1. sort the ELF's sections into code, RO data, RW data, BSS and the PolkaVM metadata sections;
//   2. harvest relocations: data relocations become symbolic pointers (a target Location), code relocations
//      replace the instructions they apply to (an auipc + addi pair becomes one address load, a jal a call);
//   3. read the exports and decode every code section into PolkaVM instructions (import stubs become ecalli);
//   4. split the code into basic blocks at every jump target and every address taken;
//   5. find what the exports can reach (with opt level >= 1 everything else is dropped);
//   6. lay out RO and RW data as the VM will map it, and patch the data relocations;
//   7. emit code: one label per block, a jump-table entry for every block whose address is taken.
// Addresses in the input are never trusted: every pointer in the output comes from a relocation.
#include <elf.h>
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

#include "linker/elf.hpp"
#include "linker/ir.hpp"
#include "linker/lower.hpp"
#include "linker/optimize.hpp"
#include "linker/riscv.hpp"
#include "polkavm/linker.hpp"
#include "polkavm/memory_map.hpp"

namespace polkavm {

namespace linker {
namespace {

// Relocation types missing from older <elf.h>.
constexpr uint32_t kRelocSetUleb128 = 60;
constexpr uint32_t kRelocSubUleb128 = 61;

// The reference's custom-0 instructions (crates/polkavm-linker/src/program_from_elf.rs, FUNC3_*).
constexpr uint32_t kEcalliWord = 0x0000000b;  // `.insn r 0xb, 0, 0, zero, zero, zero`: an import stub
constexpr uint32_t kMaxInputRegs = 9;
constexpr uint32_t kMaxOutputRegs = 2;

Error fail(const std::string& message) { return Error("failed to link ELF: " + message); }

// "relocation R_RISCV_TPREL_HI20", or "relocation type 200" for a number without a name.
std::string relocation_kind(uint32_t type) {
  const std::string name = relocation_name(type);
  return name.starts_with("R_") ? "relocation " + name : name;
}

// Little-endian; the caller has checked the bounds.
uint64_t read_uint(std::span<const uint8_t> data, size_t offset, size_t size) {
  uint64_t value = 0;
  for (size_t i = 0; i < size; ++i) value |= uint64_t{data[offset + i]} << (8 * i);
  return value;
}

uint64_t align_up(uint64_t value, uint64_t align) { return (value + align - 1) / align * align; }

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

uint32_t byte_size(DataReloc::Size size) {
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

Instruction make(Opcode op, std::initializer_list<Reg> regs = {}) {
  Instruction insn;
  insn.opcode = op;
  insn.valid = true;
  size_t i = 0;
  for (Reg reg : regs) insn.reg[i++] = static_cast<uint8_t>(reg);
  return insn;
}

std::optional<Opcode> absolute_load(RvOp op) {
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

std::optional<std::pair<Opcode, Opcode>> absolute_store(RvOp op) {
  switch (op) {
    case RvOp::SB: return std::pair{Opcode::store_u8, Opcode::store_imm_u8};
    case RvOp::SH: return std::pair{Opcode::store_u16, Opcode::store_imm_u16};
    case RvOp::SW: return std::pair{Opcode::store_u32, Opcode::store_imm_u32};
    case RvOp::SD: return std::pair{Opcode::store_u64, Opcode::store_imm_u64};
    default: return std::nullopt;
  }
}

class Linker {
 public:
  Linker(const LinkerConfig& config, ElfFile elf) : config_(config), elf_(std::move(elf)) {}
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

  // ---- passes ----
  Result<void> choose_isa();
  Result<void> classify_sections();
  Result<void> harvest_data_relocations(uint32_t index, bool lenient);
  Result<void> harvest_code_relocations(uint32_t index);
  Result<ExternMetadata> parse_metadata(Location location) const;
  Result<void> parse_exports(uint32_t index);
  Result<void> decode_code_section(uint32_t index);
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

  const LinkerConfig& config_;
  ElfFile elf_;
  InstructionSet isa_ = InstructionSet::Latest64;
  std::vector<SectionKind> kinds_;
  uint32_t regspill_ = 0;  // the synthetic section the lowering spills borrowed registers to

  std::map<Location, DataReloc> data_relocs_;
  std::map<Location, Location> code_pointers_;  // pointer-sized relocations inside code (import stubs)
  std::map<Location, Override> overrides_;
  std::vector<Export> exports_;
  std::vector<ExternMetadata> imports_;  // distinct, in order of first appearance
  std::vector<SourceInst> insts_;

  std::vector<Block> blocks_;
  std::map<Location, uint32_t> block_at_;
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

// "0x1234 in '.text' (function 'foo')": the original address, so it can be looked up with objdump.
std::string Linker::describe(Location location) const {
  if (location.section >= elf_.sections.size()) return "an unknown location";
  const ElfSection& sec = section(location.section);
  std::string text = fmt::format("0x{:x} in '{}'", sec.address + location.offset, sec.name);
  const uint64_t address = elf_.type == ET_REL ? location.offset : sec.address + location.offset;
  for (const ElfSymbol& symbol : elf_.symbols) {
    if (symbol.type != STT_FUNC || symbol.section != location.section || symbol.name.empty()) continue;
    if (address >= symbol.value && address < symbol.value + std::max<uint64_t>(symbol.size, 1)) {
      text += fmt::format(" (function '{}')", symbol.name);
      break;
    }
  }
  return text;
}

Result<void> Linker::choose_isa() {
  isa_ = config_.isa.value_or(elf_.is_64 ? InstructionSet::Latest64 : InstructionSet::Latest32);
  if (is_64_bit(isa_) && !elf_.is_64)
    return fail(fmt::format("the {} instruction set needs a 64-bit (RV64) ELF file, but this one is 32-bit",
                            instruction_set_name(isa_)));
  if (!is_64_bit(isa_) && elf_.is_64)
    return fail(fmt::format("the {} instruction set needs a 32-bit (RV32) ELF file, but this one is 64-bit",
                            instruction_set_name(isa_)));
  return {};
}

bool has_prefix(const std::string& name, const char* base) {
  const std::string b = base;
  return name == b || name.starts_with(b + ".");
}

Result<void> Linker::classify_sections() {
  kinds_.assign(elf_.sections.size(), SectionKind::None);
  bool has_code = false;
  for (uint32_t i = 1; i < elf_.sections.size(); ++i) {
    const ElfSection& sec = section(i);
    const std::string& name = sec.name;
    SectionKind kind = SectionKind::None;
    if (sec.is_allocated() && sec.is_tls())
      return fail(fmt::format("unsupported section '{}': thread-local storage is not supported", name));
    if (has_prefix(name, ".rodata") || name.starts_with(".srodata.") || has_prefix(name, ".data.rel.ro") ||
        name == ".got" || name == ".got.plt" || name == ".relro_padding") {
      if (name == ".rodata" && sec.is_writable())
        return fail("expected section '.rodata' to be read-only, yet it is writable");
      kind = SectionKind::RoData;
    } else if (has_prefix(name, ".data") || has_prefix(name, ".sdata")) {
      if (!sec.is_writable())
        return fail(fmt::format("expected section '{}' to be writable, yet it is read-only", name));
      kind = SectionKind::RwData;
    } else if (has_prefix(name, ".bss") || has_prefix(name, ".sbss")) {
      if (!sec.is_writable())
        return fail(fmt::format("expected section '{}' to be writable, yet it is read-only", name));
      kind = SectionKind::Bss;
    } else if (has_prefix(name, ".text") || (sec.is_allocated() && sec.is_executable())) {
      if (sec.is_writable())
        return fail(fmt::format("expected section '{}' to be read-only, yet it is writable", name));
      kind = SectionKind::Code;
    } else if (name == ".polkavm_metadata") {
      kind = SectionKind::Metadata;
    } else if (name == ".polkavm_exports") {
      kind = SectionKind::Exports;
    } else if (name == ".polkavm_min_stack_size") {
      kind = SectionKind::MinStackSize;
    } else if (name == ".eh_frame" || name == ".eh_frame_hdr" || name == ".dynsym" || name == ".dynstr" ||
               name == ".dynamic" || !sec.is_allocated()) {
      kind = SectionKind::None;
    } else if (sec.type == SHT_HASH || sec.type == SHT_GNU_HASH || sec.type == SHT_DYNSYM ||
               sec.type == SHT_STRTAB || sec.type == SHT_RELA || sec.type == SHT_REL || sec.type == SHT_NOTE ||
               sec.type == SHT_GNU_versym || sec.type == SHT_GNU_verdef || sec.type == SHT_GNU_verneed) {
      kind = SectionKind::None;  // the dynamic linker's tables
    } else if (sec.type == SHT_PROGBITS && !sec.is_executable()) {
      kind = sec.is_writable() ? SectionKind::RwData : SectionKind::RoData;
    } else if (sec.type == SHT_NOBITS && sec.is_writable()) {
      kind = SectionKind::Bss;
    } else {
      return fail(fmt::format("unsupported section '{}' (type 0x{:x}, flags 0x{:x}): it is loaded into memory but "
                              "PolkaVM has no place for it",
                              name, sec.type, sec.flags));
    }
    if (kind == SectionKind::Code) {
      if (sec.type == SHT_NOBITS) return fail(fmt::format("code section '{}' has no contents", name));
      if (sec.size % 2 != 0) return fail(fmt::format("the size of code section '{}' is not a multiple of 2", name));
      has_code |= sec.size > 0;
    }
    if (sec.align > kMaxPageSize && (kind == SectionKind::RoData || kind == SectionKind::RwData || kind == SectionKind::Bss))
      return fail(fmt::format("section '{}' asks for an alignment of {} bytes; at most {} is supported", name, sec.align,
                              kMaxPageSize));
    kinds_[i] = kind;
  }
  if (!has_code) return fail("the program contains no code");

  // Spill slots for registers the lowering borrows; only laid out when something uses them.
  ElfSection spill;
  spill.index = static_cast<uint32_t>(elf_.sections.size());
  spill.name = ".regspill";
  spill.type = SHT_PROGBITS;
  spill.flags = SHF_ALLOC | SHF_WRITE;
  spill.size = 3 * pointer_size();
  spill.align = pointer_size();
  spill.data.assign(spill.size, 0);
  regspill_ = spill.index;
  elf_.sections.push_back(std::move(spill));
  kinds_.push_back(SectionKind::RwData);
  return {};
}

Result<uint64_t> Linker::relocation_offset(const ElfSection& in, const ElfRelocation& relocation,
                                           uint64_t width) const {
  const uint64_t base = elf_.type == ET_REL ? 0 : in.address;
  const uint64_t offset = relocation.offset - base;
  if (relocation.offset < base || offset > in.size || width > in.size - offset)
    return fail(fmt::format("relocation {} at 0x{:x} lies outside section '{}'", relocation_name(relocation.type),
                            relocation.offset, in.name));
  return offset;
}

// The place a relocation points to: its symbol's section and offset plus the addend.
Result<std::optional<Location>> Linker::relocation_target(const ElfSection& in,
                                                          const ElfRelocation& relocation) const {
  if (relocation.symbol == 0) return std::optional<Location>{};
  const ElfSymbol& symbol = elf_.symbols[relocation.symbol];
  const std::string name = symbol.name.empty() ? fmt::format("#{}", relocation.symbol) : "'" + symbol.name + "'";
  if (symbol.section == SHN_UNDEF)
    return fail(fmt::format("undefined symbol {} (referenced by {} at 0x{:x} in '{}')", name,
                            relocation_name(relocation.type), relocation.offset, in.name));
  if (symbol.section == SHN_ABS)
    return fail(fmt::format("symbol {} is absolute (referenced by {} at 0x{:x} in '{}'); only symbols in sections "
                            "can be relocated",
                            name, relocation_name(relocation.type), relocation.offset, in.name));
  if (symbol.section >= SHN_LORESERVE || symbol.section >= elf_.sections.size())
    return fail(fmt::format("symbol {} is in section #{}, which is not supported", name, symbol.section));
  const ElfSection& target = section(symbol.section);
  const uint64_t base = elf_.type == ET_REL ? 0 : target.address;
  if (symbol.value < base || symbol.value - base > target.size)
    return fail(fmt::format("symbol {} at 0x{:x} lies outside its section '{}'", name, symbol.value, target.name));
  return std::optional<Location>{
      Location{symbol.section, symbol.value - base + static_cast<uint64_t>(relocation.addend)}};
}

// ---- data relocations ----

// `lenient`: a section that is not loaded (debug information, or metadata in a section of its own). Its
// relocations matter only if metadata is read through them, so the ones that cannot be understood are
// dropped instead of failing the link.
Result<void> Linker::harvest_data_relocations(uint32_t index, bool lenient) {
  const ElfSection& sec = section(index);
  const bool is_exports = kind(index) == SectionKind::Exports;
  // One entry per relocated offset; pairs (ADD32 + SUB32, SET6 + SUB6, ...) share an offset.
  struct Part {
    uint32_t type;
    Location target;
  };
  std::map<uint64_t, std::vector<Part>> parts;
  for (const ElfRelocation& relocation : sec.relocations) {
    // Linker-relaxation hints (the export records are written as instructions) carry no address.
    if (relocation.type == R_RISCV_NONE || relocation.type == R_RISCV_RELAX || relocation.type == R_RISCV_ALIGN) continue;
    auto offset = relocation_offset(sec, relocation, 0);
    auto target = offset ? relocation_target(sec, relocation) : Result<std::optional<Location>>(offset.error());
    if (lenient && (!target || !*target)) continue;
    if (!target) return target.error();
    if (!*target)
      return fail(fmt::format("relocation {} at 0x{:x} in '{}' has no target symbol", relocation_name(relocation.type),
                              relocation.offset, sec.name));
    parts[*offset].push_back(Part{relocation.type, **target});
  }

  for (const auto& [offset, list] : parts) {
    const Location here{index, offset};
    auto unsupported = [&]() -> Result<void> {
      std::string names;
      for (const Part& part : list)
        names += names.empty() ? relocation_kind(part.type) : " + " + relocation_name(part.type);
      return fail(fmt::format("unsupported {} at {}", names, describe(here)));
    };
    auto abs_size = [&](uint32_t type) -> std::optional<DataReloc::Size> {
      switch (type) {
        case R_RISCV_32: case R_RISCV_SET32: return DataReloc::Size::U32;
        case R_RISCV_64: return DataReloc::Size::U64;
        case R_RISCV_SET8: return DataReloc::Size::U8;
        case R_RISCV_SET16: return DataReloc::Size::U16;
        default: return std::nullopt;
      }
    };
    auto add_size = [](uint32_t type) -> std::optional<DataReloc::Size> {
      switch (type) {
        case R_RISCV_ADD8: return DataReloc::Size::U8;
        case R_RISCV_ADD16: return DataReloc::Size::U16;
        case R_RISCV_ADD32: return DataReloc::Size::U32;
        case R_RISCV_ADD64: return DataReloc::Size::U64;
        default: return std::nullopt;
      }
    };
    auto sub_size = [](uint32_t type) -> std::optional<DataReloc::Size> {
      switch (type) {
        case R_RISCV_SUB8: return DataReloc::Size::U8;
        case R_RISCV_SUB16: return DataReloc::Size::U16;
        case R_RISCV_SUB32: return DataReloc::Size::U32;
        case R_RISCV_SUB64: return DataReloc::Size::U64;
        default: return std::nullopt;
      }
    };

    DataReloc reloc;
    if (list.size() == 1) {
      const Part& part = list[0];
      if (is_exports && part.type == R_RISCV_PCREL_HI20) {
        // The export macros write `auipc zero, %pcrel_hi(symbol)` to get a relocated pointer into a data section.
        reloc = {DataReloc::Kind::Abs, elf_.is_64 ? DataReloc::Size::U64 : DataReloc::Size::U32, part.target, {}};
      } else if (auto size = abs_size(part.type)) {
        reloc = {DataReloc::Kind::Abs, *size, part.target, {}};
      } else if (part.type == R_RISCV_32_PCREL) {
        reloc = {DataReloc::Kind::Offset, DataReloc::Size::U32, part.target, here};
      } else {
        if (lenient) continue;
        return unsupported();
      }
    } else if (list.size() == 2) {
      const Part& a = list[0];
      const Part& b = list[1];
      const auto size_a = add_size(a.type) ? add_size(a.type) : abs_size(a.type);
      const auto size_b = sub_size(b.type);
      if (size_a && size_b && *size_a == *size_b) {
        if (add_size(a.type) && is_code(a.target.section) && !is_code(b.target.section)) {
          // `.word .Ltarget - .Ltable`: a relative switch table. The code adds the table's address back
          // before jumping, so store (jump-table address of the target) - (address of the table).
          if (*size_a != DataReloc::Size::U32) {
            if (lenient) continue;
            return fail(fmt::format("unsupported {}-bit relative jump table entry at {}", 8 * byte_size(*size_a),
                                    describe(here)));
          }
          reloc = {DataReloc::Kind::JumpTable, DataReloc::Size::U32, a.target, b.target};
        } else {
          reloc = {DataReloc::Kind::Offset, *size_a, a.target, b.target};
        }
      } else if (a.type == R_RISCV_SET6 && b.type == R_RISCV_SUB6) {
        reloc = {DataReloc::Kind::Offset, DataReloc::Size::Six, a.target, b.target};
      } else if (a.type == kRelocSetUleb128 && b.type == kRelocSubUleb128) {
        reloc = {DataReloc::Kind::Offset, DataReloc::Size::Uleb128, a.target, b.target};
      } else {
        if (lenient) continue;
        return unsupported();
      }
    } else {
      if (lenient) continue;
      return unsupported();
    }
    if (offset + byte_size(reloc.size) > sec.size) {
      if (lenient) continue;
      return fail(fmt::format("relocation at {} extends past the end of the section", describe(here)));
    }
    data_relocs_[here] = reloc;
  }
  return {};
}

// ---- code relocations ----

Result<RvInst> Linker::decode_at(const ElfSection& text, uint64_t offset, const char* what) const {
  if (offset + 2 > text.data.size())
    return fail(fmt::format("{} at 0x{:x} in '{}' lies outside the section", what, text.address + offset, text.name));
  uint32_t raw = static_cast<uint32_t>(read_uint(text.data, offset, 2));
  if (rv_length(static_cast<uint16_t>(raw)) == 4) {
    if (offset + 4 > text.data.size())
      return fail(fmt::format("{} at 0x{:x} in '{}' lies outside the section", what, text.address + offset, text.name));
    raw = static_cast<uint32_t>(read_uint(text.data, offset, 4));
  }
  const RvDecoded decoded = rv_decode(raw, elf_.is_64);
  if (!decoded.inst)
    return fail(fmt::format("{} applies to an unsupported instruction 0x{:08x} at {}", what, raw,
                            describe({text.index, offset})));
  return *decoded.inst;
}

Result<Override> Linker::lower_with_target(const RvInst& inst, Location location, std::optional<Location> target) {
  SourceInst out;
  out.location = location;
  out.size = inst.size;
  LowerContext context{elf_.is_64, Location{regspill_, 0}, target};
  if (auto error = lower_instruction(context, inst, out))
    return fail(fmt::format("{}: '{}' at {}", *error, rv_format(inst), describe(location)));
  return Override{std::move(out.ops), out.terminator};
}

Result<void> Linker::harvest_code_relocations(uint32_t index) {
  const ElfSection& text = section(index);
  enum class HiKind : uint8_t { PcRel, Got };
  std::map<uint64_t, std::pair<HiKind, Location>> his;  // auipc offset -> kind, target
  struct Lo {
    uint32_t type;
    uint64_t hi_offset;
  };
  std::map<uint64_t, Lo> los;  // lo instruction offset -> its pair

  auto expect = [&](const RvInst& inst, std::initializer_list<RvOp> ops, uint32_t type, uint64_t offset) -> Result<void> {
    for (RvOp op : ops)
      if (inst.op == op) return {};
    return fail(fmt::format("{} applies to an unexpected instruction '{}' at {}", relocation_name(type), rv_format(inst),
                            describe({index, offset})));
  };

  for (const ElfRelocation& relocation : text.relocations) {
    const uint32_t type = relocation.type;
    if (type == R_RISCV_NONE || type == R_RISCV_RELAX || type == R_RISCV_ALIGN) continue;
    auto offset_result = relocation_offset(text, relocation, 0);
    if (!offset_result) return offset_result.error();
    const uint64_t offset = *offset_result;
    const Location here{index, offset};
    auto target_result = relocation_target(text, relocation);
    if (!target_result) return target_result.error();
    if (!*target_result)
      return fail(fmt::format("relocation {} at {} has no target symbol", relocation_name(type), describe(here)));
    const Location target = **target_result;

    switch (type) {
      case R_RISCV_32:
      case R_RISCV_64:
        code_pointers_[here] = target;
        break;
      case R_RISCV_CALL:
      case R_RISCV_CALL_PLT: {
        // auipc rX, %pcrel_hi(f); jalr rd, %pcrel_lo(f)(rX): one call (or tail jump) to f.
        auto hi = decode_at(text, offset, relocation_name(type).c_str());
        if (!hi) return hi.error();
        if (auto ok = expect(*hi, {RvOp::AUIPC}, type, offset); !ok) return ok.error();
        auto lo = decode_at(text, offset + 4, relocation_name(type).c_str());
        if (!lo) return lo.error();
        if (auto ok = expect(*lo, {RvOp::JALR}, type, offset + 4); !ok) return ok.error();
        if (lo->rs1 != hi->rd)
          return fail(fmt::format("{} at {} pairs an auipc and a jalr with different registers", relocation_name(type),
                                  describe(here)));
        RvInst jump = *lo;
        jump.op = RvOp::JAL;  // the pair behaves as a jal to the relocation's target
        auto lowered = lower_with_target(jump, here + 4, target);
        if (!lowered) return lowered.error();
        overrides_[here] = Override{};
        overrides_[here + 4] = std::move(*lowered);
        break;
      }
      case R_RISCV_PCREL_HI20:
        if (offset >= 4 && read_uint(text.data, offset - 4, 4) == kEcalliWord) {
          code_pointers_[here] = target;  // the metadata pointer of an import stub
          break;
        }
        his[offset] = {HiKind::PcRel, target};
        break;
      case R_RISCV_GOT_HI20:
        his[offset] = {HiKind::Got, target};
        break;
      case R_RISCV_PCREL_LO12_I:
      case R_RISCV_PCREL_LO12_S:
        // The symbol of a %pcrel_lo is the label of its auipc, not the data.
        if (target.section != index)
          return fail(fmt::format("{} at {} refers to a different section", relocation_name(type), describe(here)));
        los[offset] = Lo{type, target.offset};
        break;
      case R_RISCV_JAL:
      case R_RISCV_BRANCH:
      case R_RISCV_RVC_JUMP:
      case R_RISCV_RVC_BRANCH: {
        auto inst = decode_at(text, offset, relocation_name(type).c_str());
        if (!inst) return inst.error();
        const bool jump = type == R_RISCV_JAL || type == R_RISCV_RVC_JUMP;
        if (jump) {
          if (auto ok = expect(*inst, {RvOp::JAL}, type, offset); !ok) return ok.error();
        } else if (auto ok = expect(*inst, {RvOp::BEQ, RvOp::BNE, RvOp::BLT, RvOp::BGE, RvOp::BLTU, RvOp::BGEU}, type,
                                    offset);
                   !ok) {
          return ok.error();
        }
        auto lowered = lower_with_target(*inst, here, target);
        if (!lowered) return lowered.error();
        overrides_[here] = std::move(*lowered);
        break;
      }
      case R_RISCV_HI20:
      case R_RISCV_LO12_I:
      case R_RISCV_LO12_S: {
        // Absolute addressing (lui + addi/load/store): each half gets the full address.
        auto inst = decode_at(text, offset, relocation_name(type).c_str());
        if (!inst) return inst.error();
        if (auto error = check_registers(*inst))
          return fail(fmt::format("{}: '{}' at {}", *error, rv_format(*inst), describe(here)));
        Override replacement;
        const auto dst = map_register(inst->rd);
        if (type == R_RISCV_HI20) {
          if (auto ok = expect(*inst, {RvOp::LUI}, type, offset); !ok) return ok.error();
          if (dst) replacement.ops.push_back(Op{Op::Kind::LoadAddress, make(Opcode::load_imm, {*dst}), target, 0});
        } else if (type == R_RISCV_LO12_I) {
          if (inst->op == RvOp::ADDI) {
            if (dst) replacement.ops.push_back(Op{Op::Kind::LoadAddress, make(Opcode::load_imm, {*dst}), target, 0});
          } else if (auto load = absolute_load(inst->op)) {
            if (dst) replacement.ops.push_back(Op{Op::Kind::LoadAbsolute, make(*load, {*dst}), target, 0});
          } else {
            return fail(fmt::format("{} applies to an unexpected instruction '{}' at {}", relocation_name(type),
                                    rv_format(*inst), describe(here)));
          }
        } else {
          auto store = absolute_store(inst->op);
          if (!store)
            return fail(fmt::format("{} applies to an unexpected instruction '{}' at {}", relocation_name(type),
                                    rv_format(*inst), describe(here)));
          const auto src = map_register(inst->rs2);
          Op op{Op::Kind::StoreAbsolute, src ? make(store->first, {*src}) : make(store->second), target, 0};
          replacement.ops.push_back(op);
        }
        overrides_[here] = std::move(replacement);
        break;
      }
      default:
        return fail(fmt::format("unsupported {} at {}", relocation_kind(type), describe(here)));
    }
  }

  // Pair every %pcrel_lo with its auipc: the auipc disappears and the lo instruction gets the full address.
  for (const auto& [lo_offset, lo] : los) {
    const Location lo_here{index, lo_offset};
    const auto hi = his.find(lo.hi_offset);
    if (hi == his.end())
      return fail(fmt::format("{} at {} refers to 0x{:x}, which has no R_RISCV_PCREL_HI20 or R_RISCV_GOT_HI20 "
                              "relocation",
                              relocation_name(lo.type), describe(lo_here), text.address + lo.hi_offset));
    const auto [hi_kind, target] = hi->second;
    auto hi_inst = decode_at(text, lo.hi_offset, "R_RISCV_PCREL_HI20");
    if (!hi_inst) return hi_inst.error();
    if (hi_inst->op != RvOp::AUIPC)
      return fail(fmt::format("{} applies to an unexpected instruction '{}' at {}",
                              hi_kind == HiKind::Got ? "R_RISCV_GOT_HI20" : "R_RISCV_PCREL_HI20",
                              rv_format(*hi_inst), describe({index, lo.hi_offset})));
    auto inst = decode_at(text, lo_offset, relocation_name(lo.type).c_str());
    if (!inst) return inst.error();
    if (auto error = check_registers(*inst))
      return fail(fmt::format("{}: '{}' at {}", *error, rv_format(*inst), describe(lo_here)));
    const auto dst = map_register(inst->rd);
    Override replacement;
    if (hi_kind == HiKind::Got) {
      // `auipc + ld` through the GOT loads the symbol's address; load it directly instead. (A linker that
      // relaxed the GOT access may already have turned the ld into an addi of the address.)
      if (inst->op != (elf_.is_64 ? RvOp::LD : RvOp::LW) && inst->op != RvOp::LW && inst->op != RvOp::ADDI)
        return fail(fmt::format("{} (paired with R_RISCV_GOT_HI20) applies to an unexpected instruction '{}' at {}",
                                relocation_name(lo.type), rv_format(*inst), describe(lo_here)));
      if (dst) replacement.ops.push_back(Op{Op::Kind::LoadAddress, make(Opcode::load_imm, {*dst}), target, 0});
    } else if (inst->op == RvOp::ADDI) {
      if (dst) replacement.ops.push_back(Op{Op::Kind::LoadAddress, make(Opcode::load_imm, {*dst}), target, 0});
    } else if (auto load = absolute_load(inst->op)) {
      if (dst) replacement.ops.push_back(Op{Op::Kind::LoadAbsolute, make(*load, {*dst}), target, 0});
    } else if (auto store = absolute_store(inst->op)) {
      const auto src = map_register(inst->rs2);
      replacement.ops.push_back(
          Op{Op::Kind::StoreAbsolute, src ? make(store->first, {*src}) : make(store->second), target, 0});
    } else {
      return fail(fmt::format("{} applies to an unexpected instruction '{}' at {}", relocation_name(lo.type),
                              rv_format(*inst), describe(lo_here)));
    }
    overrides_[{index, lo.hi_offset}] = Override{};
    overrides_[lo_here] = std::move(replacement);
  }
  return {};
}

// ---- metadata, exports and imports ----

Result<ExternMetadata> Linker::parse_metadata(Location location) const {
  const ElfSection& sec = section(location.section);
  auto error = [&](const std::string& what) {
    return fail(fmt::format("failed to parse extern metadata at '{}'+0x{:x}: {}", sec.name, location.offset, what));
  };
  const uint64_t psize = pointer_size();
  const uint64_t base = location.offset;
  const std::span<const uint8_t> data = sec.data;
  if (base >= data.size() || data.size() - base < 1) return error("it lies outside the section");
  const uint8_t version = data[base];
  if (version != 1 && version != 2)
    return error(fmt::format("unsupported version {} (expected 1 or 2)", version));
  const uint64_t length = 1 + 4 + 4 + psize + 1 + 1 + (version == 2 ? 1 + 4 : 0);
  if (data.size() - base < length) return error("it is truncated");
  const uint32_t flags = static_cast<uint32_t>(read_uint(data, base + 1, 4));
  const uint32_t symbol_length = static_cast<uint32_t>(read_uint(data, base + 5, 4));
  const auto pointer = data_relocs_.find(Location{location.section, base + 9});
  if (pointer == data_relocs_.end()) return error("the symbol pointer has no relocation");
  if (pointer->second.kind != DataReloc::Kind::Abs || byte_size(pointer->second.size) != psize)
    return error("the symbol pointer has an unexpected relocation");
  ExternMetadata metadata;
  metadata.input_regs = data[base + 9 + psize];
  metadata.output_regs = data[base + 10 + psize];
  if (version == 2 && data[base + 11 + psize] != 0)
    metadata.index = static_cast<uint32_t>(read_uint(data, base + 12 + psize, 4));
  if (flags != 0) return error(fmt::format("unsupported flags 0x{:x}", flags));
  if (metadata.input_regs > kMaxInputRegs)
    return error(fmt::format("too many input registers: {} (at most {})", metadata.input_regs, kMaxInputRegs));
  if (metadata.output_regs > kMaxOutputRegs)
    return error(fmt::format("too many output registers: {} (at most {})", metadata.output_regs, kMaxOutputRegs));
  const Location symbol = pointer->second.target;
  const ElfSection& symbol_section = section(symbol.section);
  if (symbol.offset > symbol_section.data.size() || symbol_length > symbol_section.data.size() - symbol.offset)
    return error("the symbol name lies outside its section");
  metadata.symbol.assign(symbol_section.data.begin() + static_cast<std::ptrdiff_t>(symbol.offset),
                         symbol_section.data.begin() + static_cast<std::ptrdiff_t>(symbol.offset + symbol_length));
  return metadata;
}

Result<void> Linker::parse_exports(uint32_t index) {
  const ElfSection& sec = section(index);
  const uint64_t psize = pointer_size();
  uint64_t offset = 0;
  while (offset < sec.data.size()) {
    const uint8_t version = sec.data[offset];
    if (version != 1)
      return fail(fmt::format("failed to parse export metadata at '{}'+0x{:x}: unsupported version {} (expected 1)",
                              sec.name, offset, version));
    if (sec.data.size() - offset < 1 + 2 * psize)
      return fail(fmt::format("failed to parse export metadata at '{}'+0x{:x}: the record is truncated", sec.name, offset));
    Location pointers[2];
    for (int i = 0; i < 2; ++i) {
      const Location at{index, offset + 1 + i * psize};
      const auto reloc = data_relocs_.find(at);
      if (reloc == data_relocs_.end() || reloc->second.kind != DataReloc::Kind::Abs ||
          byte_size(reloc->second.size) != psize)
        return fail(fmt::format("failed to parse export metadata at '{}'+0x{:x}: the {} pointer has no relocation",
                                sec.name, offset, i == 0 ? "metadata" : "function"));
      pointers[i] = reloc->second.target;
    }
    auto metadata = parse_metadata(pointers[0]);
    if (!metadata) return metadata.error();
    if (!is_code(pointers[1].section))
      return fail(fmt::format("export '{}' points to section '{}', which is not code", metadata->symbol,
                              section(pointers[1].section).name));
    exports_.push_back(Export{pointers[1], std::move(*metadata)});
    offset += 1 + 2 * psize;
  }
  return {};
}

// ---- decoding ----

// An auipc without relocations (the reference has seen compilers emit these): `auipc rX; jalr rX, rX` is a
// call, `auipc rX; addi rY, rX` takes an address in the same section.
Result<bool> Linker::decode_unrelocated_auipc(const ElfSection& text, uint64_t offset, const RvInst& auipc,
                                              SourceInst& out) {
  if (offset + 4 + 2 > text.data.size()) return false;
  uint32_t raw = static_cast<uint32_t>(read_uint(text.data, offset + 4, 2));
  const uint32_t length = rv_length(static_cast<uint16_t>(raw));
  if (offset + 4 + length > text.data.size()) return false;
  raw = static_cast<uint32_t>(read_uint(text.data, offset + 4, length));
  const RvDecoded next = rv_decode(raw, elf_.is_64);
  if (!next.inst) return false;
  const int64_t target_offset = static_cast<int64_t>(offset) + auipc.imm + next.inst->imm;
  if (target_offset < 0 || static_cast<uint64_t>(target_offset) >= text.size) return false;
  const Location target{text.index, static_cast<uint64_t>(target_offset)};
  const Location here{text.index, offset};
  if (next.inst->op == RvOp::JALR && next.inst->rs1 == auipc.rd && next.inst->rd == auipc.rd && auipc.rd != 0) {
    RvInst call = *next.inst;
    call.op = RvOp::JAL;
    auto lowered = lower_with_target(call, here, target);
    if (!lowered) return lowered.error();
    out.size = 4 + length;
    out.ops = std::move(lowered->ops);
    out.terminator = lowered->terminator;
    if (out.terminator) out.terminator->next = here + out.size;
    return true;
  }
  if (next.inst->op == RvOp::ADDI && next.inst->rs1 == auipc.rd && next.inst->rd == auipc.rd && auipc.rd != 0) {
    if (auto error = check_registers(*next.inst))
      return fail(fmt::format("{}: '{}' at {}", *error, rv_format(*next.inst), describe(here + 4)));
    out.size = 4 + length;
    out.ops.push_back(Op{Op::Kind::LoadAddress, make(Opcode::load_imm, {*map_register(auipc.rd)}), target, 0});
    return true;
  }
  return false;
}

Result<void> Linker::decode_code_section(uint32_t index) {
  const ElfSection& text = section(index);
  const uint64_t psize = pointer_size();
  const size_t first = insts_.size();
  uint64_t offset = 0;
  while (offset < text.data.size()) {
    const Location here{index, offset};
    SourceInst out;
    out.location = here;
    const uint32_t low = static_cast<uint32_t>(read_uint(text.data, offset, 2));
    const uint32_t length = rv_length(static_cast<uint16_t>(low));
    if (offset + length > text.data.size())
      return fail(fmt::format("truncated instruction at the end of section '{}' ({})", text.name, describe(here)));
    const uint32_t raw = static_cast<uint32_t>(read_uint(text.data, offset, length));
    out.size = length;

    if (raw == kEcalliWord) {
      // An import stub: the custom-0 word, then a pointer-sized slot relocated to the import's metadata.
      if (offset + 4 + psize > text.data.size())
        return fail(fmt::format("truncated import stub at {}", describe(here)));
      const auto pointer = code_pointers_.find(here + 4);
      if (pointer == code_pointers_.end())
        return fail(fmt::format("the import stub at {} has no relocation for its metadata pointer", describe(here)));
      auto metadata = parse_metadata(pointer->second);
      if (!metadata) return metadata.error();
      auto known = std::find(imports_.begin(), imports_.end(), *metadata);
      const uint32_t import = static_cast<uint32_t>(known - imports_.begin());
      if (known == imports_.end()) imports_.push_back(std::move(*metadata));
      out.size = static_cast<uint32_t>(4 + psize);
      out.ops.push_back(Op{Op::Kind::Ecalli, make(Opcode::ecalli), {}, import});
      insts_.push_back(std::move(out));
      offset += 4 + psize;
      continue;
    }
    // The reference's other custom-0 instructions: sbrk, memset and "load the heap base".
    if (length == 4 && (raw & 0xfe00707f) == 0x0000100b && ((raw >> 20) & 31) == 0) {
      const auto dst = map_register((raw >> 7) & 31);
      const auto size = map_register((raw >> 15) & 31);
      if (!dst || !size)
        return fail(fmt::format("the sbrk instruction at {} needs two non-zero registers PolkaVM has", describe(here)));
      out.ops.push_back(Op{Op::Kind::Plain, make(Opcode::sbrk, {*dst, *size}), {}, 0});
    } else if (raw == 0x0000200b) {
      out.ops.push_back(Op{Op::Kind::Plain, make(Opcode::memset), {}, 0});
    } else if (length == 4 && (raw & 0xfffff07f) == 0x0000300b) {
      const uint32_t reg = (raw >> 7) & 31;
      if (!is_supported_register(reg))
        return fail(fmt::format("unsupported register '{}' in the heap base instruction at {}", rv_reg_name(reg),
                                describe(here)));
      if (auto dst = map_register(reg)) out.ops.push_back(Op{Op::Kind::HeapBase, make(Opcode::load_imm, {*dst}), {}, 0});
    } else if (const auto replaced = overrides_.find(here); replaced != overrides_.end()) {
      out.ops = replaced->second.ops;
      out.terminator = replaced->second.terminator;
    } else {
      const RvDecoded decoded = rv_decode(raw, elf_.is_64);
      const std::string hex = length == 2 ? fmt::format("0x{:04x}", raw) : fmt::format("0x{:08x}", raw);
      if (!decoded.inst) {
        switch (decoded.error) {
          case RvDecodeError::FloatingPoint:
            return fail(fmt::format("floating-point instructions are not supported: {} at {}", hex, describe(here)));
          case RvDecodeError::Csr:
            return fail(fmt::format("CSR instructions are not supported: {} at {}", hex, describe(here)));
          case RvDecodeError::Wrong64:
            return fail(fmt::format("a 64-bit-only instruction in a 32-bit program: {} at {}", hex, describe(here)));
          case RvDecodeError::Unknown:
            return fail(fmt::format("unsupported instruction {} at {}", hex, describe(here)));
        }
      }
      const RvInst& inst = *decoded.inst;
      if (inst.op == RvOp::AUIPC) {
        auto handled = decode_unrelocated_auipc(text, offset, inst, out);
        if (!handled) return handled.error();
        if (!*handled)
          return fail(fmt::format("found an auipc without a relocation at {}; was the ELF linked with --emit-relocs?",
                                  describe(here)));
      } else {
        SourceInst lowered;
        lowered.location = here;
        lowered.size = length;
        LowerContext context{elf_.is_64, Location{regspill_, 0}, std::nullopt};
        if (auto error = lower_instruction(context, inst, lowered))
          return fail(fmt::format("{}: '{}' at {}", *error, rv_format(inst), describe(here)));
        out.ops = std::move(lowered.ops);
        out.terminator = lowered.terminator;
      }
    }
    offset += out.size;
    insts_.push_back(std::move(out));
  }
  if (insts_.size() > first) {
    // A trap after the last instruction, so that a call or branch at the very end still has somewhere to
    // return or fall through to.
    SourceInst end;
    end.location = Location{index, text.data.size()};
    end.size = 2;
    end.terminator = Terminator{Terminator::Kind::Trap, {}, {}, {}, end.location};
    insts_.push_back(std::move(end));
  }
  return {};
}

// ---- blocks and reachability ----

Result<void> Linker::build_blocks() {
  // Where control can arrive other than by falling through.
  std::set<Location> targets;
  auto add_code_target = [&](Location target, const char* what, Location from) -> Result<void> {
    if (!is_code(target.section))
      return fail(fmt::format("{} at {} points into '{}', which is not code", what, describe(from),
                              section(target.section).name));
    targets.insert(target);
    return {};
  };
  for (const SourceInst& inst : insts_) {
    for (const Op& op : inst.ops)
      if (op.kind == Op::Kind::LoadAddress && is_code(op.target.section)) targets.insert(op.target);
    if (inst.terminator)
      for (const Location& target : inst.terminator->successors())
        if (auto ok = add_code_target(target, "the jump", inst.location); !ok) return ok.error();
  }
  for (const auto& [location, reloc] : data_relocs_) {
    if (!is_data(location.section)) continue;
    for (const Location& target : {reloc.target, reloc.origin})
      if (is_code(target.section)) targets.insert(target);
  }
  for (const Export& e : exports_) targets.insert(e.location);

  // Every target must be the start of an instruction.
  std::set<Location> starts;
  for (const SourceInst& inst : insts_) starts.insert(inst.location);
  for (const Location& target : targets)
    if (!starts.contains(target))
      return fail(fmt::format("{} is a jump target or a code address, but no instruction starts there", describe(target)));

  std::optional<Block> current;
  auto close = [&](Terminator terminator) {
    current->terminator = terminator;
    block_at_[current->start] = static_cast<uint32_t>(blocks_.size());
    blocks_.push_back(std::move(*current));
    current.reset();
  };
  for (SourceInst& inst : insts_) {
    if (targets.contains(inst.location)) {
      if (current) close(Terminator{Terminator::Kind::Jump, {}, inst.location, {}, inst.location});
      current = Block{inst.location, {}, {}};
    } else if (!current) {
      continue;  // nothing can get here (padding after a jump, unreferenced code)
    }
    for (Op& op : inst.ops) current->ops.push_back(std::move(op));
    if (inst.terminator) close(*inst.terminator);
  }
  if (current) return fail("the code does not end with a control-flow instruction");
  return {};
}

void Linker::compute_reachability() {
  reachable_.assign(blocks_.size(), false);
  dynamic_.assign(blocks_.size(), false);
  std::vector<uint32_t> block_queue;
  std::vector<uint32_t> section_queue;
  auto visit_block = [&](uint32_t block) {
    if (!reachable_[block]) {
      reachable_[block] = true;
      block_queue.push_back(block);
    }
  };
  auto visit_section = [&](uint32_t sec) {
    if (reachable_sections_.insert(sec).second) section_queue.push_back(sec);
  };
  // A location an instruction or a pointer refers to.
  auto visit = [&](Location target, bool address_taken) {
    if (is_code(target.section)) {
      const auto found = block_at_.find(target);
      if (found == block_at_.end()) return;  // cannot happen: every code target starts a block
      if (address_taken) dynamic_[found->second] = true;
      visit_block(found->second);
    } else if (is_data(target.section)) {
      visit_section(target.section);
    }
  };

  const bool keep_everything = config_.opt_level <= 0;
  if (keep_everything) {
    for (uint32_t block = 0; block < blocks_.size(); ++block) visit_block(block);
    for (uint32_t sec = 1; sec < elf_.sections.size(); ++sec)
      if (is_data(sec) && sec != regspill_) visit_section(sec);
  }
  for (const Export& e : exports_) visit_block(block_at_.at(e.location));

  while (!block_queue.empty() || !section_queue.empty()) {
    if (!block_queue.empty()) {
      const Block& block = blocks_[block_queue.back()];
      block_queue.pop_back();
      for (const Op& op : block.ops)
        if (op.kind == Op::Kind::LoadAddress || op.kind == Op::Kind::LoadAbsolute || op.kind == Op::Kind::StoreAbsolute)
          visit(op.target, op.kind == Op::Kind::LoadAddress);
      const Terminator& term = block.terminator;
      if (term.kind == Terminator::Kind::Call || term.kind == Terminator::Kind::CallIndirect)
        visit(term.next, true);  // the return address
      for (const Location& target : term.successors()) visit(target, false);
      continue;
    }
    const uint32_t sec = section_queue.back();
    section_queue.pop_back();
    for (auto it = data_relocs_.lower_bound(Location{sec, 0}); it != data_relocs_.end() && it->first.section == sec;
         ++it) {
      visit(it->second.target, true);
      if (it->second.kind != DataReloc::Kind::Abs) visit(it->second.origin, true);
    }
  }
}

Result<void> Linker::assign_imports() {
  std::vector<bool> used(imports_.size(), false);
  for (uint32_t block = 0; block < blocks_.size(); ++block) {
    if (!reachable_[block]) continue;
    for (const Op& op : blocks_[block].ops)
      if (op.kind == Op::Kind::Ecalli) used[op.import] = true;
  }
  std::map<std::string, const ExternMetadata*> by_symbol;
  for (const ExternMetadata& import : imports_) {
    auto [it, inserted] = by_symbol.emplace(import.symbol, &import);
    if (!inserted && *it->second != import)
      return fail(fmt::format("duplicate imports with the same symbol yet different prototypes: '{}'", import.symbol));
  }

  import_index_.assign(imports_.size(), UINT32_MAX);
  const bool explicit_indices =
      std::any_of(imports_.begin(), imports_.end(), [](const ExternMetadata& m) { return m.index.has_value(); });
  if (explicit_indices) {
    // Explicit indices fix the import table: every import needs one; gaps get empty names.
    std::map<uint32_t, const ExternMetadata*> by_index;
    for (uint32_t i = 0; i < imports_.size(); ++i) {
      const ExternMetadata& import = imports_[i];
      if (!import.index) return fail(fmt::format("import without a specified index: '{}'", import.symbol));
      auto [it, inserted] = by_index.emplace(*import.index, &import);
      if (!inserted && *it->second != import)
        return fail(fmt::format("duplicate imports with the same index yet different prototypes: '{}', '{}'",
                                it->second->symbol, import.symbol));
      import_index_[i] = *import.index;
    }
    const uint32_t count = by_index.rbegin()->first + 1;
    if (count > kMaxImportCount)
      return fail(fmt::format("import index {} is too large (at most {} imports)", count - 1, kMaxImportCount));
    import_names_.assign(count, std::string());
    for (const auto& [index, import] : by_index) import_names_[index] = import->symbol;
  } else {
    // Without explicit indices the used imports are numbered in symbol order.
    std::vector<uint32_t> order;
    for (uint32_t i = 0; i < imports_.size(); ++i)
      if (used[i]) order.push_back(i);
    std::sort(order.begin(), order.end(),
              [&](uint32_t a, uint32_t b) { return imports_[a].symbol < imports_[b].symbol; });
    if (order.size() > kMaxImportCount)
      return fail(fmt::format("too many imports: {} (at most {})", order.size(), kMaxImportCount));
    for (uint32_t n = 0; n < order.size(); ++n) {
      import_index_[order[n]] = n;
      import_names_.push_back(imports_[order[n]].symbol);
    }
  }
  return {};
}

// ---- data ----

// The reference's layout (program_from_elf.rs, extract_memory_config): RO data from 0x10000, RW data (then BSS)
// from the next 64 KiB boundary after a 64 KiB guard, each section at its alignment.
Result<void> Linker::lay_out_data() {
  // Sections with contents first, then the zero-filled ones, so that the data images hold no long runs of
  // zeroes (and a hostile section size cannot make them huge).
  const bool regspill_used = reachable_sections_.contains(regspill_);
  for (bool contents : {true, false}) {
    for (uint32_t sec = 1; sec < elf_.sections.size(); ++sec)
      if (reachable_sections_.contains(sec) && kind(sec) == SectionKind::RoData &&
          (section(sec).type != SHT_NOBITS) == contents)
        ro_sections_.push_back(sec);
    if (contents && regspill_used) rw_sections_.push_back(regspill_);
    for (SectionKind wanted : {SectionKind::RwData, SectionKind::Bss})
      for (uint32_t sec = 1; sec < elf_.sections.size(); ++sec)
        if (sec != regspill_ && reachable_sections_.contains(sec) && kind(sec) == wanted &&
            (section(sec).type != SHT_NOBITS) == contents)
          rw_sections_.push_back(sec);
  }

  constexpr uint64_t kLimit = uint64_t{1} << 32;
  auto place = [&](const std::vector<uint32_t>& sections, uint64_t start, std::vector<uint8_t>& bytes,
                   uint32_t& size) -> Result<void> {
    uint64_t address = start;
    for (uint32_t sec : sections) {
      const ElfSection& s = section(sec);
      address = align_up(address, s.align);
      if (s.size >= kLimit || address + s.size >= kLimit)
        return fail(fmt::format("the program's data does not fit in the 32-bit address space (section '{}' is 0x{:x} "
                                "bytes)",
                                s.name, s.size));
      section_base_[sec] = address;
      if (!s.data.empty()) {
        bytes.resize(address - start, 0);  // padding, or zeroes for BSS sections before this one
        bytes.insert(bytes.end(), s.data.begin(), s.data.end());
      }
      address += s.size;
    }
    size = static_cast<uint32_t>(address - start);
    return {};
  };
  if (auto ok = place(ro_sections_, kAddressSpaceBottom, ro_data_, ro_data_size_); !ok) return ok.error();
  rw_start_ = kAddressSpaceBottom + align_up(ro_data_size_, kMaxPageSize) + kMaxPageSize;
  if (rw_start_ >= kLimit) return fail("the program's data does not fit in the 32-bit address space");
  if (auto ok = place(rw_sections_, rw_start_, rw_data_, rw_data_size_); !ok) return ok.error();

  uint64_t stack = config_.min_stack_size;
  for (uint32_t sec = 1; sec < elf_.sections.size(); ++sec) {
    if (kind(sec) != SectionKind::MinStackSize) continue;
    const ElfSection& s = section(sec);
    if (s.data.size() % 4 != 0) return fail(fmt::format("section '{}' has an invalid size", s.name));
    for (size_t i = 0; i < s.data.size(); i += 4) stack = std::max(stack, read_uint(s.data, i, 4));
  }
  stack = align_up(stack, kMinPageSize);
  if (stack >= kLimit) return fail("the stack is too large");
  stack_size_ = static_cast<uint32_t>(stack);

  auto map = MemoryMap::build(kMaxPageSize, ro_data_size_, rw_data_size_, stack_size_);
  if (!map) return fail(fmt::format("the program's memory layout is invalid: {}", map.error().message()));
  if (map->rw_data_address != rw_start_) return fail("internal error: the RW data address disagrees with the memory map");
  heap_base_ = map->heap_base;
  return {};
}

Result<uint64_t> Linker::address_of(Location location) const {
  if (is_code(location.section)) {
    const auto block = block_at_.find(location);
    if (block == block_at_.end() || jump_table_index_[block->second] == UINT32_MAX)
      return fail(fmt::format("internal error: no jump-table entry for {}", describe(location)));
    return uint64_t{jump_table_index_[block->second] + 1} * kCodeAddressAlignment;
  }
  const auto base = section_base_.find(location.section);
  if (base == section_base_.end())
    return fail(fmt::format("a pointer refers to section '{}', which is not part of the program",
                            section(location.section).name));
  return base->second + location.offset;
}

// Writes the little-endian low `width` bytes of `value`, which must fit as a signed or unsigned number.
// Returns what went wrong, if anything.
std::optional<std::string> write_value(std::vector<uint8_t>& bytes, uint64_t offset, uint32_t width, uint64_t value) {
  if (width < 8) {
    const int64_t signed_value = static_cast<int64_t>(value);
    const uint64_t limit = uint64_t{1} << (8 * width);
    if (value >= limit && !(signed_value < 0 && signed_value >= -static_cast<int64_t>(limit / 2)))
      return fmt::format("the relocated value 0x{:x} does not fit in {} bytes", value, width);
  }
  if (offset + width > bytes.size()) return std::string("the relocation lies outside its section's contents");
  for (uint32_t i = 0; i < width; ++i) bytes[offset + i] = static_cast<uint8_t>(value >> (8 * i));
  return std::nullopt;
}

Result<void> Linker::apply_data_relocations() {
  for (uint32_t sec : ro_sections_) section_bytes_[sec] = section(sec).data;
  for (uint32_t sec : rw_sections_) section_bytes_[sec] = section(sec).data;
  for (const auto& [location, reloc] : data_relocs_) {
    const auto bytes_it = section_bytes_.find(location.section);
    if (bytes_it == section_bytes_.end()) continue;  // not part of the program (or metadata)
    std::vector<uint8_t>& bytes = bytes_it->second;
    auto target = address_of(reloc.target);
    if (!target) return target.error();
    uint64_t value = *target;
    if (reloc.kind != DataReloc::Kind::Abs) {
      auto origin = address_of(reloc.origin);
      if (!origin) return origin.error();
      if (reloc.kind == DataReloc::Kind::Offset && (is_code(reloc.target.section) || is_code(reloc.origin.section)))
        return fail(fmt::format("unsupported code offset relocation at {}", describe(location)));
      value -= *origin;
    }
    if (reloc.kind == DataReloc::Kind::JumpTable) value &= 0xFFFFFFFFu;
    if (bytes.size() < location.offset + 1)
      return fail(fmt::format("a relocation at {} lies in a section without contents", describe(location)));
    switch (reloc.size) {
      case DataReloc::Size::Six:
        if (value > 63) return fail(fmt::format("six-bit relocation overflow at {}", describe(location)));
        bytes[location.offset] = static_cast<uint8_t>((bytes[location.offset] & 0xC0) | value);
        break;
      case DataReloc::Size::Uleb128: {
        // Rewrite the ULEB128 in place, keeping its length.
        uint64_t at = location.offset;
        while (true) {
          if (at >= bytes.size()) return fail(fmt::format("ULEB128 relocation at {} runs past the section", describe(location)));
          if (bytes[at] & 0x80) {
            bytes[at] = static_cast<uint8_t>(0x80 | (value & 0x7f));
            value >>= 7;
            ++at;
          } else {
            if (value > 0x7f) return fail(fmt::format("ULEB128 relocation overflow at {}", describe(location)));
            bytes[at] = static_cast<uint8_t>(value);
            break;
          }
        }
        break;
      }
      default:
        if (auto error = write_value(bytes, location.offset, byte_size(reloc.size), value))
          return fail(fmt::format("{} at {}", *error, describe(location)));
        break;
    }
  }
  // Copy the patched sections into the data images.
  for (auto [sections, image, start] : {std::tuple{&ro_sections_, &ro_data_, uint64_t{kAddressSpaceBottom}},
                                        std::tuple{&rw_sections_, &rw_data_, rw_start_}}) {
    for (uint32_t sec : *sections) {
      const std::vector<uint8_t>& bytes = section_bytes_.at(sec);
      std::copy(bytes.begin(), bytes.end(), image->begin() + static_cast<std::ptrdiff_t>(section_base_.at(sec) - start));
    }
  }
  return {};
}

// ---- emission ----

Result<ProgramBlob> Linker::emit() {
  std::vector<uint32_t> used;
  for (uint32_t block = 0; block < blocks_.size(); ++block)
    if (reachable_[block]) used.push_back(block);

  CodeBuilder builder(isa_);
  std::vector<CodeBuilder::Label> labels(blocks_.size(), 0);
  for (uint32_t block : used) labels[block] = builder.new_label();
  for (uint32_t block : used)
    if (dynamic_[block]) builder.add_jump_table_entry(labels[block]);

  // How many ways control can enter each block other than by falling into it: the static jumps to it, its
  // jump-table entry, its exports. A block entered only by the jump from the block before it can be merged
  // into that block (opt level 2): the `fallthrough` between them goes.
  std::vector<uint32_t> entries(blocks_.size(), 0);
  for (uint32_t block : used) {
    for (const Location& target : blocks_[block].terminator.successors()) ++entries[block_at_.at(target)];
    if (dynamic_[block]) ++entries[block];
  }
  for (const Export& e : exports_) ++entries[block_at_.at(e.location)];
  const bool merge_blocks = config_.opt_level >= 2;

  auto check = [&](Opcode op) -> Result<void> {
    if (opcode_number(isa_, op) < 0)
      return fail(fmt::format("the {} instruction set has no '{}' instruction", instruction_set_name(isa_), name(op)));
    return {};
  };
  auto emit_insn = [&](const Instruction& insn) -> Result<void> {
    if (auto ok = check(insn.opcode); !ok) return ok;
    builder.emit(insn);
    return {};
  };
  auto emit_jump = [&](const Instruction& insn, Location target) -> Result<void> {
    if (auto ok = check(insn.opcode); !ok) return ok;
    builder.emit(insn, labels[block_at_.at(target)]);
    return {};
  };
  auto return_address = [&](Location next) -> Result<uint32_t> {
    auto address = address_of(next);
    if (!address) return address.error();
    return static_cast<uint32_t>(*address);
  };

  for (size_t n = 0; n < used.size(); ++n) {
    const Block& block = blocks_[used[n]];
    // Whether `location` is where the next emitted block starts (so control can just fall through to it).
    auto is_next = [&](Location location) { return n + 1 < used.size() && blocks_[used[n + 1]].start == location; };
    builder.bind(labels[used[n]]);
    for (const Op& op : block.ops) {
      Instruction insn = op.insn;
      switch (op.kind) {
        case Op::Kind::Plain: break;
        case Op::Kind::LoadAddress:
        case Op::Kind::HeapBase: {
          uint64_t value = heap_base_;
          if (op.kind == Op::Kind::LoadAddress) {
            auto address = address_of(op.target);
            if (!address) return address.error();
            value = *address;
          }
          insn = make_constant(elf_.is_64, static_cast<Reg>(insn.reg[0]), value).insn;
          break;
        }
        case Op::Kind::LoadAbsolute:
        case Op::Kind::StoreAbsolute: {
          auto address = address_of(op.target);
          if (!address) return address.error();
          insn.imm[0] = static_cast<uint32_t>(*address);
          break;
        }
        case Op::Kind::Ecalli: insn.imm[0] = import_index_[op.import]; break;
      }
      if (auto ok = emit_insn(insn); !ok) return ok.error();
    }

    const Terminator& term = block.terminator;
    Instruction insn = term.insn;
    Result<void> ok;
    switch (term.kind) {
      case Terminator::Kind::Jump:
        if (!is_next(term.target))
          ok = emit_jump(make(Opcode::jump), term.target);
        else if (!merge_blocks || entries[block_at_.at(term.target)] != 1)
          ok = emit_insn(make(Opcode::fallthrough));
        break;
      case Terminator::Kind::Branch:
        ok = emit_jump(insn, term.target);
        if (ok && !is_next(term.next)) ok = emit_jump(make(Opcode::jump), term.next);
        break;
      case Terminator::Kind::Call: {
        auto address = return_address(term.next);
        if (!address) return address.error();
        insn.imm[0] = *address;
        ok = emit_jump(insn, term.target);
        break;
      }
      case Terminator::Kind::CallIndirect: {
        if (insn.imm[1] != 0)
          return fail(fmt::format("an indirect call with a non-zero offset ({}) at {}; code addresses cannot be offset",
                                  static_cast<int32_t>(insn.imm[1]), describe(term.at)));
        auto address = return_address(term.next);
        if (!address) return address.error();
        insn.imm[0] = *address;
        ok = emit_insn(insn);
        break;
      }
      case Terminator::Kind::JumpIndirect:
        if (insn.imm[0] != 0)
          return fail(fmt::format("an indirect jump with a non-zero offset ({}) at {}; code addresses cannot be offset",
                                  static_cast<int32_t>(insn.imm[0]), describe(term.at)));
        ok = emit_insn(insn);
        break;
      case Terminator::Kind::Trap: ok = emit_insn(make(Opcode::trap)); break;
    }
    if (!ok) return ok.error();
  }

  CodeBuilder::Output output = builder.finish();
  if (output.code.code.size() > kMaxCodeSize) return fail("the program's code is larger than 32 MiB");

  ProgramBlob blob;
  blob.isa = isa_;
  blob.ro_data_size = ro_data_size_;
  blob.rw_data_size = rw_data_size_;
  blob.stack_size = stack_size_;
  blob.ro_data = std::move(ro_data_);
  blob.rw_data = std::move(rw_data_);
  blob.imports = import_names_;
  // Exports in code order (then in the order they were declared).
  std::vector<std::pair<uint32_t, size_t>> order;
  for (size_t i = 0; i < exports_.size(); ++i)
    order.emplace_back(output.label_offsets[labels[block_at_.at(exports_[i].location)]], i);
  std::sort(order.begin(), order.end());  // by pc, then by declaration order
  for (const auto& [pc, i] : order) blob.exports.push_back(ProgramExport{pc, exports_[i].metadata.symbol});
  blob.code_and_jump_table = std::move(output.code);
  return blob;
}

Result<ProgramBlob> Linker::link() {
  if (auto ok = choose_isa(); !ok) return ok.error();
  if (auto ok = classify_sections(); !ok) return ok.error();
  for (uint32_t sec = 1; sec < elf_.sections.size(); ++sec) {
    const SectionKind k = kind(sec);
    if (k == SectionKind::RoData || k == SectionKind::RwData || k == SectionKind::Bss || k == SectionKind::Metadata ||
        k == SectionKind::Exports || (k == SectionKind::None && !section(sec).is_allocated()))
      if (auto ok = harvest_data_relocations(sec, k == SectionKind::None); !ok) return ok.error();
  }
  for (uint32_t sec = 1; sec < elf_.sections.size(); ++sec)
    if (is_code(sec))
      if (auto ok = harvest_code_relocations(sec); !ok) return ok.error();
  for (uint32_t sec = 1; sec < elf_.sections.size(); ++sec)
    if (kind(sec) == SectionKind::Exports)
      if (auto ok = parse_exports(sec); !ok) return ok.error();
  for (uint32_t sec = 1; sec < elf_.sections.size(); ++sec)
    if (is_code(sec))
      if (auto ok = decode_code_section(sec); !ok) return ok.error();
  if (auto ok = build_blocks(); !ok) return ok.error();
  if (config_.opt_level >= 2) {
    for (Block& block : blocks_) {
      fold_constants(block, elf_.is_64);
      fuse_address_load_and_jump(block, [this](Location location) { return is_code(location.section); });
    }
  }
  compute_reachability();
  if (auto ok = assign_imports(); !ok) return ok.error();
  if (auto ok = lay_out_data(); !ok) return ok.error();

  jump_table_index_.assign(blocks_.size(), UINT32_MAX);
  uint32_t entries = 0;
  for (uint32_t block = 0; block < blocks_.size(); ++block)
    if (reachable_[block] && dynamic_[block]) jump_table_index_[block] = entries++;
  if (entries > kMaxJumpTableEntries) return fail("the program's jump table is too large");

  if (auto ok = apply_data_relocations(); !ok) return ok.error();
  return emit();
}

}  // namespace
}  // namespace linker

Result<ProgramBlob> link_elf_to_blob(std::span<const uint8_t> elf, const LinkerConfig& config) {
  if (config.opt_level < 0 || config.opt_level > 2)
    return Error(fmt::format("failed to link ELF: invalid optimization level {} (expected 0, 1 or 2)", config.opt_level));
  auto parsed = linker::parse_elf(elf);
  if (!parsed) return parsed.error();
  linker::Linker linker(config, std::move(parsed).value());
  auto blob = linker.link();
  if (!blob) return blob.error();
  // The blob must parse back; anything else is a linker bug, reported rather than handed on.
  std::vector<uint8_t> bytes = blob->to_bytes();
  auto parsed_back = ProgramBlob::parse(bytes);
  if (!parsed_back) return Error("failed to link ELF: internal error: " + parsed_back.error().message());
  return blob;
}

Result<std::vector<uint8_t>> link_elf(std::span<const uint8_t> elf, const LinkerConfig& config) {
  auto blob = link_elf_to_blob(elf, config);
  if (!blob) return blob.error();
  return blob->to_bytes();
}

}  // namespace polkavm
