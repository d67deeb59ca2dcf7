// Instruction decoding and encoding, jump targets, basic blocks, validation and CodeBuilder layout.
#include <gtest/gtest.h>

#include <climits>

#include "polkavm/code.hpp"
#include "test_util.hpp"

using namespace polkavm;

namespace {

using polkavm::test::bytes;
using polkavm::test::insn;

std::vector<uint8_t> bitmask_with(size_t code_size, std::initializer_list<uint32_t> bits) {
  std::vector<uint8_t> mask((code_size + 7) / 8, 0);
  for (uint32_t bit : bits) mask[bit / 8] |= static_cast<uint8_t>(1u << (bit % 8));
  return mask;
}

uint8_t op(InstructionSet isa, Opcode opcode) { return static_cast<uint8_t>(opcode_number(isa, opcode)); }

bool has_target(Format f) { return f == Format::Offset || f == Format::RegImmOffset || f == Format::RegRegOffset; }

void expect_same_operands(const Instruction& a, const Instruction& b, const std::string& context) {
  EXPECT_EQ(a.opcode, b.opcode) << context;
  EXPECT_EQ(a.valid, b.valid) << context;
  for (int i = 0; i < 3; ++i) EXPECT_EQ(a.reg[i], b.reg[i]) << context << " reg " << i;
  for (int i = 0; i < 2; ++i) EXPECT_EQ(a.imm[i], b.imm[i]) << context << " imm " << i;
  EXPECT_EQ(a.target, b.target) << context;
  EXPECT_EQ(a.imm64, b.imm64) << context;
}

constexpr uint32_t kEdgeImms[] = {0, 1, 0xffffffffu, 0x7f, 0x80, 0x7fff, 0x8000, 0xffffff80u, 0xffff7fffu,
                                  static_cast<uint32_t>(INT32_MIN), static_cast<uint32_t>(INT32_MAX), 0x12345678};
constexpr uint64_t kEdgeImm64s[] = {0, 1, ~uint64_t{0}, uint64_t{1} << 63, 0x123456789abcdef0, 0xffffffff};
constexpr uint8_t kRegSets[][3] = {{0, 0, 0}, {12, 12, 12}, {7, 8, 9}, {12, 0, 5}};

// Every operand combination worth trying for `opcode`, with pc fixed at `pc`.
std::vector<Instruction> sample_instructions(Opcode opcode, uint32_t pc) {
  std::vector<Instruction> out;
  const Format f = format(opcode);
  for (const auto& regs : kRegSets) {
    Instruction base;
    base.opcode = opcode;
    base.valid = true;
    base.pc = pc;
    std::copy(std::begin(regs), std::end(regs), base.reg);
    const int reg_count = f == Format::RegRegReg ? 3
                          : (f == Format::RegReg || f == Format::RegRegImm || f == Format::RegRegOffset ||
                             f == Format::RegRegImmImm)
                              ? 2
                          : (f == Format::None || f == Format::Imm || f == Format::Offset || f == Format::ImmImm) ? 0
                                                                                                                 : 1;
    for (int i = reg_count; i < 3; ++i) base.reg[i] = 0;

    const int imm_count = (f == Format::ImmImm || f == Format::RegImmImm || f == Format::RegRegImmImm) ? 2
                          : (f == Format::Imm || f == Format::RegImm || f == Format::RegRegImm ||
                             f == Format::RegImmOffset)
                              ? 1
                              : 0;
    if (f == Format::RegImm64) {
      for (uint64_t value : kEdgeImm64s) {
        Instruction insn = base;
        insn.imm64 = value;
        out.push_back(insn);
      }
      continue;
    }
    if (imm_count == 2 || (imm_count == 1 && has_target(f))) {
      for (uint32_t a : kEdgeImms) {
        for (uint32_t b : kEdgeImms) {
          Instruction insn = base;
          insn.imm[0] = a;
          if (has_target(f)) insn.target = pc + b;
          else insn.imm[1] = b;
          out.push_back(insn);
        }
      }
    } else if (imm_count == 1 || has_target(f)) {
      for (uint32_t a : kEdgeImms) {
        Instruction insn = base;
        if (has_target(f)) insn.target = pc + a;
        else insn.imm[0] = a;
        out.push_back(insn);
      }
    } else {
      out.push_back(base);
    }
  }
  return out;
}

}  // namespace

