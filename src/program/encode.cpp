// Instruction encoding and code layout with the reference writer's minimal encodings
// (crates/polkavm-common/src/program.rs: Instruction::serialize_*; writer.rs: ProgramBlobBuilder).
#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>

#include "polkavm/code.hpp"

namespace polkavm {

namespace {

[[noreturn]] void usage_error(const char* what) {
  std::fprintf(stderr, "polkavm: %s\n", what);
  std::abort();
}

bool has_target(Format f) { return f == Format::Offset || f == Format::RegImmOffset || f == Format::RegRegOffset; }

// One encoded instruction; the longest (reg, reg, imm, imm) takes 11 bytes.
struct Encoded {
  std::array<uint8_t, 16> bytes{};
  uint32_t size = 0;

  void push(uint8_t byte) { bytes[size++] = byte; }
  // Writes the low `length` bytes of `value`; returns `length`.
  uint32_t push_imm(uint32_t value, uint32_t length) {
    for (uint32_t i = 0; i < length; ++i) push(static_cast<uint8_t>(value >> (8 * i)));
    return length;
  }
  uint32_t push_imm(uint32_t value) { return push_imm(value, detail::imm_length(value)); }
  std::span<const uint8_t> view() const { return {bytes.data(), size}; }
};

uint8_t pack_regs(uint8_t low, uint8_t high) { return static_cast<uint8_t>((low & 0xF) | (high & 0xF) << 4); }

// Encodes `insn` with its target relative to insn.pc; the target immediate takes at least
// `min_target_length` bytes (a longer immediate decodes to the same value, see CodeBuilder::finish).
Encoded encode(InstructionSet isa, const Instruction& insn, uint32_t min_target_length = 0) {
  const int number = opcode_number(isa, insn.opcode);
  if (number < 0) usage_error("encode: the opcode is not in this instruction set");
  const uint32_t relative = insn.target - insn.pc;
  const uint32_t target_length = std::max(detail::imm_length(relative), min_target_length);

  Encoded out;
  out.push(static_cast<uint8_t>(number));
  switch (format(insn.opcode)) {
    case Format::None:
      break;
    case Format::Imm:
      out.push_imm(insn.imm[0]);
      break;
    case Format::Offset:
      out.push_imm(relative, target_length);
      break;
    case Format::RegImm:
      out.push(insn.reg[0] & 0xF);
      out.push_imm(insn.imm[0]);
      break;
    case Format::RegImm64:
      out.push(insn.reg[0] & 0xF);
      out.push_imm(static_cast<uint32_t>(insn.imm64), 4);
      out.push_imm(static_cast<uint32_t>(insn.imm64 >> 32), 4);
      break;
    case Format::ImmImm:
      out.push(0);  // length of the first immediate, patched below
      out.bytes[1] = static_cast<uint8_t>(out.push_imm(insn.imm[0]));
      out.push_imm(insn.imm[1]);
      break;
    case Format::RegImmImm:
      out.push(0);
      out.bytes[1] = pack_regs(insn.reg[0], static_cast<uint8_t>(out.push_imm(insn.imm[0])));
      out.push_imm(insn.imm[1]);
      break;
    case Format::RegImmOffset:
      out.push(0);
      out.bytes[1] = pack_regs(insn.reg[0], static_cast<uint8_t>(out.push_imm(insn.imm[0])));
      out.push_imm(relative, target_length);
      break;
    case Format::RegReg:
      out.push(pack_regs(insn.reg[0], insn.reg[1]));
      break;
    case Format::RegRegImm:
      out.push(pack_regs(insn.reg[0], insn.reg[1]));
      out.push_imm(insn.imm[0]);
      break;
    case Format::RegRegOffset:
      out.push(pack_regs(insn.reg[0], insn.reg[1]));
      out.push_imm(relative, target_length);
      break;
    case Format::RegRegReg:
      out.push(pack_regs(insn.reg[1], insn.reg[2]));
      out.push(insn.reg[0] & 0xF);
      break;
    case Format::RegRegImmImm:
      out.push(pack_regs(insn.reg[0], insn.reg[1]));
      out.push(0);
      out.bytes[2] = static_cast<uint8_t>(out.push_imm(insn.imm[0]));
      out.push_imm(insn.imm[1]);
      break;
  }
  return out;
}

}  // namespace

std::vector<uint8_t> encode_instruction(InstructionSet isa, const Instruction& insn) {
  const Encoded encoded = encode(isa, insn);
  return {encoded.view().begin(), encoded.view().end()};
}

// Immediates fill the operands in the order of the format; for formats with a jump target the last one is
// the (absolute) target, for load_imm64 it is the 64-bit immediate.
Instruction make_instruction(Opcode op, std::initializer_list<Reg> regs, std::initializer_list<uint32_t> imms) {
  if (regs.size() > 3 || imms.size() > 3) usage_error("make_instruction: too many operands");
  Instruction insn;
  insn.opcode = op;
  insn.valid = true;
  size_t index = 0;
  for (Reg reg : regs) insn.reg[index++] = static_cast<uint8_t>(reg);

  const Format f = format(op);
  // A jump target is the last immediate; give all of them or none (then a label sets the target),
  // so that `{imm}` cannot be mistaken for `{target}`.
  const size_t with_target = f == Format::RegImmOffset ? 2 : 1;
  if (has_target(f) && imms.size() != 0 && imms.size() != with_target)
    usage_error("make_instruction: give a jump instruction all its immediates, target last, or none");
  index = 0;
  for (uint32_t imm : imms) {
    const bool is_last = index + 1 == imms.size();
    if (is_last && has_target(f)) {
      insn.target = imm;
    } else if (f == Format::RegImm64) {
      insn.imm64 = imm;
    } else {
      if (index >= 2) usage_error("make_instruction: too many immediates");
      insn.imm[index] = imm;
    }
    ++index;
  }
  return insn;
}

Instruction make_load_imm64(Reg reg, uint64_t value) {
  Instruction insn = make_instruction(Opcode::load_imm64, {reg});
  insn.imm64 = value;
  return insn;
}

CodeBuilder::Label CodeBuilder::new_label() {
  label_items_.push_back(-1);
  return static_cast<Label>(label_items_.size() - 1);
}

void CodeBuilder::bind(Label label) {
  if (label >= label_items_.size()) usage_error("CodeBuilder::bind: unknown label");
  label_items_[label] = static_cast<int64_t>(items_.size());
}

void CodeBuilder::emit(const Instruction& insn) { items_.push_back(Item{insn, {}, -1, false}); }

void CodeBuilder::emit(const Instruction& insn, Label target) {
  if (!has_target(format(insn.opcode))) usage_error("CodeBuilder::emit: the instruction has no jump target");
  if (target >= label_items_.size()) usage_error("CodeBuilder::emit: unknown label");
  items_.push_back(Item{insn, {}, static_cast<int64_t>(target), false});
}

void CodeBuilder::emit_raw(std::span<const uint8_t> bytes) {
  if (bytes.empty()) usage_error("CodeBuilder::emit_raw: an instruction needs at least one byte");
  items_.push_back(Item{Instruction{}, std::vector<uint8_t>(bytes.begin(), bytes.end()), -1, true});
}

void CodeBuilder::add_jump_table_entry(Label target) {
  if (target >= label_items_.size()) usage_error("CodeBuilder::add_jump_table_entry: unknown label");
  jump_table_.push_back(TableEntry{static_cast<int64_t>(target), 0});
}

void CodeBuilder::add_jump_table_offset(uint32_t offset) { jump_table_.push_back(TableEntry{-1, offset}); }

// Layout: every pass encodes all instructions against the previous pass's offsets, starting from all
// offsets 0, until nothing moves. With label targets the distances only grow from pass to pass, so the
// result is the smallest stable encoding. A raw absolute target can get closer as code grows; its immediate
// never shrinks between passes (a longer immediate decodes to the same value), which bounds the iteration.
CodeBuilder::Output CodeBuilder::finish() const {
  for (int64_t item : label_items_)
    if (item < 0) usage_error("CodeBuilder::finish: unbound label");

  const size_t count = items_.size();
  std::vector<uint32_t> offsets(count + 1, 0);  // offsets[count] = code size
  std::vector<uint32_t> target_lengths(count, 0);
  std::vector<Encoded> encoded(count);
  // Immediates only ever grow, so the layout settles. A raw target (an absolute offset, no label) is the
  // exception for the first passes: measured from the all-zero first guess it looks far away, so its length
  // is recomputed freely until the layout has had a few passes to approach its final offsets.
  constexpr int kFreePasses = 8;
  for (int pass = 0, moved = true; moved; ++pass) {
    const bool raw_targets_settle = pass >= kFreePasses;
    std::vector<uint32_t> next_offsets(count + 1, 0);
    for (size_t i = 0; i < count; ++i) {
      const Item& item = items_[i];
      uint32_t size = static_cast<uint32_t>(item.raw.size());
      if (!item.is_raw) {
        Instruction insn = item.insn;
        insn.pc = offsets[i];
        if (item.label >= 0) insn.target = offsets[static_cast<size_t>(label_items_[static_cast<size_t>(item.label)])];
        if (has_target(format(insn.opcode))) {
          const uint32_t needed = detail::imm_length(insn.target - insn.pc);
          const bool sticky = item.label >= 0 || raw_targets_settle;
          target_lengths[i] = sticky ? std::max(target_lengths[i], needed) : needed;
        }
        encoded[i] = encode(isa_, insn, target_lengths[i]);
        size = encoded[i].size;
      }
      next_offsets[i + 1] = next_offsets[i] + size;
    }
    moved = next_offsets != offsets;
    offsets = std::move(next_offsets);
  }

  Output output;
  CodeAndJumpTable& out = output.code;
  out.code.reserve(offsets[count]);
  out.bitmask.assign((offsets[count] + 7) / 8, 0);
  for (size_t i = 0; i < count; ++i) {
    const std::span<const uint8_t> bytes = items_[i].is_raw ? std::span<const uint8_t>(items_[i].raw) : encoded[i].view();
    out.code.insert(out.code.end(), bytes.begin(), bytes.end());
    out.bitmask[offsets[i] >> 3] |= static_cast<uint8_t>(1u << (offsets[i] & 7));
  }
  for (const TableEntry& entry : jump_table_)
    out.jump_table.push_back(entry.label >= 0 ? offsets[static_cast<size_t>(label_items_[static_cast<size_t>(entry.label)])]
                                              : entry.offset);
  for (int64_t item : label_items_) output.label_offsets.push_back(offsets[static_cast<size_t>(item)]);
  return output;
}

}  // namespace polkavm
