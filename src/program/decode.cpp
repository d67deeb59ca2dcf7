// Instruction decoding with the reference's rules (crates/polkavm-common/src/program.rs: read_args_*,
// parse_bitmask_fast/slow, is_jump_target_valid, find_start_of_basic_block, validate_code_with_isa).
// decode() and skip() sit on the interpreter's block-compile path: no allocation, word-sized loads.
#include <algorithm>
#include <bit>
#include <cstring>
#include <string>

#include "polkavm/code.hpp"

namespace polkavm {

namespace {

static_assert(std::endian::native == std::endian::little, "the decoder loads little-endian words directly");

__extension__ using u128 = unsigned __int128;

// Four bytes from `index` on, little-endian; bytes past the end read as zero.
inline uint32_t load_u32(std::span<const uint8_t> bytes, size_t index) {
  uint32_t value = 0;
  if (index + 4 <= bytes.size()) {
    std::memcpy(&value, bytes.data() + index, 4);
    return value;
  }
  for (size_t i = 0; index + i < bytes.size() && i < 4; ++i) value |= static_cast<uint32_t>(bytes[index + i]) << (8 * i);
  return value;
}

// The 16 bytes after the opcode at `pc` (the reference's `chunk`); bytes past the end of code read as zero.
// Operands are read from these bytes whatever the instruction's length (load_imm64 always takes 8 bytes).
inline u128 load_chunk(std::span<const uint8_t> code, uint32_t pc) {
  u128 chunk = 0;
  const size_t start = size_t{pc} + 1;
  if (start + 16 <= code.size()) [[likely]] {
    std::memcpy(&chunk, code.data() + start, 16);
    return chunk;
  }
  std::memcpy(&chunk, code.data() + start, code.size() - start);
  return chunk;
}

inline uint8_t clamp_reg(uint32_t nibble) { return static_cast<uint8_t>(std::min<uint32_t>(nibble & 0xF, 12)); }

inline uint32_t clamp_imm_length(int length) { return static_cast<uint32_t>(std::clamp(length, 0, 4)); }

inline uint32_t low32(u128 value) { return static_cast<uint32_t>(value); }

// Two immediates: the first one's length is in `aux`, the second one takes what is left of the instruction.
// `args` points at the first immediate; `fixed` is the number of bytes before it after the opcode.
inline void decode_two_imms(Instruction& insn, u128 args, uint32_t aux, uint32_t skip, int fixed) {
  const uint32_t length1 = std::min<uint32_t>(aux & 7, 4);
  const uint32_t length2 = clamp_imm_length(static_cast<int>(skip) - static_cast<int>(length1) - fixed);
  insn.imm[0] = detail::sign_extend_imm(low32(args), length1);
  insn.imm[1] = detail::sign_extend_imm(low32(args >> (8 * length1)), length2);
}

void decode_operands(Instruction& insn, u128 chunk, uint32_t skip) {
  const uint32_t byte0 = static_cast<uint8_t>(chunk);
  const uint32_t byte1 = static_cast<uint8_t>(chunk >> 8);
  const uint32_t trailing_imm_length = clamp_imm_length(static_cast<int>(skip) - 1);
  switch (format(insn.opcode)) {
    case Format::None:
      break;
    case Format::Imm:
      insn.imm[0] = detail::sign_extend_imm(low32(chunk), std::min<uint32_t>(skip, 4));
      break;
    case Format::Offset:
      insn.target = insn.pc + detail::sign_extend_imm(low32(chunk), std::min<uint32_t>(skip, 4));
      break;
    case Format::RegImm:
      insn.reg[0] = clamp_reg(byte0);
      insn.imm[0] = detail::sign_extend_imm(low32(chunk >> 8), trailing_imm_length);
      break;
    case Format::RegImm64:
      insn.reg[0] = clamp_reg(byte0);
      insn.imm64 = static_cast<uint64_t>(chunk >> 8);
      break;
    case Format::ImmImm:
      decode_two_imms(insn, chunk >> 8, byte0, skip, 1);
      break;
    case Format::RegImmImm:
      insn.reg[0] = clamp_reg(byte0);
      decode_two_imms(insn, chunk >> 8, byte0 >> 4, skip, 1);
      break;
    case Format::RegImmOffset:
      insn.reg[0] = clamp_reg(byte0);
      decode_two_imms(insn, chunk >> 8, byte0 >> 4, skip, 1);
      insn.target = insn.pc + insn.imm[1];
      insn.imm[1] = 0;
      break;
    case Format::RegReg:
      insn.reg[0] = clamp_reg(byte0);
      insn.reg[1] = clamp_reg(byte0 >> 4);
      break;
    case Format::RegRegImm:
      insn.reg[0] = clamp_reg(byte0);
      insn.reg[1] = clamp_reg(byte0 >> 4);
      insn.imm[0] = detail::sign_extend_imm(low32(chunk >> 8), trailing_imm_length);
      break;
    case Format::RegRegOffset:
      insn.reg[0] = clamp_reg(byte0);
      insn.reg[1] = clamp_reg(byte0 >> 4);
      insn.target = insn.pc + detail::sign_extend_imm(low32(chunk >> 8), trailing_imm_length);
      break;
    case Format::RegRegReg:
      // The destination is in the second byte; the sources share the first.
      insn.reg[0] = clamp_reg(byte1);
      insn.reg[1] = clamp_reg(byte0);
      insn.reg[2] = clamp_reg(byte0 >> 4);
      break;
    case Format::RegRegImmImm:
      insn.reg[0] = clamp_reg(byte0);
      insn.reg[1] = clamp_reg(byte0 >> 4);
      decode_two_imms(insn, chunk >> 16, byte1, skip, 2);
      break;
  }
}

}  // namespace

uint32_t CodeView::skip(uint32_t pc) const {
  if (pc >= size()) return 0;
  const uint32_t next = pc + 1;
  const uint32_t bits = load_u32(bitmask_, next >> 3) >> (next & 7);
  const uint32_t skip = static_cast<uint32_t>(std::countr_zero(bits | (1u << kBitmaskMaxSkip)));
  // Bits past the end of code count as zero, so the last instruction extends to the end of code.
  return std::min(skip, size() - next);
}

Instruction CodeView::decode(uint32_t pc) const {
  Instruction insn;
  decode(pc, insn);
  return insn;
}

void CodeView::decode(uint32_t pc, Instruction& insn) const {
  insn = Instruction{};
  insn.pc = pc;
  // Away from the end of code (the common case) the words read below are all there, and a skip (at most
  // 24) cannot reach past the end: the same rules without the checks for the end.
  if (size_t{pc} + 2 + kBitmaskMaxSkip < code_.size() && ((size_t{pc} + 1) >> 3) + 4 <= bitmask_.size() &&
      is_instruction_boundary(pc)) [[likely]] {
    const uint32_t next = pc + 1;
    uint32_t bits;
    std::memcpy(&bits, bitmask_.data() + (next >> 3), 4);
    const uint32_t skip = static_cast<uint32_t>(std::countr_zero((bits >> (next & 7)) | (1u << kBitmaskMaxSkip)));
    insn.length = skip + 1;
    const std::optional<Opcode> opcode = opcode_from_byte(isa_, code_[pc]);
    if (!opcode) return;
    insn.opcode = *opcode;
    insn.valid = true;
    u128 chunk;
    std::memcpy(&chunk, code_.data() + next, 16);
    decode_operands(insn, chunk, skip);
    return;
  }
  if (pc >= size()) {
    insn.length = 1;
    return;
  }
  if (!is_instruction_boundary(pc)) [[unlikely]] {
    // Reached by falling through a gap of more than 24 bits; as in the reference's unbounded iterator, the
    // invalid instruction spans up to the next instruction start.
    insn.length = next_instruction_start(pc + 1) - pc;
    return;
  }

  const uint32_t skip = this->skip(pc);
  insn.length = skip + 1;
  const std::optional<Opcode> opcode = opcode_from_byte(isa_, code_[pc]);
  if (!opcode) return;
  insn.opcode = *opcode;
  insn.valid = true;
  decode_operands(insn, load_chunk(code_, pc), skip);
}

namespace {

// The distance minus one from `pc` back to the previous set bitmask bit, looking at most 24 + pc % 8 bits
// back (the reference's get_previous_instruction_skip); nothing when no such bit is within 24.
std::optional<uint32_t> previous_instruction_skip(std::span<const uint8_t> bitmask, uint32_t pc) {
  const size_t index = pc >> 3;
  uint32_t window = static_cast<uint32_t>(bitmask[index]) << 24;
  for (size_t back = 1; back <= 3 && back <= index; ++back)
    window |= static_cast<uint32_t>(bitmask[index - back]) << (24 - 8 * back);
  // Drop the bit of `pc` itself and everything above it, leaving bit 30 = the bit just before `pc`.
  window <<= 8 - (pc & 7);
  window >>= 1;
  const uint32_t skip = static_cast<uint32_t>(std::countl_zero(window)) - 1;
  if (skip > kBitmaskMaxSkip) return std::nullopt;
  return skip;
}

}  // namespace

bool CodeView::is_jump_target_valid(uint32_t pc) const {
  if (!is_instruction_boundary(pc)) return false;
  if (pc == 0) return true;
  const std::optional<uint32_t> skip = previous_instruction_skip(bitmask_, pc);
  if (!skip) return false;
  const std::optional<Opcode> previous = opcode_from_byte(isa_, code_[pc - *skip - 1]);
  return previous && ends_block(*previous);
}

std::optional<uint32_t> CodeView::find_start_of_basic_block(uint32_t pc) const {
  if (!is_instruction_boundary(pc)) return std::nullopt;
  while (pc != 0) {
    const std::optional<uint32_t> skip = previous_instruction_skip(bitmask_, pc);
    if (!skip) return std::nullopt;
    const uint32_t previous_pc = pc - *skip - 1;
    // An invalid opcode behaves as a trap, which ends a block.
    if (ends_block(opcode_from_byte(isa_, code_[previous_pc]).value_or(Opcode::trap))) return pc;
    pc = previous_pc;
  }
  return 0;
}

void CodeView::decode_block(uint32_t pc, std::vector<Instruction>& out) const {
  out.clear();
  for (;;) {
    Instruction& insn = out.emplace_back();
    decode(pc, insn);
    if (!insn.valid || ends_block(insn.opcode)) return;
    pc = insn.next_pc();
  }
}

// Walks the instructions from 0 like the reference's bounded iterator: it stops at the first instruction
// whose successor is not an instruction start (a gap of more than 24 bits, or the end of code), which is an
// error only when that instruction can fall through.
std::optional<std::string> CodeView::validate() const {
  auto failure = [](uint32_t pc) { return "validation failed at offset " + std::to_string(pc); };
  if (!is_instruction_boundary(0)) return failure(0);
  uint32_t pc = 0;
  while (true) {
    const Instruction insn = decode(pc);
    if (!insn.valid) return failure(pc);
    const uint32_t next = insn.next_pc();
    if (is_instruction_boundary(next)) {
      pc = next;
      continue;
    }
    if (can_fallthrough(insn.opcode)) return failure(next);
    return std::nullopt;
  }
}

}  // namespace polkavm