TEST(CodeEncodeTest, DecodeOfEncodeIsIdentityForEveryOpcodeOfEveryIsa) {
  size_t checked = 0;
  for (int isa_index = 0; isa_index < kInstructionSetCount; ++isa_index) {
    const auto isa = static_cast<InstructionSet>(isa_index);
    for (size_t opcode_index = 0; opcode_index < kOpcodeInfo.size(); ++opcode_index) {
      const auto opcode = static_cast<Opcode>(opcode_index);
      if (opcode_number(isa, opcode) < 0) continue;
      for (uint32_t pc : {0u, 5u}) {
        for (const Instruction& insn : sample_instructions(opcode, pc)) {
          const std::vector<uint8_t> encoded = encode_instruction(isa, insn);
          // `pc` one-byte fallthroughs in front, so that relative targets are resolved against pc.
          std::vector<uint8_t> code(pc, op(isa, Opcode::fallthrough));
          code.insert(code.end(), encoded.begin(), encoded.end());
          std::vector<uint8_t> mask((code.size() + 7) / 8, 0);
          for (uint32_t i = 0; i <= pc; ++i) mask[i / 8] |= static_cast<uint8_t>(1u << (i % 8));

          const CodeView view(isa, code, mask);
          const Instruction decoded = view.decode(pc);
          const std::string context = std::string(instruction_set_name(isa)) + " " + std::string(name(opcode));
          expect_same_operands(decoded, insn, context);
          EXPECT_EQ(decoded.pc, pc);
          EXPECT_EQ(decoded.length, encoded.size()) << context;
          ++checked;
        }
      }
    }
  }
  EXPECT_GT(checked, 10000u);
}

TEST(CodeEncodeTest, ImmediatesUseTheMinimalLength) {
  const auto isa = InstructionSet::Latest64;
  auto size_of = [&](const Instruction& insn) { return encode_instruction(isa, insn).size(); };
  EXPECT_EQ(size_of(make_instruction(Opcode::load_imm, {Reg::A0}, {0})), 2u);
  EXPECT_EQ(size_of(make_instruction(Opcode::load_imm, {Reg::A0}, {0x7f})), 3u);
  EXPECT_EQ(size_of(make_instruction(Opcode::load_imm, {Reg::A0}, {0x80})), 4u);
  EXPECT_EQ(size_of(make_instruction(Opcode::load_imm, {Reg::A0}, {0xffffff80u})), 3u);
  EXPECT_EQ(size_of(make_instruction(Opcode::load_imm, {Reg::A0}, {0xffff7fffu})), 5u);
  EXPECT_EQ(size_of(make_instruction(Opcode::load_imm, {Reg::A0}, {0x800000})), 6u);
  EXPECT_EQ(size_of(make_load_imm64(Reg::A0, 0)), 10u);
  EXPECT_EQ(encode_instruction(isa, make_instruction(Opcode::store_imm_u8, {}, {0x20000, 0x12})),
            bytes({30, 3, 0, 0, 2, 0x12}));
  EXPECT_EQ(encode_instruction(isa, make_instruction(Opcode::add_32, {Reg::A2, Reg::A0, Reg::A1})),
            bytes({190, 0x87, 9}));
  EXPECT_EQ(encode_instruction(isa, make_instruction(Opcode::load_imm_and_jump_indirect, {Reg::RA, Reg::A0}, {5, 0})),
            bytes({180, 0x70, 1, 5}));
  Instruction branch = make_instruction(Opcode::branch_eq_imm, {Reg::A0}, {33, 10});
  branch.pc = 12;
  EXPECT_EQ(encode_instruction(isa, branch), bytes({81, 0x17, 33, 0xfe}));
}

