// Relocations, extern metadata and exports: how the linker learns every address in the program from the
// ELF's static relocations instead of the addresses the ELF linker chose.
#include "linker/linker_impl.hpp"

#include <algorithm>

#include "linker/lower.hpp"

namespace polkavm::linker {

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
  // Only for the error messages: this runs for every relocation.
  auto name = [&] {
    return symbol.name.empty() ? fmt::format("#{}", relocation.symbol) : "'" + symbol.name + "'";
  };
  if (symbol.section == SHN_UNDEF)
    return fail(fmt::format("undefined symbol {} (referenced by {} at 0x{:x} in '{}')", name(),
                            relocation_name(relocation.type), relocation.offset, in.name));
  if (symbol.section == SHN_ABS)
    return fail(fmt::format("symbol {} is absolute (referenced by {} at 0x{:x} in '{}'); only symbols in sections "
                            "can be relocated",
                            name(), relocation_name(relocation.type), relocation.offset, in.name));
  if (symbol.section >= SHN_LORESERVE || symbol.section >= elf_.sections.size())
    return fail(fmt::format("symbol {} is in section #{}, which is not supported", name(), symbol.section));
  const ElfSection& target = section(symbol.section);
  const uint64_t base = elf_.type == ET_REL ? 0 : target.address;
  if (symbol.value < base || symbol.value - base > target.size)
    return fail(fmt::format("symbol {} at 0x{:x} lies outside its section '{}'", name(), symbol.value, target.name));
  return std::optional<Location>{
      Location{symbol.section, symbol.value - base + static_cast<uint64_t>(relocation.addend)}};
}

// ---- data relocations ----

const DataReloc* Linker::data_reloc_at(Location location) const {
  const auto it = std::lower_bound(data_relocs_.begin(), data_relocs_.end(), location,
                                   [](const auto& entry, Location wanted) { return entry.first < wanted; });
  return it != data_relocs_.end() && it->first == location ? &it->second : nullptr;
}

// `lenient`: a section that is not loaded (debug information, or metadata in a section of its own). Its
// relocations matter only if metadata is read through them, so the ones that cannot be understood are
// dropped instead of failing the link.
Result<void> Linker::harvest_data_relocations(uint32_t index, bool lenient) {
  harvested_[index] = true;
  const size_t first = data_relocs_.size();
  const ElfSection& sec = section(index);
  const bool is_exports = kind(index) == SectionKind::Exports;
  // Pairs (ADD32 + SUB32, SET6 + SUB6, ...) share an offset: sorted by offset, each offset's parts are a run
  // (in the order of the relocation table).
  struct Part {
    uint64_t offset;
    uint32_t type;
    Location target;
  };
  std::vector<Part> parts;
  parts.reserve(sec.relocations.size());
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
    parts.push_back(Part{*offset, relocation.type, **target});
  }
  std::stable_sort(parts.begin(), parts.end(), [](const Part& a, const Part& b) { return a.offset < b.offset; });

  for (size_t end = 0; end < parts.size();) {
    const size_t begin = end;
    const uint64_t offset = parts[begin].offset;
    while (end < parts.size() && parts[end].offset == offset) ++end;
    const std::span<const Part> list(parts.data() + begin, end - begin);
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
    data_relocs_.emplace_back(here, reloc);
  }
  // Sections harvested in order just append; one harvested later on demand is merged in.
  const auto by_location = [](const auto& a, const auto& b) { return a.first < b.first; };
  if (first > 0 && first < data_relocs_.size() && by_location(data_relocs_[first], data_relocs_[first - 1]))
    std::inplace_merge(data_relocs_.begin(), data_relocs_.begin() + static_cast<std::ptrdiff_t>(first),
                       data_relocs_.end(), by_location);
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

Result<ExternMetadata> Linker::parse_metadata(Location location) {
  const ElfSection& sec = section(location.section);
  auto error = [&](const std::string& what) {
    return fail(fmt::format("failed to parse extern metadata at '{}'+0x{:x}: {}", sec.name, location.offset, what));
  };
  // Metadata in a section of its own, not loaded: its relocations are harvested now (leniently, as that
  // kind of section's are: the ones that cannot be understood are dropped).
  if (kind(location.section) == SectionKind::None && !sec.is_allocated() && !harvested_[location.section])
    if (auto ok = harvest_data_relocations(location.section, true); !ok) return ok.error();
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
  const DataReloc* pointer = data_reloc_at(Location{location.section, base + 9});
  if (!pointer) return error("the symbol pointer has no relocation");
  if (pointer->kind != DataReloc::Kind::Abs || byte_size(pointer->size) != psize)
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
  const Location symbol = pointer->target;
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
      const DataReloc* reloc = data_reloc_at(at);
      if (!reloc || reloc->kind != DataReloc::Kind::Abs || byte_size(reloc->size) != psize)
        return fail(fmt::format("failed to parse export metadata at '{}'+0x{:x}: the {} pointer has no relocation",
                                sec.name, offset, i == 0 ? "metadata" : "function"));
      pointers[i] = reloc->target;
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

}  // namespace polkavm::linker
