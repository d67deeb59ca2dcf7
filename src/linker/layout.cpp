// The data layout (the reference's: RO data from 0x10000, RW data after a 64 KiB guard), pointers in data,
// and code emission: one label per block, a jump-table entry for every block whose address is taken.
#include "linker/linker_impl.hpp"

#include <algorithm>

#include "linker/dwarf.hpp"
#include "linker/lower.hpp"
#include "polkavm/memory_map.hpp"

namespace polkavm::linker {

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
    const auto block = block_at(location);
    if (!block || jump_table_index_[*block] == UINT32_MAX)
      return fail(fmt::format("internal error: no jump-table entry for {}", describe(location)));
    return uint64_t{jump_table_index_[*block] + 1} * kCodeAddressAlignment;
  }
  const auto base = section_base_.find(location.section);
  if (base == section_base_.end())
    return fail(fmt::format("a pointer refers to section '{}', which is not part of the program",
                            section(location.section).name));
  return base->second + location.offset;
}

// Writes the little-endian low `width` bytes of `value`, which must fit as a signed or unsigned number.
// Returns what went wrong, if anything.
static std::optional<std::string> write_value(std::vector<uint8_t>& bytes, uint64_t offset, uint32_t width, uint64_t value) {
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
  for (const std::vector<uint32_t>* sections : {&ro_sections_, &rw_sections_})
    for (uint32_t sec : *sections) section_bytes_[sec].assign(section(sec).data.begin(), section(sec).data.end());
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
      if (bytes.empty()) continue;  // the image may be empty too: no pointer arithmetic on it
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
    for (const Location& target : blocks_[block].terminator.successors()) ++entries[block_at(target).value()];
    if (dynamic_[block]) ++entries[block];
  }
  for (const Export& e : exports_) ++entries[block_at(e.location).value()];
  const bool merge_blocks = config_.opt_level >= 2;

  auto check = [&](Opcode op) -> Result<void> {
    if (opcode_number(isa_, op) < 0)
      return fail(fmt::format("the {} instruction set has no '{}' instruction", instruction_set_name(isa_), name(op)));
    return {};
  };
  // Debug information: a label wherever the source instruction changes, so that the code's final offsets
  // tell which program counters each RISC-V instruction became. `source` is where the next instruction
  // comes from; an instruction the optimizer made up keeps the source before it.
  const bool debug_info = !config_.strip;
  std::vector<std::pair<CodeBuilder::Label, Location>> source_marks;
  Location source;
  auto mark_source = [&] {
    if (!debug_info || (!source_marks.empty() && source_marks.back().second == source)) return;
    const CodeBuilder::Label label = builder.new_label();
    builder.bind(label);
    source_marks.emplace_back(label, source);
  };
  auto emit_insn = [&](const Instruction& insn) -> Result<void> {
    if (auto ok = check(insn.opcode); !ok) return ok;
    mark_source();
    builder.emit(insn);
    return {};
  };
  auto emit_jump = [&](const Instruction& insn, Location target) -> Result<void> {
    if (auto ok = check(insn.opcode); !ok) return ok;
    mark_source();
    builder.emit(insn, labels[block_at(target).value()]);
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
    source = block.start;
    for (const Op& op : block.ops) {
      if (op.insn.pc != 0 && op.insn.pc <= insts_.size()) source = insts_[op.insn.pc - 1].location;  // see build_blocks
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
    // A jump the block split added (to the next instruction) belongs to the instruction before it.
    if (term.at.section != 0 && !(term.kind == Terminator::Kind::Jump && term.at == term.target)) source = term.at;
    Instruction insn = term.insn;
    Result<void> ok;
    switch (term.kind) {
      case Terminator::Kind::Jump:
        if (!is_next(term.target))
          ok = emit_jump(make(Opcode::jump), term.target);
        else if (!merge_blocks || entries[block_at(term.target).value()] != 1)
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
    order.emplace_back(output.label_offsets[labels[block_at(exports_[i].location).value()]], i);
  std::sort(order.begin(), order.end());  // by pc, then by declaration order
  for (const auto& [pc, i] : order) blob.exports.push_back(ProgramExport{pc, exports_[i].metadata.symbol});
  if (debug_info) {
    const DwarfInfo dwarf = DwarfInfo::load(input_, elf_);
    std::vector<DebugSpan> spans;
    const uint32_t code_size = static_cast<uint32_t>(output.code.code.size());
    FrameStack frames;
    for (size_t i = 0; i < source_marks.size(); ++i) {
      const auto& [label, location] = source_marks[i];
      const uint32_t begin = output.label_offsets[label];
      const uint32_t end = i + 1 < source_marks.size() ? output.label_offsets[source_marks[i + 1].first] : code_size;
      dwarf.frames_at(section(location.section).address + location.offset, frames);
      if (!spans.empty() && spans.back().end_pc == begin && spans.back().frames == frames)
        spans.back().end_pc = end;
      else
        spans.push_back(DebugSpan{begin, end, frames});
    }
    DebugSections sections = encode_debug_sections(spans, dwarf.strings());
    blob.debug_strings = std::move(sections.strings);
    blob.debug_line_programs = std::move(sections.line_programs);
    blob.debug_line_program_ranges = std::move(sections.ranges);
  }
  blob.code_and_jump_table = std::move(output.code);
  return blob;
}

}  // namespace polkavm::linker