TEST(CodeDecodeTest, JamVectorExamples) {
  // inst_add_32: add_32 with sources a0 (low nibble), a1 (high nibble) and destination a2 (second byte).
  auto add = CodeAndJumpTable::parse(bytes({0, 0, 3, 190, 135, 9, 1}));
  ASSERT_TRUE(add.ok());
  const Instruction a = CodeView(InstructionSet::Latest64, add->code, add->bitmask).decode(0);
  EXPECT_EQ(a.opcode, Opcode::add_32);
  EXPECT_EQ(a.r(0), Reg::A2);
  EXPECT_EQ(a.r(1), Reg::A0);
  EXPECT_EQ(a.r(2), Reg::A1);
  EXPECT_EQ(a.length, 3u);

  auto load = CodeAndJumpTable::parse(bytes({0, 0, 5, 52, 7, 0, 0, 2, 1}));
  ASSERT_TRUE(load.ok());
  const Instruction l = CodeView(InstructionSet::Latest64, load->code, load->bitmask).decode(0);
  EXPECT_EQ(l.opcode, Opcode::load_u8);
  EXPECT_EQ(l.r(0), Reg::A0);
  EXPECT_EQ(l.imm[0], 0x20000u);

  auto store = CodeAndJumpTable::parse(bytes({0, 0, 6, 30, 3, 0, 0, 2, 18, 1}));
  ASSERT_TRUE(store.ok());
  const Instruction s = CodeView(InstructionSet::Latest64, store->code, store->bitmask).decode(0);
  EXPECT_EQ(s.opcode, Opcode::store_imm_u8);
  EXPECT_EQ(s.imm[0], 0x20000u);
  EXPECT_EQ(s.imm[1], 0x12u);
}

TEST(CodeDecodeTest, RegisterNibblesAreClampedTo12) {
  const auto isa = InstructionSet::JamV1;
  const auto code = bytes({op(isa, Opcode::move_reg), 0xfd, op(isa, Opcode::add_64), 0xef, 0x0d,
                           op(isa, Opcode::load_imm), 0xfe, 1});
  const auto mask = bitmask_with(code.size(), {0, 2, 5});
  const CodeView view(isa, code, mask);
  const Instruction move = view.decode(0);
  EXPECT_EQ(move.reg[0], 12);  // nibble 13
  EXPECT_EQ(move.reg[1], 12);  // nibble 15
  const Instruction add = view.decode(2);
  EXPECT_EQ(add.reg[0], 12);
  EXPECT_EQ(add.reg[1], 12);
  EXPECT_EQ(add.reg[2], 12);
  const Instruction load = view.decode(5);
  EXPECT_EQ(load.reg[0], 12);  // the high nibble is ignored
  EXPECT_EQ(load.imm[0], 1u);
}

TEST(CodeDecodeTest, SkipMatchesTheReferenceFastAndSlowPaths) {
  // The reference's test_parse_bitmask cases, with code as long as the bitmask covers (slow path) and
  // padded to 64 bytes (fast path).
  struct Case {
    std::vector<uint8_t> mask;
    uint32_t pc;
    uint32_t skip;
  };
  const Case cases[] = {
      {{0b00000011, 0, 0, 0}, 0, 0}, {{0b00000101, 0, 0, 0}, 0, 1},  {{0b10000001, 0, 0, 0}, 0, 6},
      {{0b00000001, 1, 0, 0}, 0, 7}, {{0b00000001, 0x80, 0, 0}, 0, 14}, {{0b00000001, 0, 1, 0}, 0, 15},
      {{1, 0, 0x80, 0}, 0, 22},      {{1, 0, 0, 1}, 0, 23},             {{0b11000000, 0, 0, 0, 0}, 6, 0},
      {{0b01000000, 1, 0, 0, 0}, 6, 1}, {{0b10000000, 1, 0, 0, 0}, 7, 0}, {{0b10000000, 2, 0, 0, 0}, 7, 1},
  };
  for (const Case& c : cases) {
    const std::vector<uint8_t> short_code(c.mask.size() * 8, 0);
    EXPECT_EQ(CodeView(InstructionSet::Latest64, short_code, c.mask).skip(c.pc), c.skip);
    std::vector<uint8_t> long_mask = c.mask;
    long_mask.resize(8, 0xff);
    const std::vector<uint8_t> long_code(64, 0);
    EXPECT_EQ(CodeView(InstructionSet::Latest64, long_code, long_mask).skip(c.pc), c.skip);
  }
}

