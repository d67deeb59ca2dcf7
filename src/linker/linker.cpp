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
#include "linker/linker_impl.hpp"

#include <algorithm>

#include "linker/lower.hpp"
#include "linker/optimize.hpp"
#include "polkavm/memory_map.hpp"

namespace polkavm {

namespace linker {

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

// `name` is `base` or starts with `base.`.
static bool has_prefix(const std::string& name, const char* base) {
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
  static constexpr uint8_t kZeroes[3 * 8] = {};  // the slots start as zeroes
  spill.data = std::span(kZeroes, spill.size);
  regspill_ = spill.index;
  elf_.sections.push_back(std::move(spill));
  kinds_.push_back(SectionKind::RwData);
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

void Linker::add_inst(const SourceInst& inst) {
  DecodedInst decoded;
  decoded.location = inst.location;
  decoded.first_op = static_cast<uint32_t>(inst_ops_.size());
  decoded.op_count = static_cast<uint32_t>(inst.ops.size());
  inst_ops_.insert(inst_ops_.end(), inst.ops.begin(), inst.ops.end());
  if (inst.terminator) {
    decoded.terminator = static_cast<uint32_t>(inst_terminators_.size());
    inst_terminators_.push_back(*inst.terminator);
  }
  insts_.push_back(decoded);
}

Result<void> Linker::decode_code_section(uint32_t index) {
  const ElfSection& text = section(index);
  const uint64_t psize = pointer_size();
  const size_t first = insts_.size();
  uint64_t offset = 0;
  SourceInst out;  // reused for every instruction, so that its op list keeps its allocation
  while (offset < text.data.size()) {
    const Location here{index, offset};
    out.location = here;
    out.ops.clear();
    out.terminator.reset();
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
      add_inst(out);
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
        LowerContext context{elf_.is_64, Location{regspill_, 0}, std::nullopt};
        if (auto error = lower_instruction(context, inst, out))
          return fail(fmt::format("{}: '{}' at {}", *error, rv_format(inst), describe(here)));
      }
    }
    offset += out.size;
    add_inst(out);
  }
  if (insts_.size() > first) {
    // A trap after the last instruction, so that a call or branch at the very end still has somewhere to
    // return or fall through to.
    SourceInst end;
    end.location = Location{index, text.data.size()};
    end.size = 2;
    end.terminator = Terminator{Terminator::Kind::Trap, {}, {}, {}, end.location};
    add_inst(end);
  }
  return {};
}

// ---- blocks and reachability ----

Result<void> Linker::build_blocks() {
  // Where control can arrive other than by falling through; sorted and without duplicates below.
  std::vector<Location> targets;
  for (const DecodedInst& inst : insts_) {
    for (uint32_t i = 0; i < inst.op_count; ++i) {
      const Op& op = inst_ops_[inst.first_op + i];
      if (op.kind == Op::Kind::LoadAddress && is_code(op.target.section)) targets.push_back(op.target);
    }
    if (inst.terminator == DecodedInst::kNoTerminator) continue;
    for (const Location& target : inst_terminators_[inst.terminator].successors()) {
      if (!is_code(target.section))
        return fail(fmt::format("the jump at {} points into '{}', which is not code", describe(inst.location),
                                section(target.section).name));
      targets.push_back(target);
    }
  }
  for (const auto& [location, reloc] : data_relocs_) {
    if (!is_data(location.section)) continue;
    for (const Location& target : {reloc.target, reloc.origin})
      if (is_code(target.section)) targets.push_back(target);
  }
  for (const Export& e : exports_) targets.push_back(e.location);
  std::sort(targets.begin(), targets.end());
  targets.erase(std::unique(targets.begin(), targets.end()), targets.end());

  // Every target must be the start of an instruction. Both lists are in location order: walk them together.
  size_t next_inst = 0;
  for (const Location& target : targets) {
    while (next_inst < insts_.size() && insts_[next_inst].location < target) ++next_inst;
    if (next_inst == insts_.size() || insts_[next_inst].location != target)
      return fail(fmt::format("{} is a jump target or a code address, but no instruction starts there", describe(target)));
  }

  std::optional<Block> current;
  auto close = [&](const Terminator& terminator) {
    current->terminator = terminator;
    blocks_.push_back(std::move(*current));
    current.reset();
  };
  auto next_target = targets.begin();
  for (size_t index = 0; index < insts_.size(); ++index) {
    const DecodedInst& inst = insts_[index];
    if (next_target != targets.end() && *next_target == inst.location) {
      ++next_target;
      if (current) close(Terminator{Terminator::Kind::Jump, {}, inst.location, {}, inst.location});
      current = Block{inst.location, {}, {}};
    } else if (!current) {
      continue;  // nothing can get here (padding after a jump, unreferenced code)
    }
    for (uint32_t i = 0; i < inst.op_count; ++i) {
      Op& op = inst_ops_[inst.first_op + i];
      // Until the code is emitted an op's pc is free: it holds which instruction the op came from (the
      // index in insts_ plus one; 0 for ops the optimizer makes up), for the debug information.
      op.insn.pc = static_cast<uint32_t>(index + 1);
      current->ops.push_back(op);
    }
    if (inst.terminator != DecodedInst::kNoTerminator) close(inst_terminators_[inst.terminator]);
  }
  if (current) return fail("the code does not end with a control-flow instruction");
  // Only the instructions' locations are needed from here on (for the debug information).
  inst_ops_ = {};
  inst_terminators_ = {};
  return {};
}

std::optional<uint32_t> Linker::block_at(Location location) const {
  const auto it = std::lower_bound(blocks_.begin(), blocks_.end(), location,
                                   [](const Block& block, Location wanted) { return block.start < wanted; });
  if (it == blocks_.end() || it->start != location) return std::nullopt;
  return static_cast<uint32_t>(it - blocks_.begin());
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
      const auto found = block_at(target);
      if (!found) return;  // cannot happen: every code target starts a block
      if (address_taken) dynamic_[*found] = true;
      visit_block(*found);
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
  for (const Export& e : exports_) visit_block(block_at(e.location).value());

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
    for (auto it = std::lower_bound(data_relocs_.begin(), data_relocs_.end(), Location{sec, 0},
                                    [](const auto& entry, Location wanted) { return entry.first < wanted; });
         it != data_relocs_.end() && it->first.section == sec; ++it) {
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

Result<ProgramBlob> Linker::link() {
  if (auto ok = choose_isa(); !ok) return ok.error();
  if (auto ok = classify_sections(); !ok) return ok.error();
  harvested_.assign(elf_.sections.size(), false);
  for (uint32_t sec = 1; sec < elf_.sections.size(); ++sec) {
    const SectionKind k = kind(sec);
    if (k == SectionKind::RoData || k == SectionKind::RwData || k == SectionKind::Bss || k == SectionKind::Metadata ||
        k == SectionKind::Exports)
      if (auto ok = harvest_data_relocations(sec, false); !ok) return ok.error();
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
    const std::vector<RegDemands> after = demands_after_blocks(blocks_);
    for (size_t i = 0; i < blocks_.size(); ++i) {
      Block& block = blocks_[i];
      fuse_rotates(block, after[i]);
      fuse_inverted_and(block);
      fold_constants(block, elf_.is_64);
      if (elf_.is_64) widen_narrow_ops(block, after[i]);
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

}  // namespace linker

Result<ProgramBlob> link_elf_to_blob(std::span<const uint8_t> elf, const ElfLinkerConfig& config) {
  if (config.opt_level < 0 || config.opt_level > 2)
    return Error(fmt::format("failed to link ELF: invalid optimization level {} (expected 0, 1 or 2)", config.opt_level));
  auto parsed = linker::parse_elf(elf);
  if (!parsed) return parsed.error();
  linker::Linker linker(config, std::move(parsed).value(), elf);
  auto blob = linker.link();
  if (!blob) return blob.error();
  // The blob must parse back; anything else is a linker bug, reported rather than handed on.
  std::vector<uint8_t> bytes = blob->to_bytes();
  auto parsed_back = ProgramBlob::parse(bytes);
  if (!parsed_back) return Error("failed to link ELF: internal error: " + parsed_back.error().message());
  return blob;
}

Result<std::vector<uint8_t>> link_elf(std::span<const uint8_t> elf, const ElfLinkerConfig& config) {
  auto blob = link_elf_to_blob(elf, config);
  if (!blob) return blob.error();
  return blob->to_bytes();
}

}  // namespace polkavm
