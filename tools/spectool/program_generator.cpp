#include "program_generator.hpp"

#include <algorithm>
#include <climits>

#include "polkavm/config.hpp"
#include "polkavm/memory_map.hpp"

namespace polkavm::fuzz {

uint64_t Rng::next() {
  uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

namespace {

constexpr uint32_t kPageSize = 0x1000;

/// Draws operands and instructions for one program; biased to the values where implementations differ.
class Generator {
 public:
  Generator(uint64_t seed, ProgramSpec& spec) : rng_(seed), spec_(spec) {}
  void run();

 private:
  // Operands.
  Reg reg() { return static_cast<Reg>(rng_.below(kRegCount)); }
  uint32_t imm();
  uint32_t address();
  uint64_t reg_value();
  uint32_t jump_address(uint32_t block);

  // Control flow: without gas metering only forward targets, so every run terminates.
  bool forward_only() const { return spec_.gas_metering == GasMeteringKind::None; }
  uint32_t target_label(uint32_t block);

  void emit(std::vector<Instruction> insns, int32_t target = -1) {
    spec_.items.push_back(CodeItem{-1, std::move(insns), target});
  }
  void emit_random_instruction(uint32_t block);
  void emit_dynamic_jump(Opcode op, uint32_t block);
  void emit_terminator(uint32_t block);
  void choose_layout();
  void choose_gas();

  Rng rng_;
  ProgramSpec& spec_;
  MemoryMap map_;
  std::vector<Opcode> opcodes_;   // every opcode of the ISA
  uint32_t block_count_ = 0;      // labels 0..block_count_-1 start blocks; label block_count_ is the final trap
  std::vector<std::vector<uint32_t>> entries_by_label_;  // jump-table entries per label
};

uint32_t Generator::imm() {
  static constexpr uint32_t kEdges[] = {0,          1,          0xFFFFFFFFu, 0x80000000u, 0x7FFFFFFFu, 2,  31, 32,
                                        33,         63,         64,          0xFF,        0x80,        0x7F, 0xFFFF,
                                        0x8000,     0xFFFFFF80u, 0xFFFF8000u, kPageSize,   kPageSize - 1};
  switch (rng_.below(6)) {
    case 0: case 1: return kEdges[rng_.below(std::size(kEdges))];
    case 2: return rng_.below(16);
    case 3: return address();
    case 4: return static_cast<uint32_t>(-static_cast<int32_t>(rng_.below(16)));
    default: return static_cast<uint32_t>(rng_.next());
  }
}

uint32_t Generator::address() {
  const uint32_t bases[] = {map_.ro_data_address,     map_.ro_data_address + map_.ro_data_size,
                            map_.rw_data_address,     map_.rw_data_address + map_.rw_data_size,
                            map_.heap_base,           map_.stack_address_low,
                            map_.stack_address_high,  0,
                            kAddressSpaceBottom,      kAddressSpaceTop,
                            0xFFFFF000u,              0x80000000u};
  const uint32_t base = bases[rng_.below(std::size(bases))];
  switch (rng_.below(4)) {
    case 0: return base;
    case 1: return base - 1 - rng_.below(8);  // straddles the boundary below
    case 2: return base + rng_.below(64);
    default: return base + rng_.below(2 * kPageSize);
  }
}

uint64_t Generator::reg_value() {
  static constexpr uint64_t kEdges[] = {0, 1, ~0ull, 1ull << 63, (1ull << 63) - 1, 0x80000000u, 0xFFFFFFFFu,
                                        0x7FFFFFFFu, 0xFFFFFFFF80000000ull, 0x100000000ull, 32, 64};
  switch (rng_.below(4)) {
    case 0: return kEdges[rng_.below(std::size(kEdges))];
    case 1: return address();
    case 2: return rng_.below(16);
    default: return rng_.next();
  }
}

uint32_t Generator::target_label(uint32_t block) {
  if (!forward_only()) return rng_.below(block_count_ + 1);
  return block + 1 + rng_.below(block_count_ - block);
}

/// A dynamic jump address: usually a jump-table entry of an allowed target, else one of the invalid
/// addresses or the halt address.
uint32_t Generator::jump_address(uint32_t block) {
  switch (rng_.below(8)) {
    case 0: return kReturnToHost;
    case 1: return 0;
    case 2: return 2 * (static_cast<uint32_t>(spec_.jump_table.size()) + 1 + rng_.below(3));  // past the table
    case 3: return 2 * rng_.below(static_cast<uint32_t>(spec_.jump_table.size()) + 2) + 1;    // misaligned
    default: break;
  }
  const uint32_t label = target_label(block);
  const auto& entries = entries_by_label_[label];
  if (entries.empty()) return kReturnToHost;
  return (entries[rng_.below(static_cast<uint32_t>(entries.size()))] + 1) * 2;
}

void Generator::emit_dynamic_jump(Opcode op, uint32_t block) {
  // With metering the jump may go anywhere (random register, random offset); without it the address is
  // loaded right before the jump, in the same item, so that dropping items cannot create a loop.
  const bool wild = !forward_only() && rng_.one_in(3);
  const Reg base = reg();
  std::vector<Instruction> insns;
  uint32_t offset = 0;
  if (!wild) {
    offset = rng_.one_in(3) ? rng_.below(8) * 2 : 0;
    insns.push_back(make_instruction(Opcode::load_imm, {base}, {jump_address(block) - offset}));
  } else {
    offset = imm();
  }
  if (op == Opcode::jump_indirect) {
    insns.push_back(make_instruction(op, {base}, {offset}));
  } else {
    Reg dst = reg();
    insns.push_back(make_instruction(op, {dst, base}, {imm(), offset}));
  }
  emit(std::move(insns));
}

void Generator::emit_random_instruction(uint32_t block) {
  const Opcode op = opcodes_[rng_.below(static_cast<uint32_t>(opcodes_.size()))];
  switch (op) {
    case Opcode::jump_indirect:
    case Opcode::load_imm_and_jump_indirect: return emit_dynamic_jump(op, block);
    case Opcode::memset:
      // memset reads a0 (destination), a1 (value) and a2 (count); usually give it a sensible range.
      if (rng_.one_in(3)) return emit({make_instruction(op)});
      return emit({make_instruction(Opcode::load_imm, {Reg::A0}, {address()}),
                   make_instruction(Opcode::load_imm, {Reg::A1}, {imm()}),
                   make_instruction(Opcode::load_imm, {Reg::A2}, {rng_.below(3 * kPageSize)}), make_instruction(op)});
    case Opcode::ecalli: return emit({make_instruction(op, {}, {rng_.one_in(4) ? imm() : rng_.below(4)})});
    default: break;
  }
  switch (format(op)) {
    case Format::None: return emit({make_instruction(op)});
    case Format::Imm: return emit({make_instruction(op, {}, {imm()})});
    case Format::Offset: return emit({make_instruction(op)}, static_cast<int32_t>(target_label(block)));
    case Format::RegImm: {
      const bool is_memory = op != Opcode::load_imm;
      return emit({make_instruction(op, {reg()}, {is_memory && !rng_.one_in(4) ? address() : imm()})});
    }
    case Format::RegImm64: return emit({make_load_imm64(reg(), reg_value())});
    case Format::ImmImm: return emit({make_instruction(op, {}, {address(), imm()})});
    case Format::RegImmImm: return emit({make_instruction(op, {reg()}, {imm(), imm()})});
    case Format::RegImmOffset:
      return emit({make_instruction(op, {reg()}, {imm(), 0})}, static_cast<int32_t>(target_label(block)));
    case Format::RegReg: return emit({make_instruction(op, {reg(), reg()})});
    case Format::RegRegImm: {
      // Memory accesses through a base register: often load an address into it first.
      const bool is_memory = std::string_view(name(op)).find("indirect") != std::string_view::npos;
      if (!is_memory || rng_.one_in(3)) return emit({make_instruction(op, {reg(), reg()}, {imm()})});
      const Reg base = reg();
      return emit({make_instruction(Opcode::load_imm, {base}, {address()}),
                   make_instruction(op, {reg(), base}, {rng_.below(16)})});
    }
    case Format::RegRegOffset:
      return emit({make_instruction(op, {reg(), reg()})}, static_cast<int32_t>(target_label(block)));
    case Format::RegRegImmImm: return emit_dynamic_jump(op, block);
    case Format::RegRegReg: return emit({make_instruction(op, {reg(), reg(), reg()})});
  }
}

void Generator::emit_terminator(uint32_t block) {
  switch (rng_.below(6)) {
    case 0: return emit({make_instruction(Opcode::fallthrough)});
    case 1: return emit({make_instruction(Opcode::jump)}, static_cast<int32_t>(target_label(block)));
    case 2: return emit({make_instruction(Opcode::trap)});
    case 3: return emit_dynamic_jump(Opcode::jump_indirect, block);
    default: break;  // fall into the next block with whatever the last instruction was
  }
}

void Generator::choose_layout() {
  auto size = [&] { return rng_.one_in(4) ? 0 : rng_.below(3 * kPageSize); };
  spec_.ro_data_size = size();
  spec_.rw_data_size = size();
  spec_.stack_size = size();
  auto fill = [&](uint32_t max) {
    std::vector<uint8_t> data(max == 0 ? 0 : rng_.below(max + 1));
    for (uint8_t& b : data) b = static_cast<uint8_t>(rng_.next());
    return data;
  };
  spec_.ro_data = fill(spec_.ro_data_size);
  spec_.rw_data = fill(spec_.rw_data_size);
  // Small sizes always fit the address space.
  map_ = MemoryMap::build(kPageSize, spec_.ro_data_size, spec_.rw_data_size, spec_.stack_size).value();
}

void Generator::choose_gas() {
  spec_.gas_metering = kGasMeteringKinds[rng_.below(3)];
  spec_.full_cost_model = rng_.one_in(4);
  spec_.gas = rng_.one_in(8) ? static_cast<Gas>(rng_.below(4)) : static_cast<Gas>(rng_.below(rng_.one_in(4) ? 5000 : 300));
}

void Generator::run() {
  static constexpr InstructionSet kIsas[] = {InstructionSet::Latest64, InstructionSet::Latest32,
                                             InstructionSet::JamV1, InstructionSet::ReviveV1};
  spec_.isa = kIsas[rng_.below(std::size(kIsas))];
  for (size_t i = 0; i < kOpcodeInfo.size(); ++i)
    if (opcode_number(spec_.isa, static_cast<Opcode>(i)) >= 0) opcodes_.push_back(static_cast<Opcode>(i));
  choose_layout();
  choose_gas();

  block_count_ = 1 + rng_.below(10);
  spec_.label_count = block_count_ + 1;
  entries_by_label_.resize(spec_.label_count);
  // The jump table comes first so that dynamic jumps can aim at its entries.
  const uint32_t table_size = rng_.below(2 * block_count_ + 1);
  for (uint32_t i = 0; i < table_size; ++i) {
    const uint32_t label = rng_.below(spec_.label_count);
    entries_by_label_[label].push_back(static_cast<uint32_t>(spec_.jump_table.size()));
    spec_.jump_table.push_back(label);
  }
  for (uint32_t block = 0; block < block_count_; ++block) {
    spec_.items.push_back(CodeItem{static_cast<int32_t>(block), {}, -1});
    const uint32_t length = rng_.below(8);
    for (uint32_t i = 0; i < length; ++i) emit_random_instruction(block);
    emit_terminator(block);
  }
  spec_.items.push_back(CodeItem{static_cast<int32_t>(block_count_), {}, -1});
  emit({make_instruction(Opcode::trap)});

  spec_.entry_label = rng_.one_in(4) ? rng_.below(block_count_) : 0;
  for (auto& r : spec_.regs) r = reg_value();
  if (!rng_.one_in(4)) spec_.regs[static_cast<size_t>(Reg::SP)] = map_.stack_address_high;
  if (!rng_.one_in(4)) spec_.regs[static_cast<size_t>(Reg::RA)] = kReturnToHost;
  if (!is_64_bit(spec_.isa))  // 32-bit programs see sign-extended registers
    for (auto& r : spec_.regs) r = static_cast<uint64_t>(static_cast<int64_t>(static_cast<int32_t>(r)));
}

}  // namespace

ProgramSpec generate_program(uint64_t seed) {
  ProgramSpec spec;
  spec.seed = seed;
  Generator(seed, spec).run();
  return spec;
}

BuiltProgram build_program(const ProgramSpec& spec) {
  CodeBuilder builder(spec.isa);
  for (uint32_t i = 0; i < spec.label_count; ++i) builder.new_label();
  for (const CodeItem& item : spec.items) {
    if (item.bind >= 0) {
      builder.bind(static_cast<uint32_t>(item.bind));
      continue;
    }
    for (size_t i = 0; i < item.insns.size(); ++i) {
      const bool has_target = item.target >= 0 && i + 1 == item.insns.size();
      if (has_target) builder.emit(item.insns[i], static_cast<uint32_t>(item.target));
      else builder.emit(item.insns[i]);
    }
  }
  for (uint32_t label : spec.jump_table) builder.add_jump_table_entry(label);
  CodeBuilder::Output out = builder.finish();

  BuiltProgram built;
  ProgramBlob& blob = built.blob;
  blob.isa = spec.isa;
  blob.ro_data_size = spec.ro_data_size;
  blob.rw_data_size = spec.rw_data_size;
  blob.stack_size = spec.stack_size;
  blob.ro_data = spec.ro_data;
  blob.rw_data = spec.rw_data;
  blob.code_and_jump_table = std::move(out.code);
  blob.exports.push_back(ProgramExport{out.label_offsets[0], "main"});
  built.entry_pc = out.label_offsets[spec.entry_label];
  return built;
}

std::vector<size_t> droppable_items(const ProgramSpec& spec) {
  std::vector<size_t> out;
  for (size_t i = 0; i + 1 < spec.items.size(); ++i)
    if (spec.items[i].bind < 0) out.push_back(i);
  return out;
}

}  // namespace polkavm::fuzz