TEST(CodeDecodeTest, SkipIsCappedAt24AndTheGapDecodesAsInvalid) {
  // The reference's test_instructions_iterator_very_long_bitmask: fallthrough at 0, next bit at 63.
  const auto isa = InstructionSet::Latest64;
  std::vector<uint8_t> code(64, 0);
  code[0] = op(isa, Opcode::fallthrough);
  const auto mask = bitmask_with(64, {0, 63});
  const CodeView view(isa, code, mask);
  EXPECT_EQ(view.skip(0), 24u);
  const Instruction first = view.decode(0);
  EXPECT_TRUE(first.valid);
  EXPECT_EQ(first.next_pc(), 25u);
  const Instruction gap = view.decode(25);
  EXPECT_FALSE(gap.valid);
  EXPECT_EQ(gap.next_pc(), 63u);
  EXPECT_FALSE(view.is_jump_target_valid(25));
  EXPECT_EQ(view.validate(), "validation failed at offset 25");
}

TEST(CodeDecodeTest, LastInstructionExtendsToTheEndOfCode) {
  const auto isa = InstructionSet::Latest64;
  // load_imm a0 with 6 argument bytes: the immediate takes min(4, skip - 1) of them.
  const auto code = bytes({op(isa, Opcode::load_imm), 7, 1, 2, 3, 4, 5, 6});
  const auto mask = bitmask_with(code.size(), {0});
  const CodeView view(isa, code, mask);
  EXPECT_EQ(view.skip(0), 7u);
  const Instruction insn = view.decode(0);
  EXPECT_EQ(insn.length, 8u);
  EXPECT_EQ(insn.imm[0], 0x04030201u);
  EXPECT_EQ(insn.next_pc(), view.size());
}

TEST(CodeDecodeTest, BytesPastTheEndOfCodeReadAsZero) {
  const auto isa = InstructionSet::Latest64;
  const auto short_imm64 = bytes({op(isa, Opcode::load_imm64), 7, 0xaa});
  const auto one_bit = bitmask_with(3, {0});
  const Instruction load = CodeView(isa, short_imm64, one_bit).decode(0);
  EXPECT_TRUE(load.valid);
  EXPECT_EQ(load.imm64, 0xaau);

  // A three-register instruction cut short: the missing destination byte reads as 0 (ra).
  const auto short_add = bytes({op(isa, Opcode::add_32), 0x87});
  const Instruction add = CodeView(isa, short_add, bitmask_with(2, {0})).decode(0);
  EXPECT_EQ(add.r(0), Reg::RA);
  EXPECT_EQ(add.r(1), Reg::A0);
}

TEST(CodeDecodeTest, Load_imm64ReadsEightBytesWhateverItsLength) {
  const auto isa = InstructionSet::Latest64;
  // The bitmask says the instruction is 2 bytes long; the immediate still comes from the next 8 bytes.
  const auto code = bytes({op(isa, Opcode::load_imm64), 7, 1, 2, 3, 4, 5, 6, 7, 8});
  const auto mask = bitmask_with(code.size(), {0, 2});
  const Instruction insn = CodeView(isa, code, mask).decode(0);
  EXPECT_EQ(insn.length, 2u);
  EXPECT_EQ(insn.imm64, 0x0807060504030201u);
}

TEST(CodeDecodeTest, SignExtensionFollowsTheImmediateLength) {
  const auto isa = InstructionSet::Latest64;
  const auto code = bytes({op(isa, Opcode::ecalli), 0x80, op(isa, Opcode::ecalli), op(isa, Opcode::load_imm), 0, 0x80,
                           0x7f, op(isa, Opcode::trap)});
  const auto mask = bitmask_with(code.size(), {0, 2, 3, 7});
  const CodeView view(isa, code, mask);
  EXPECT_EQ(view.decode(0).imm[0], 0xffffff80u);
  EXPECT_EQ(view.decode(2).imm[0], 0u);  // no immediate bytes at all
  EXPECT_EQ(view.decode(3).imm[0], 0x7f80u);
}

