// The text assembler: every instruction form of every ISA comes back from the disassembler's text in every
// option combination; the reference's syntax (labels, exports, directives, jump tables, fallthroughs);
// listings as disassemble() prints them; and malformed inputs with their exact messages.
#include "polkavm/assembler.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "polkavm/code.hpp"
#include "polkavm/disassembler.hpp"
#include "test_util.hpp"

namespace polkavm {
namespace {

ProgramBlob must_assemble(std::string_view text, std::optional<InstructionSet> isa = InstructionSet::Latest64) {
  auto blob = assemble_blob(text, isa);
  if (!blob) {
    ADD_FAILURE() << "assembling failed: " << blob.error().message() << "\n" << text;
    return {};
  }
  return std::move(blob).value();
}

std::string error_of(std::string_view text, std::optional<InstructionSet> isa = InstructionSet::Latest64) {
  auto blob = assemble_blob(text, isa);
  return blob ? "<assembled>" : blob.error().message();
}

// The code's instructions as the disassembler prints them (jump targets as offsets), without the implicit
// trap at the end.
std::vector<std::string> listing(const ProgramBlob& blob) {
  std::vector<std::string> out;
  for (const Instruction& insn : list_instructions(CodeView(blob)))
    if (insn.pc < blob.code().size()) out.push_back(disassemble_instruction(insn, blob.isa));
  return out;
}

std::vector<std::string> listing_of(std::string_view text, InstructionSet isa = InstructionSet::Latest64) {
  return listing(must_assemble(text, isa));
}

using Lines = std::vector<std::string>;

// ---- Every instruction form, through the disassembler and back ----------------------------------------

constexpr uint32_t kImmediates[] = {0,          1,          5,          0x7f,       0x80,       0xff,       0x1234,
                                    0x7fffffff, 0x80000000, 0xffffffff, 0xfffff001, 0xfffff000, 0xffffff80, 0x12345678};
// load_imm64 values that load_imm cannot hold (a small one would print like load_imm and come back as it).
constexpr uint64_t kWideImmediates[] = {0x123456789abcdef0, 0xffffffff, 0x80000000, 0xffffffff7fffffff};

bool has_target(Opcode op) {
  const Format f = format(op);
  return f == Format::Offset || f == Format::RegImmOffset || f == Format::RegRegOffset;
}

// Every opcode of `isa` with varied registers and immediates, jumps to a block start at either end, a jump
// into the middle of an instruction, and a jump table with a repeated entry.
ProgramBlob every_instruction(InstructionSet isa) {
  CodeBuilder builder(isa);
  const auto top = builder.new_label();
  const auto bottom = builder.new_label();
  builder.bind(top);
  size_t sample = 0;
  for (const OpcodeInfo& info : kOpcodeInfo) {
    const auto op = static_cast<Opcode>(&info - kOpcodeInfo.data());
    if (opcode_number(isa, op) < 0) continue;
    for (size_t k = 0; k < std::size(kImmediates); ++k, ++sample) {
      Instruction insn = make_instruction(op);
      insn.reg[0] = static_cast<uint8_t>(sample % kRegCount);
      insn.reg[1] = static_cast<uint8_t>((sample * 5 + 3) % kRegCount);
      insn.reg[2] = static_cast<uint8_t>((sample * 7 + 1) % kRegCount);
      insn.imm[0] = kImmediates[k];
      insn.imm[1] = kImmediates[(k + 3) % std::size(kImmediates)];
      insn.imm64 = kWideImmediates[k % std::size(kWideImmediates)];
      if (op == Opcode::load_imm_and_jump_indirect && k == 0) insn.reg[1] = insn.reg[0];  // the "tmp" form
      if (has_target(op)) {
        builder.emit(insn, k % 2 ? top : bottom);
      } else {
        builder.emit(insn);
      }
    }
  }
  builder.emit(make_instruction(Opcode::jump, {}, {1}));  // into the middle of the first instruction
  builder.emit(make_instruction(Opcode::trap));
  builder.bind(bottom);
  builder.emit(make_instruction(Opcode::trap));
  builder.add_jump_table_entry(bottom);
  builder.add_jump_table_entry(top);
  builder.add_jump_table_entry(bottom);

  ProgramBlob blob;
  blob.isa = isa;
  blob.code_and_jump_table = builder.finish().code;
  return blob;
}

class EveryInstruction : public ::testing::TestWithParam<InstructionSet> {};

TEST_P(EveryInstruction, RoundTripsInEveryDisassemblyFormat) {
  const ProgramBlob blob = every_instruction(GetParam());
  for (int options = 0; options < test::kDisassemblyVariants; ++options) {
    const std::string text = disassemble(blob, test::disassembly_variant(options));
    auto back = assemble_blob(text, GetParam());
    ASSERT_TRUE(back.ok()) << "options " << options << ": " << back.error().message();
    EXPECT_EQ(back->code_and_jump_table, blob.code_and_jump_table) << "options " << options;
  }
}

INSTANTIATE_TEST_SUITE_P(AllIsas, EveryInstruction,
                         ::testing::Values(InstructionSet::JamV1, InstructionSet::Latest64, InstructionSet::Latest32,
                                           InstructionSet::ReviveV1),
                         [](const auto& info) { return std::string(instruction_set_name(info.param)); });

// ---- The reference's syntax -----------------------------------------------------------------------------

TEST(Assembler, BinaryOperationsPickTheirFormFromTheOperands) {
  EXPECT_EQ(listing_of("i32 a2 = a0 + a1\n"
                       "a2 = a0 + a1\n"
                       "a0 = a1 + 0x10\n"
                       "a0 = 0x10 + a1\n"
                       "a0 = a1 - 4\n"
                       "a0 = 7 - a1\n"
                       "a0 = -a1\n"
                       "i32 a0 = -a1\n"
                       "a0 = a1 >u a2\n"
                       "a0 = 5 <u a1\n"
                       "a0 = a1 >s 5\n"
                       "a0 = 3 << a1\n"
                       "a0 = a1 >>r 3\n"
                       "a0 = a1 & ~a2\n"
                       "a0 = a1 | ~a2\n"
                       "a0 = ~(a1 ^ a2)\n"
                       "a0 = a1 mulhsu a2\n"
                       "a0 = maxu(a1, a2)\n"
                       "a0 = a1 %s a2\n"),
            (Lines{"i32 a2 = a0 + a1", "a2 = a0 + a1", "a0 = a1 + 0x10", "a0 = a1 + 0x10", "a0 = a1 - 4",
                   "a0 = 0x7 - a1", "a0 = -a1", "i32 a0 = -a1", "a0 = a2 <u a1", "a0 = a1 >u 0x5", "a0 = a1 >s 0x5",
                   "a0 = 0x3 << a1", "a0 = a1 >>r 0x3", "a0 = a1 & ~a2", "a0 = a1 | ~a2", "a0 = ~(a1 ^ a2)",
                   "a0 = a1 mulhsu a2", "a0 = maxu(a1, a2)", "a0 = a1 %s a2"}));
}

TEST(Assembler, MemoryAccesses) {
  EXPECT_EQ(listing_of("a1 = u8 [a0 + 0x10]\n"
                       "a1 = i16 [a0]\n"
                       "a1 = u32 [0x20000]\n"
                       "u8 [a0 + 2] = a3\n"
                       "u16 [a0 - 2] = a3\n"
                       "u64 [0x20008] = a3\n"
                       "u32 [a0 + 4] = 0x12\n"
                       "u8 [0x20000] = 0xff\n"
                       "u64 [sp + -8] = -1\n"
                       "[a0..a0 + a2] = u8 a1\n"),
            (Lines{"a1 = u8 [a0 + 0x10]", "a1 = i16 [a0]", "a1 = u32 [0x20000]", "u8 [a0 + 0x2] = a3",
                   "u16 [a0 + 0xfffffffffffffffe] = a3", "u64 [0x20008] = a3", "u32 [a0 + 4] = 0x12",
                   "u8 [0x20000] = 0xff", "u64 [sp + -8] = 0xffffffffffffffff", "[a0..a0 + a2] = u8 a1"}));
}

TEST(Assembler, JumpsAndBranches) {
  EXPECT_EQ(listing_of("@top:\n"
                       "jump @top if a0 == 5\n"
                       "jump @top if 5 <u a0\n"
                       "jump @top if a0 <=u a1\n"
                       "jump @top if a0 >s a1\n"
                       "jump @top if a0 <=s -3\n"
                       "a1 = 9, jump @top\n"
                       "jump [a0 + 4]\n"
                       "jump [a1]\n"
                       "ret\n"
                       "a1 = 7, jump [a2 + 8]\n"
                       "tmp = a1, a1 = 7, jump [tmp]\n"
                       "jump @top\n"),
            (Lines{"jump 0 if a0 == 5", "jump 0 if a0 >u 5", "jump 0 if a1 >=u a0", "jump 0 if a1 <s a0",
                   "jump 0 if a0 <=s -3", "a1 = 9, jump 0", "jump [a0 + 0x4]", "jump [a1]", "ret",
                   "a1 = 7, jump [a2 + 0x8]", "tmp = a1, a1 = 7, jump [tmp]", "jump 0"}));
}

TEST(Assembler, OtherForms) {
  EXPECT_EQ(listing_of("trap\nfallthrough\nunlikely\nnop\necalli 3\na0 = a1\na0 = a1 if a2 == 0\n"
                       "a0 = a1 if a2 != 0\na0 = 5 if a2 != 0\ni32 a0 = clz a1\na0 = sext8 a1\na0 = sbrk a1\n"),
            (Lines{"trap", "fallthrough", "unlikely", "ra = ra", "ecalli 3", "a0 = a1", "a0 = a1 if a2 == 0",
                   "a0 = a1 if a2 != 0", "a0 = 0x5 if a2 != 0", "i32 a0 = clz a1", "a0 = sext8 a1", "a0 = sbrk a1"}));
}

TEST(Assembler, NumbersAndRegisterNames) {
  EXPECT_EQ(listing_of("a0 = 0b101\na0 = -1\na0 = 4294967295\na0 = 0xffffffffffffff00\nr7 = r8 + r12\n"
                       "a0 = 0x80000000\na0 = 0xDEADbeef12\n"),
            (Lines{"a0 = 0x5", "a0 = 0xffffffffffffffff", "a0 = 0xffffffff", "a0 = 0xffffffffffffff00", "a0 = a1 + a5",
                   "a0 = 0x80000000", "a0 = 0xdeadbeef12"}));
  // "i64" forces load_imm64 even for a small value.
  const ProgramBlob wide = must_assemble("a0 = i64 5\n");
  EXPECT_EQ(CodeView(wide).decode(0).opcode, Opcode::load_imm64);
  EXPECT_EQ(CodeView(must_assemble("a0 = 5\n")).decode(0).opcode, Opcode::load_imm);
  // ...and the disassembler marks such a value, so the listing keeps the long encoding.
  EXPECT_EQ(listing(wide), (Lines{"a0 = i64 0x5"}));
  EXPECT_EQ(listing_of("a0 = i64 -1\na0 = i64 0x80000000\n"), (Lines{"a0 = i64 0xffffffffffffffff", "a0 = 0x80000000"}));
}

TEST(Assembler, ThirtyTwoBitIsasTakeUnprefixedOperationsAsThe32BitOnes) {
  const auto isa = InstructionSet::Latest32;
  const ProgramBlob blob = must_assemble("a0 = a1 + a2\ni32 a0 = a1 + a2\na0 = 0xffffffff\na0 = cpop a1\n", isa);
  CodeView code(blob);
  EXPECT_EQ(code.decode(0).opcode, Opcode::add_32);
  EXPECT_EQ(code.decode(3).opcode, Opcode::add_32);
  EXPECT_EQ(listing(blob), (Lines{"a0 = a1 + a2", "a0 = a1 + a2", "a0 = 0xffffffff", "a0 = cpop a1"}));
}

TEST(Assembler, AFallthroughStartsALabelAfterStraightLineCode) {
  EXPECT_EQ(listing_of("jump @l\na0 = 1\n@l:\na0 = 2\n"), (Lines{"jump 6", "a0 = 0x1", "fallthrough", "a0 = 0x2"}));
  EXPECT_EQ(listing_of("trap\n@l:\na0 = 2\n"), (Lines{"trap", "a0 = 0x2"}));
  EXPECT_EQ(listing_of("a0 = 1\n@l: %no_fallthrough\na0 = 2\n"), (Lines{"a0 = 0x1", "a0 = 0x2"}));
}

TEST(Assembler, CommentsAndBlankLines) {
  EXPECT_EQ(listing_of("// a comment\n\n   a0 = 1 // trailing\r\n\t\ttrap\n"), (Lines{"a0 = 0x1", "trap"}));
}

TEST(Assembler, DirectivesSetTheMemoryLayout) {
  const ProgramBlob blob = must_assemble(
      "%ro_data_size = 4\n%rw_data_size = 0x10\n%stack_size = 4096\n%ro_data = 01 02 0a ff\n%rw_data = 8182 83\n"
      "pub @main:\ntrap\n");
  EXPECT_EQ(blob.ro_data_size, 4u);
  EXPECT_EQ(blob.rw_data_size, 16u);
  EXPECT_EQ(blob.stack_size, 4096u);
  EXPECT_EQ(blob.ro_data, (std::vector<uint8_t>{0x01, 0x02, 0x0a, 0xff}));
  EXPECT_EQ(blob.rw_data, (std::vector<uint8_t>{0x81, 0x82, 0x83}));
  auto parsed = ProgramBlob::parse(blob.to_bytes());
  ASSERT_TRUE(parsed.ok()) << parsed.error().message();
  EXPECT_EQ(*parsed, blob);
}

TEST(Assembler, TheIsaDirectiveWinsOverTheArgument) {
  EXPECT_EQ(must_assemble("%isa = jam_v1\ntrap\n", InstructionSet::Latest32).isa, InstructionSet::JamV1);
  EXPECT_EQ(must_assemble("trap\n%isa = revive_v1\n", std::nullopt).isa, InstructionSet::ReviveV1);
  EXPECT_EQ(must_assemble("trap\n", InstructionSet::Latest32).isa, InstructionSet::Latest32);
  EXPECT_EQ(error_of("trap\n", std::nullopt), "no ISA was declared in the program");
  // The opcode numbering follows the ISA: sbrk is 101 on latest64, count_set_bits_64 is 101 on jam_v1.
  EXPECT_EQ(must_assemble("a0 = cpop a1\n", InstructionSet::JamV1).code()[0], 101);
  EXPECT_EQ(must_assemble("a0 = sbrk a1\n", InstructionSet::Latest64).code()[0], 101);
}

TEST(Assembler, ExportsAreSortedByNameAndMayPointInsideABlock) {
  const ProgramBlob blob = must_assemble(
      "pub @main:\n"
      "a0 = 1\n"
      "pub @exit: %no_fallthrough\n"
      "trap\n"
      "pub @b:\n"
      "trap\n");
  EXPECT_EQ(blob.exports, (std::vector<ProgramExport>{{4, "b"}, {3, "exit"}, {0, "main"}}));
}

TEST(Assembler, ExportAnnotationsKeepTheirNumbers) {
  const ProgramBlob blob = must_assemble(
      "@0 [export #1: 'second']\ntrap\n@1 [export #0: 0x6869ff] [export #2: 'it's']\ntrap\npub @named:\ntrap\n");
  EXPECT_EQ(blob.exports, (std::vector<ProgramExport>{{1, "hi\xff"}, {0, "second"}, {1, "it's"}, {2, "named"}}));
  // The disassembler prints them so; the text comes back with the same exports.
  EXPECT_EQ(must_assemble(disassemble(blob)).exports, blob.exports);
}

TEST(Assembler, LabelAddressesAreJumpTableEntries) {
  const ProgramBlob blob = must_assemble("a0 = @b\na1 = @c\na2 = @b\njump [a0]\n@b:\ntrap\n@c:\ntrap\n");
  EXPECT_EQ(listing(blob), (Lines{"a0 = 0x2", "a1 = 0x4", "a2 = 0x6", "jump [a0]", "trap", "trap"}));
  EXPECT_EQ(blob.code_and_jump_table.jump_table, (std::vector<uint32_t>{11, 12, 11}));
}

TEST(Assembler, DynAnnotationsNumberTheJumpTable) {
  const ProgramBlob blob = must_assemble("a0 = @c\njump [a0]\n@b [@dyn 2] [@dyn 3]\ntrap\n@c [@dyn 1]\ntrap\n");
  // Annotated entries come first; "a0 = @c" adds entry 4.
  EXPECT_EQ(listing(blob), (Lines{"a0 = 0x8", "jump [a0]", "trap", "trap"}));
  EXPECT_EQ(blob.code_and_jump_table.jump_table, (std::vector<uint32_t>{6, 5, 5, 6}));
  const std::string text = disassemble(blob);
  EXPECT_NE(text.find("@1 [@dyn 2] [@dyn 3]"), std::string::npos) << text;
  EXPECT_EQ(must_assemble(text).code_and_jump_table.jump_table, blob.code_and_jump_table.jump_table);
}

TEST(Assembler, ReadsTheDisassemblersListing) {
  const std::string text =
      "// RO data = 0/0 bytes\n"
      "      :                          @0 [export #0: 'main'] (gas: 3)\n"
      "     0: 33 07 02                 a0 = 0x2\n"
      "     3: 14 09 ef be ad de 00 00 00 00 a2 = 0xdeadbeef\n"
      "    13: 0a 03                    ecalli 3 // INVALID\n"
      "    15: 28 02                    jump 17\n"
      "      :                          @1 [@dyn 1]\n"
      "    17: 00                       trap\n";
  const ProgramBlob blob = must_assemble(text);
  EXPECT_EQ(listing(blob), (Lines{"a0 = 0x2", "a2 = 0xdeadbeef", "ecalli 3", "jump 17", "trap"}));
  EXPECT_EQ(blob.code_and_jump_table.jump_table, (std::vector<uint32_t>{17}));
  EXPECT_EQ(blob.exports, (std::vector<ProgramExport>{{0, "main"}}));
}

TEST(Assembler, ListedOffsetsNameTheirLinesWhereverTheyEndUp) {
  // "jump 30" names the line listed at 30, which is at offset 3 once assembled.
  EXPECT_EQ(listing_of("    0: jump 30\n   20: trap\n   30: trap\n"), (Lines{"jump 3", "trap", "trap"}));
  // Without an offset column a number is a code offset: here the middle of the jump itself.
  EXPECT_EQ(listing_of("jump 1\ntrap\n"), (Lines{"jump 1", "trap"}));
  EXPECT_EQ(listing_of("jump 3\ntrap\ntrap\n"), (Lines{"jump 3", "trap", "trap"}));
}

TEST(Assembler, RawOffsetTargetsGetTheShortestEncoding) {
  // Each jump names an offset near itself; measured from a first guess that puts everything at 0 they would
  // look far away and keep long immediates, and the listing would then not assemble to the same bytes.
  const ProgramBlob blob = must_assemble("jump 1\njump 2\njump 3\na0 = 1\njump 0\n");
  const std::vector<Instruction> insns = list_instructions(CodeView(blob));
  ASSERT_GE(insns.size(), 5u);
  for (size_t i = 0; i < 3; ++i) EXPECT_LE(insns[i].length, 2u) << i;  // opcode + one offset byte at most
  const ProgramBlob back = must_assemble(disassemble(blob));
  EXPECT_EQ(back.code_and_jump_table, blob.code_and_jump_table);
}

TEST(Assembler, AFinalInvalidIsTheImplicitTrapAtTheEnd) {
  const ProgramBlob blob = must_assemble("a0 = 1\ninvalid\n");
  EXPECT_EQ(blob.code().size(), 3u);
  const std::string text = disassemble(blob);
  EXPECT_NE(text.find("invalid"), std::string::npos) << text;
  EXPECT_EQ(must_assemble(text).code_and_jump_table, blob.code_and_jump_table);
  // After a fallthrough the implicit trap starts a block of its own.
  EXPECT_EQ(must_assemble("fallthrough\n@1\ninvalid\n").code().size(), 1u);
}

TEST(Assembler, ReturnsTheBlobBytes) {
  auto bytes = assemble("pub @main:\na0 = a0 + a1\nret\n", InstructionSet::JamV1);
  ASSERT_TRUE(bytes.ok()) << bytes.error().message();
  auto blob = ProgramBlob::parse(*bytes);
  ASSERT_TRUE(blob.ok()) << blob.error().message();
  EXPECT_EQ(blob->isa, InstructionSet::JamV1);
  EXPECT_EQ(listing(*blob), (Lines{"a0 = a0 + a1", "ret"}));
  EXPECT_EQ(assemble("bogus", InstructionSet::JamV1).error().message(),
            "line 1, column 1: unknown instruction 'bogus'");
}

// ---- Errors ---------------------------------------------------------------------------------------------

struct BadInput {
  const char* text;
  const char* message;
  InstructionSet isa = InstructionSet::Latest64;
};

const BadInput kBadInputs[] = {
    {"a0 = = 1", "line 1, column 6: expected a register or a number, found '='"},
    {"foo", "line 1, column 1: unknown instruction 'foo'"},
    {"trap\n  a0 = a1 +", "line 2, column 12: expected a register or a number, found the end of the line"},
    {"a0 = a1 + a2 a3", "line 1, column 14: unexpected 'a3' after the instruction"},
    {"a0 = 0x", "line 1, column 6: invalid number '0x'"},
    {"a0 = 12ab", "line 1, column 6: invalid number '12ab'"},
    {"a0 = 99999999999999999999", "line 1, column 6: the number '99999999999999999999' does not fit in 64 bits"},
    {"a0 = a1 + 0x80000000",
     "line 1, column 11: the value 0x80000000 does not fit in a sign-extended 32-bit immediate"},
    {"a0 = a1 + 0x100000000", "line 1, column 11: the value 0x100000000 does not fit in 32 bits",
     InstructionSet::Latest32},
    {"a0 = a1 - -2147483648", "line 1, column 11: the negated value does not fit in a sign-extended 32-bit immediate"},
    {"i32 a0 = a1 & a2", "line 1, column 13: 'i32' is not supported for '&'"},
    {"i32 a0 = 5", "line 1, column 10: 'i32' is not supported for this instruction"},
    {"a0 = a1 /u 5", "line 1, column 9: there is no instruction for '/u' with an immediate"},
    {"a0 = 5 <<r a1", "line 1, column 8: there is no instruction for an immediate '<<r' a register"},
    {"a0 = 5 + 6", "line 1, column 6: both operands cannot be numbers"},
    {"a0 = a1 $ a2", "line 1, column 9: unexpected character '$'"},
    {"jump @nowhere", "line 1, column 6: label @nowhere is not defined"},
    {"a0 = @missing", "line 1, column 6: label @missing is not defined"},
    {"jump", "line 1, column 5: expected a jump target (@label or a code offset), found the end of the line"},
    {"@x:\njump @x if 1 == 2", "line 2, column 12: both sides of the comparison cannot be numbers"},
    {"@x:\njump @x a0", "line 2, column 9: expected 'if' or the end of the line, found 'a0'"},
    {"jump 0x100000000", "line 1, column 6: a code offset must fit in 32 bits"},
    {"jump [5]", "line 1, column 6: an indirect jump needs a base register: 'jump [a0 + 4]'"},
    {"ecalli -1", "line 1, column 8: expected a host-call number, found '-'"},
    {"ecalli 4294967296", "line 1, column 8: ecalli takes a number from 0 to 4294967295"},
    {"u8 [a0 + 1 = a1", "line 1, column 12: expected ']', found '='"},
    {"a0 = 5, jump [a0]",
     "line 1, column 14: the jump reads a0 before the load; write 'tmp = a0, a0 = ..., jump [tmp]'"},
    {"a0 = a1 if a2 == 1", "line 1, column 18: a conditional move compares with 0"},
    {"tmp = a0, a1 = 5, jump [a0]", "line 1, column 25: expected 'tmp', found 'a0'"},
    {"[a0..a1 + a2] = u8 a1", "line 1, column 1: memset is written '[a0..a0 + a2] = u8 a1'"},
    {"a0 = maxs(a1 a2)", "line 1, column 14: expected ',', found 'a2'"},
    {"%isa = foo", "line 1, column 8: unknown instruction set 'foo'; expected revive_v1, latest32, latest64 or jam_v1"},
    {"%foo = 1", "line 1, column 1: unknown directive '%foo'"},
    {"%ro_data = 0", "line 1, column 12: %ro_data has an odd number of hex digits"},
    {"%rw_data = 0g", "line 1, column 13: %rw_data takes hex bytes, e.g. '01 02 ff'"},
    {"%stack_size = -1", "line 1, column 15: %stack_size takes a number"},
    {"%stack_size = 0x100000000", "line 1, column 15: %stack_size must fit in 32 bits"},
    {"%ro_data_size 4", "line 1, column 15: expected '=' after '%ro_data_size'"},
    {"%ro_data_size = 1\n%ro_data = 01 02", "line 2: %ro_data has 2 bytes, more than %ro_data_size = 1"},
    {"%no_fallthrough", "line 1, column 1: %no_fallthrough must follow a label ('@name: %no_fallthrough')"},
    {"@", "line 1, column 1: expected a label name after '@'"},
    {"pub foo", "line 1, column 5: expected a label ('@name:') after 'pub'"},
    {"@x:\ntrap\n @x:", "line 3, column 2: duplicate label @x (first defined on line 1)"},
    {"@x: junk", "line 1, column 5: unexpected 'junk' after the label"},
    {"@x: [@dyn 0]", "line 1, column 5: jump-table entries are numbered from 1"},
    {"@x: [@dyn 2]", "line 1, column 1: [@dyn 1] is missing (the numbers start at 1 and have no gaps)"},
    {"@x: [@dyn 1]\n@y: [@dyn 1]", "line 2, column 1: [@dyn 1] is given twice (first on line 1)"},
    {"@x: [export #0: 'a", "line 1, column 17: unterminated symbol: missing \"']\""},
    {"@x: [export #1: 'a']", "line 1, column 1: [export #0] is missing (the numbers start at 0 and have no gaps)"},
    {"a0 = 1\n@l: %no_fallthrough\njump @l",
     "line 3, column 6: label @l is in the middle of a basic block (after %no_fallthrough), so it cannot be a jump "
     "target"},
    {"a0 = @end\njump [a0]\n@end:", "line 1, column 6: label @end has no instruction after it, so it cannot be a "
                                       "jump target"},
    {"trap\npub @end:", "line 2, column 1: label @end has no instruction after it, so it cannot be exported or be a "
                         "jump-table entry"},
    {"trap\ninvalid",
     "line 2, column 1: 'invalid' can only follow the last instruction when that one can fall through (it stands "
     "for the implicit trap at the end of the code)"},
    {"a0 = sbrk a1", "line 1, column 1: the instruction 'sbrk' is not available in the 'jam_v1' instruction set",
     InstructionSet::JamV1},
    {"trap\n    a0 = u64 [a1]",
     "line 2, column 5: the instruction 'load_indirect_u64' is not available in the 'latest32' instruction set",
     InstructionSet::Latest32},
};

TEST(Assembler, MalformedInputsGiveExactMessages) {
  static_assert(std::size(kBadInputs) >= 30);
  for (const BadInput& bad : kBadInputs) EXPECT_EQ(error_of(bad.text, bad.isa), bad.message) << bad.text;
}

// Truncations and random mutations of a program that uses every construct: whatever the text, the
// assembler returns a blob or an error, and never aborts.
TEST(Assembler, NeverCrashesOnMangledText) {
  const std::string program =
      "%isa = latest64\n%ro_data_size = 4\n%ro_data = 01 02\npub @main:\n  a0 = @end\n  tmp = a0, a0 = 1, jump [tmp]\n"
      "@l [@dyn 1] [export #0: 'x'] (gas: 2)\n  i32 a1 = a2 + 0x10\n  u8 [a0 + -5] = 0xff\n  jump @l if a0 <=s -3\n"
      "  a0 = 5, jump @main\n     7: a0 = ~(a1 ^ a2)\n  a0 = maxs(a1, a2)\n  [a0..a0 + a2] = u8 a1\n  jump 7\n"
      "@end: %no_fallthrough\n  a0 = a1 if a2 != 0\n  invalid\n";
  for (size_t length = 0; length <= program.size(); ++length) (void)assemble_blob(program.substr(0, length));
  std::mt19937 random(12345);
  const std::string alphabet = "@%[]()=+-*&|^~<>!/.,:' \n0123456789abcdefxiuptmjr_";
  for (int round = 0; round < 3000; ++round) {
    std::string text = program;
    for (int edits = 1 + static_cast<int>(random() % 4); edits > 0; --edits) {
      const size_t at = random() % text.size();
      const char c = alphabet[random() % alphabet.size()];
      switch (random() % 3) {
        case 0:
          text[at] = c;
          break;
        case 1:
          text.insert(text.begin() + static_cast<long>(at), c);
          break;
        default:
          text.erase(at, 1);
          break;
      }
    }
    (void)assemble_blob(text);
  }
}

}  // namespace
}  // namespace polkavm