TEST(CodeDecodeTest, TwoImmediateLengthsComeFromTheAuxByte) {
  const auto isa = InstructionSet::Latest64;
  // store_imm_u8 with a declared first length of 7 (clamped to 4) and two bytes left for the second.
  const auto code = bytes({op(isa, Opcode::store_imm_u8), 0x0f, 1, 2, 3, 4, 0xff, 0x7f});
  const Instruction insn = CodeView(isa, code, bitmask_with(code.size(), {0})).decode(0);
  EXPECT_EQ(insn.imm[0], 0x04030201u);
  EXPECT_EQ(insn.imm[1], 0x7fffu);
  // load_imm_and_jump_indirect: first length 1, second length skip - 1 - 2 = 1.
  const auto jump = bytes({op(isa, Opcode::load_imm_and_jump_indirect), 0x10, 1, 0xfe, 0xfc});
  const Instruction j = CodeView(isa, jump, bitmask_with(jump.size(), {0})).decode(0);
  EXPECT_EQ(j.r(0), Reg::RA);
  EXPECT_EQ(j.r(1), Reg::SP);
  EXPECT_EQ(j.imm[0], 0xfffffffeu);
  EXPECT_EQ(j.imm[1], 0xfffffffcu);
}

TEST(CodeDecodeTest, InvalidOpcodesAndOpcodesMissingFromTheIsaTrap) {
  const auto code = bytes({255, 20, 7, 0, 0, 0, 0, 0, 0, 0, 0});
  const auto mask = bitmask_with(code.size(), {0, 1});
  const Instruction bad = CodeView(InstructionSet::Latest64, code, mask).decode(0);
  EXPECT_FALSE(bad.valid);
  EXPECT_EQ(bad.length, 1u);
  EXPECT_TRUE(CodeView(InstructionSet::Latest64, code, mask).decode(1).valid);
  EXPECT_FALSE(CodeView(InstructionSet::Latest32, code, mask).decode(1).valid);  // no load_imm64 in 32-bit
  EXPECT_EQ(CodeView(InstructionSet::Latest32, code, mask).decode(1).length, 10u);

  // The same byte means different instructions in different ISAs.
  const auto byte101 = bytes({101, 0x10});
  const auto one = bitmask_with(2, {0});
  EXPECT_EQ(CodeView(InstructionSet::Latest64, byte101, one).decode(0).opcode, Opcode::sbrk);
  EXPECT_EQ(CodeView(InstructionSet::JamV1, byte101, one).decode(0).opcode, Opcode::count_set_bits_64);
}

TEST(CodeDecodeTest, ImplicitTrapAtTheEndOfCode) {
  const auto code = bytes({op(InstructionSet::Latest64, Opcode::fallthrough)});
  const auto mask = bitmask_with(1, {0});
  const CodeView view(InstructionSet::Latest64, code, mask);
  for (uint32_t pc : {1u, 2u, 1000u, UINT32_MAX}) {
    const Instruction end = view.decode(pc);
    EXPECT_FALSE(end.valid);
    EXPECT_EQ(end.pc, pc);
    EXPECT_EQ(end.length, 1u);
  }
  EXPECT_EQ(view.skip(5), 0u);
}

// Decoding into an Instruction that held another one leaves nothing of it: every field is the decode's.
TEST(CodeDecodeTest, DecodingInPlaceOverwritesEveryField) {
  const InstructionSet isa = InstructionSet::Latest64;
  // load_imm64 (imm64), a branch (target), an instruction with three registers and two immediates; every
  // pc, so also the bytes inside instructions and the implicit trap at the end.
  Instruction wide = insn(Opcode::load_imm64, {Reg::A0});
  wide.imm64 = 0x123456789abcdef0;
  CodeBuilder b(isa);
  b.emit(wide);
  b.emit(insn(Opcode::branch_eq, {Reg::A1, Reg::A2}, {0}));
  b.emit(insn(Opcode::add_64, {Reg::A3, Reg::A4, Reg::A5}));
  b.emit(insn(Opcode::store_imm_indirect_u32, {Reg::A0}, {0x1234, 0x5678}));
  const CodeBuilder::Output out = b.finish();
  const CodeView view(isa, out.code.code, out.code.bitmask);
  for (uint32_t pc = 0; pc <= view.size(); ++pc) {
    for (uint32_t dirty_pc : {0u, 10u}) {
      Instruction in_place = view.decode(dirty_pc);  // a different instruction's fields, or the same
      in_place.length = 77;
      view.decode(pc, in_place);
      const Instruction fresh = view.decode(pc);
      expect_same_operands(in_place, fresh, "pc " + std::to_string(pc));
      EXPECT_EQ(in_place.pc, fresh.pc);
      EXPECT_EQ(in_place.length, fresh.length);
    }
  }
}

namespace {

// The reference's g!(len, bits) helper: code of all traps with the given instruction starts.
bool trap_code_target_valid(size_t length, std::initializer_list<uint32_t> bits, uint32_t pc) {
  const std::vector<uint8_t> code(length, op(InstructionSet::Latest32, Opcode::trap));
  const auto mask = bitmask_with(length, bits);
  return CodeView(InstructionSet::Latest32, code, mask).is_jump_target_valid(pc);
}

}  // namespace

TEST(CodeJumpTargetTest, MatchesTheReferenceUnitTest) {
  EXPECT_TRUE(trap_code_target_valid(1, {0}, 0));
  EXPECT_FALSE(trap_code_target_valid(1, {}, 0));
  EXPECT_TRUE(trap_code_target_valid(2, {0, 1}, 1));
  EXPECT_FALSE(trap_code_target_valid(2, {1}, 1));
  EXPECT_TRUE(trap_code_target_valid(8, {0, 7}, 7));
  EXPECT_TRUE(trap_code_target_valid(9, {0, 8}, 8));
  EXPECT_TRUE(trap_code_target_valid(25, {0, 24}, 24));
  EXPECT_TRUE(trap_code_target_valid(26, {0, 25}, 25));
  EXPECT_FALSE(trap_code_target_valid(27, {0, 26}, 26));

  const auto isa = InstructionSet::Latest32;
  const uint8_t load_imm = op(isa, Opcode::load_imm), trap = op(isa, Opcode::trap);
  const auto one = bytes({load_imm});
  EXPECT_TRUE(CodeView(isa, one, bitmask_with(1, {0})).is_jump_target_valid(0));
  const auto two = bytes({load_imm, load_imm});
  EXPECT_FALSE(CodeView(isa, two, bitmask_with(2, {0, 1})).is_jump_target_valid(1));
  const auto after_trap = bytes({trap, load_imm});
  EXPECT_TRUE(CodeView(isa, after_trap, bitmask_with(2, {0, 1})).is_jump_target_valid(1));
}

TEST(CodeJumpTargetTest, LooksBackOnlyWithinTheReferenceWindow) {
  // An instruction at 7 with skip 24 reaches 32, but the backward scan from 32 sees only bits 8..31.
  EXPECT_FALSE(trap_code_target_valid(40, {0, 7, 32}, 32));
  EXPECT_TRUE(trap_code_target_valid(40, {0, 8, 32}, 32));
  // Past the end, or not an instruction start.
  EXPECT_FALSE(trap_code_target_valid(8, {0, 1}, 8));
  EXPECT_FALSE(trap_code_target_valid(8, {0, 1}, 3));
}

TEST(CodeJumpTargetTest, InvalidOrNonTerminatingPredecessorsAreNotTargets) {
  const auto isa = InstructionSet::JamV1;
  const auto code = bytes({255, op(isa, Opcode::ecalli), op(isa, Opcode::unlikely), op(isa, Opcode::fallthrough),
                           op(isa, Opcode::trap)});
  const auto mask = bitmask_with(code.size(), {0, 1, 2, 3, 4});
  const CodeView view(isa, code, mask);
  EXPECT_FALSE(view.is_jump_target_valid(1));  // after an invalid opcode
  EXPECT_FALSE(view.is_jump_target_valid(2));  // after ecalli
  EXPECT_FALSE(view.is_jump_target_valid(3));  // after unlikely
  EXPECT_TRUE(view.is_jump_target_valid(4));   // after fallthrough
}

TEST(CodeBasicBlockTest, FindStartOfBasicBlock) {
  CodeBuilder b(InstructionSet::Latest64);
  auto second = b.new_label(), third = b.new_label(), middle = b.new_label();
  b.emit(make_instruction(Opcode::load_imm, {Reg::A0}, {1}));
  b.emit(make_instruction(Opcode::jump), second);
  b.bind(second);
  b.emit(make_instruction(Opcode::load_imm, {Reg::A1}, {2}));
  b.emit(make_instruction(Opcode::ecalli, {}, {7}));
  b.bind(middle);
  b.emit(make_instruction(Opcode::add_64, {Reg::A0, Reg::A0, Reg::A1}));
  b.emit(make_instruction(Opcode::branch_eq, {Reg::A0, Reg::A1}), third);
  b.bind(third);
  b.emit(make_instruction(Opcode::trap));
  const auto out = b.finish();
  const CodeView view(InstructionSet::Latest64, out.code.code, out.code.bitmask);
  const uint32_t second_pc = out.label_offsets[second], middle_pc = out.label_offsets[middle];
  EXPECT_EQ(view.find_start_of_basic_block(0), 0u);
  EXPECT_EQ(view.find_start_of_basic_block(view.decode(0).next_pc()), 0u);
  EXPECT_EQ(view.find_start_of_basic_block(second_pc), second_pc);
  EXPECT_EQ(view.find_start_of_basic_block(middle_pc), second_pc);
  EXPECT_EQ(view.find_start_of_basic_block(out.label_offsets[third]), out.label_offsets[third]);
  EXPECT_FALSE(view.find_start_of_basic_block(1));  // not an instruction start
  EXPECT_FALSE(view.find_start_of_basic_block(view.size()));

  // A gap of more than 24 bytes hides the previous instruction.
  std::vector<uint8_t> code(40, 0);
  code[0] = op(InstructionSet::Latest64, Opcode::fallthrough);
  code[30] = op(InstructionSet::Latest64, Opcode::load_imm);
  code[31] = op(InstructionSet::Latest64, Opcode::trap);
  const auto mask = bitmask_with(40, {0, 30, 31});
  EXPECT_FALSE(CodeView(InstructionSet::Latest64, code, mask).find_start_of_basic_block(31));
}

TEST(CodeValidateTest, MatchesTheReferenceBoundedIteration) {
  const auto isa = InstructionSet::JamV1;
  auto validate = [&](std::vector<uint8_t> code, std::initializer_list<uint32_t> bits) {
    const auto mask = bitmask_with(code.size(), bits);
    return CodeView(isa, code, mask).validate();
  };
  const uint8_t load_imm = op(isa, Opcode::load_imm), trap = op(isa, Opcode::trap), jump = op(isa, Opcode::jump);
  EXPECT_EQ(validate({load_imm, 7, 1, trap}, {0, 3}), std::nullopt);
  EXPECT_EQ(validate({255, 7, 1, trap}, {0, 3}), "validation failed at offset 0");
  EXPECT_EQ(validate({load_imm, 7, 1}, {0}), "validation failed at offset 3");  // falls off the end
  EXPECT_EQ(validate({load_imm, 7, 1, trap}, {3}), "validation failed at offset 0");
  EXPECT_EQ(validate({}, {}), "validation failed at offset 0");
  // An invalid instruction after the first non-fallthrough gap is not looked at.
  std::vector<uint8_t> gap(40, 0);
  gap[0] = jump;
  gap[39] = 255;
  EXPECT_EQ(validate(gap, {0, 39}), std::nullopt);
  gap[0] = load_imm;
  EXPECT_EQ(validate(gap, {0, 39}), "validation failed at offset 25");
}

TEST(CodeBuilderTest, ResolvesLabelsWithMinimalOffsets) {
  const auto isa = InstructionSet::Latest64;
  for (int padding : {125, 126, 127, 128, 130, 0x7ff0}) {
    CodeBuilder b(isa);
    auto forward = b.new_label(), back = b.new_label(), end = b.new_label();
    b.bind(back);
    b.emit(make_instruction(Opcode::jump), forward);
    for (int i = 0; i < padding; ++i) b.emit(make_instruction(Opcode::fallthrough));
    b.bind(forward);
    b.emit(make_instruction(Opcode::branch_not_eq, {Reg::A0, Reg::A1}), back);
    b.emit(make_instruction(Opcode::trap));
    b.bind(end);
    const auto out = b.finish();
    const CodeView view(isa, out.code.code, out.code.bitmask);

    const Instruction jump = view.decode(0);
    EXPECT_EQ(jump.target, out.label_offsets[forward]) << padding;
    // 1 + immediate bytes: distance = jump length + padding must fit the immediate.
    const uint32_t distance = jump.length + static_cast<uint32_t>(padding);
    EXPECT_EQ(jump.length, 1 + detail::imm_length(distance)) << padding;
    const Instruction branch = view.decode(out.label_offsets[forward]);
    EXPECT_EQ(branch.opcode, Opcode::branch_not_eq);
    EXPECT_EQ(branch.target, 0u);
    EXPECT_EQ(branch.length, 2 + detail::imm_length(0u - branch.pc));
    EXPECT_EQ(out.label_offsets[end], view.size());
    EXPECT_EQ(view.validate(), std::nullopt);
  }
}

TEST(CodeBuilderTest, BuildsBitmaskJumpTableAndRawInstructions) {
  const auto isa = InstructionSet::JamV1;
  CodeBuilder b(isa);
  auto target = b.new_label();
  b.emit(make_load_imm64(Reg::A0, 0x1122334455667788));
  b.emit_raw(bytes({255, 1, 2}));
  b.bind(target);
  b.emit(make_instruction(Opcode::jump_indirect, {Reg::A0}, {0}));
  Instruction absolute = make_instruction(Opcode::jump, {}, {3});
  b.emit(absolute);
  b.add_jump_table_entry(target);
  b.add_jump_table_offset(0xabcdef);
  const auto out = b.finish();

  EXPECT_EQ(out.code.code.size(), 10u + 3u + 2u + 2u);
  EXPECT_EQ(out.code.bitmask, bytes({0x01, 0b10100100, 0}));
  EXPECT_EQ(out.code.jump_table, (std::vector<uint32_t>{13, 0xabcdef}));
  EXPECT_EQ(out.label_offsets, (std::vector<uint32_t>{13}));
  const CodeView view(isa, out.code.code, out.code.bitmask);
  EXPECT_EQ(view.decode(0).imm64, 0x1122334455667788u);
  EXPECT_FALSE(view.decode(10).valid);
  EXPECT_EQ(view.decode(10).length, 3u);
  EXPECT_EQ(view.decode(15).opcode, Opcode::jump);
  EXPECT_EQ(view.decode(15).target, 3u);

  auto reparsed = CodeAndJumpTable::parse(out.code.to_bytes());
  ASSERT_TRUE(reparsed.ok()) << reparsed.error().message();
  EXPECT_EQ(*reparsed, out.code);
}

TEST(CodeBuilderTest, AbsoluteTargetsConverge) {
  // A raw target ahead of code that grows: the jump moves towards it while earlier jumps grow.
  const auto isa = InstructionSet::Latest64;
  CodeBuilder b(isa);
  auto far = b.new_label();
  for (int i = 0; i < 3; ++i) b.emit(make_instruction(Opcode::jump), far);
  Instruction raw = make_instruction(Opcode::jump, {}, {0x83});
  b.emit(raw);
  for (int i = 0; i < 130; ++i) b.emit(make_instruction(Opcode::fallthrough));
  b.bind(far);
  b.emit(make_instruction(Opcode::trap));
  const auto out = b.finish();
  const CodeView view(isa, out.code.code, out.code.bitmask);
  uint32_t pc = 0;
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(view.decode(pc).target, out.label_offsets[far]);
    pc = view.decode(pc).next_pc();
  }
  EXPECT_EQ(view.decode(pc).target, 0x83u);
}
