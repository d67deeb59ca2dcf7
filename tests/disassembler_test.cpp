// The disassembler must print exactly the reference's text: single instructions in every format, and whole
// programs compared with the disassemblies the reference wrote into the spec vectors' TESTCASES.md.
#include "polkavm/disassembler.hpp"
#include "polkavm/assembler.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "polkavm/runtime.hpp"

namespace polkavm {
namespace {

// make_instruction takes a jump target as the last immediate.
Instruction insn(Opcode op, std::initializer_list<Reg> regs = {}, std::initializer_list<uint32_t> imms = {}) {
  return make_instruction(op, regs, imms);
}

uint32_t neg(int32_t value) { return static_cast<uint32_t>(value); }

std::string dis64(const Instruction& i) { return disassemble_instruction(i, InstructionSet::Latest64); }
std::string dis32(const Instruction& i) { return disassemble_instruction(i, InstructionSet::Latest32); }

TEST(Disassembler, ArgumentlessInstructions) {
  EXPECT_EQ(dis64(insn(Opcode::trap)), "trap");
  EXPECT_EQ(dis64(insn(Opcode::fallthrough)), "fallthrough");
  EXPECT_EQ(dis64(insn(Opcode::unlikely)), "unlikely");
  EXPECT_EQ(dis64(insn(Opcode::memset)), "[a0..a0 + a2] = u8 a1");
  EXPECT_EQ(dis64(Instruction{}), "invalid");
}

TEST(Disassembler, EcalliPrintsTheImmediateAsUnsigned) {
  EXPECT_EQ(dis64(insn(Opcode::ecalli, {}, {3})), "ecalli 3");
  EXPECT_EQ(dis64(insn(Opcode::ecalli, {}, {neg(-128)})), "ecalli 4294967168");
}

TEST(Disassembler, RegImm) {
  EXPECT_EQ(dis64(insn(Opcode::load_imm, {Reg::A0}, {0})), "a0 = 0");
  EXPECT_EQ(dis64(insn(Opcode::load_imm, {Reg::A0}, {0x1234})), "a0 = 0x1234");
  EXPECT_EQ(dis64(insn(Opcode::load_imm, {Reg::A0}, {neg(-1)})), "a0 = 0xffffffffffffffff");
  EXPECT_EQ(dis32(insn(Opcode::load_imm, {Reg::A0}, {neg(-1)})), "a0 = 0xffffffff");
  EXPECT_EQ(dis64(insn(Opcode::load_u8, {Reg::A1}, {0x20000})), "a1 = u8 [0x20000]");
  EXPECT_EQ(dis64(insn(Opcode::load_i32, {Reg::T0}, {0x20004})), "t0 = i32 [0x20004]");
  EXPECT_EQ(dis64(insn(Opcode::store_u64, {Reg::A1}, {0x20000})), "u64 [0x20000] = a1");
  EXPECT_EQ(dis64(insn(Opcode::store_u16, {Reg::S1}, {neg(-16)})), "u16 [0xfffffffffffffff0] = s1");
}

TEST(Disassembler, JumpIndirectAliases) {
  EXPECT_EQ(dis64(insn(Opcode::jump_indirect, {Reg::RA}, {0})), "ret");
  EXPECT_EQ(dis64(insn(Opcode::jump_indirect, {Reg::A0}, {0})), "jump [a0]");
  EXPECT_EQ(dis64(insn(Opcode::jump_indirect, {Reg::A0}, {8})), "jump [a0 + 0x8]");
  InstructionFormat unaliased;
  unaliased.prefer_unaliased = true;
  EXPECT_EQ(disassemble_instruction(insn(Opcode::jump_indirect, {Reg::RA}, {0}), unaliased), "jump [ra + 0]");
}

TEST(Disassembler, RegImm64) {
  EXPECT_EQ(dis64(make_load_imm64(Reg::A3, 0x123456789abcdef0ull)), "a3 = 0x123456789abcdef0");
}

TEST(Disassembler, ImmImmAndRegImmImm) {
  EXPECT_EQ(dis64(insn(Opcode::store_imm_u32, {}, {0x20000, 0x12345678})), "u32 [0x20000] = 0x12345678");
  EXPECT_EQ(dis64(insn(Opcode::store_imm_u64, {}, {0x20000, neg(-2)})), "u64 [0x20000] = 0xfffffffffffffffe");
  // The base offset of store_imm_indirect is decimal, the value hex.
  EXPECT_EQ(dis64(insn(Opcode::store_imm_indirect_u8, {Reg::A0}, {neg(-5), 1})), "u8 [a0 + -5] = 0x1");
  EXPECT_EQ(dis64(insn(Opcode::store_imm_indirect_u64, {Reg::SP}, {16, 0})), "u64 [sp + 16] = 0");
}

TEST(Disassembler, BranchesPrintTargetsAndDecimalImmediates) {
  EXPECT_EQ(dis64(insn(Opcode::jump, {}, {12})), "jump 12");
  EXPECT_EQ(dis64(insn(Opcode::branch_eq_imm, {Reg::A0}, {5, 20})), "jump 20 if a0 == 5");
  EXPECT_EQ(dis64(insn(Opcode::branch_less_signed_imm, {Reg::A0}, {neg(-10), 20})), "jump 20 if a0 <s -10");
  EXPECT_EQ(dis64(insn(Opcode::branch_greater_or_equal_unsigned_imm, {Reg::A1}, {7, 0})),
            "jump 0 if a1 >=u 7");
  EXPECT_EQ(dis64(insn(Opcode::branch_less_or_equal_signed_imm, {Reg::A1}, {7, 0})), "jump 0 if a1 <=s 7");
  EXPECT_EQ(dis64(insn(Opcode::branch_eq, {Reg::A0, Reg::A1}, {20})), "jump 20 if a0 == a1");
  EXPECT_EQ(dis64(insn(Opcode::branch_greater_or_equal_signed, {Reg::T0, Reg::T1}, {4})),
            "jump 4 if t0 >=s t1");
  EXPECT_EQ(dis64(insn(Opcode::load_imm_and_jump, {Reg::RA}, {neg(-1), 8})), "ra = -1, jump 8");

  InstructionFormat labels;
  labels.jump_target = [](uint32_t target) { return fmt::format("@{}", target / 4); };
  EXPECT_EQ(disassemble_instruction(insn(Opcode::branch_not_eq_imm, {Reg::A0}, {0, 12}), labels),
            "jump @3 if a0 != 0");
}

TEST(Disassembler, RegReg) {
  EXPECT_EQ(dis64(insn(Opcode::move_reg, {Reg::A0, Reg::A1})), "a0 = a1");
  EXPECT_EQ(dis64(insn(Opcode::sbrk, {Reg::A0, Reg::A1})), "a0 = sbrk a1");
  EXPECT_EQ(dis64(insn(Opcode::count_set_bits_32, {Reg::A0, Reg::A1})), "i32 a0 = cpop a1");
  EXPECT_EQ(dis32(insn(Opcode::count_set_bits_32, {Reg::A0, Reg::A1})), "a0 = cpop a1");
  EXPECT_EQ(dis64(insn(Opcode::count_leading_zero_bits_64, {Reg::A0, Reg::A1})), "a0 = clz a1");
  EXPECT_EQ(dis64(insn(Opcode::sign_extend_16, {Reg::A0, Reg::A1})), "a0 = sext16 a1");
  EXPECT_EQ(dis64(insn(Opcode::reverse_byte, {Reg::A0, Reg::A1})), "a0 = reverse a1");
}

TEST(Disassembler, LoadsAndStoresThroughRegisters) {
  EXPECT_EQ(dis64(insn(Opcode::load_indirect_u8, {Reg::A0, Reg::A1}, {0})), "a0 = u8 [a1]");
  EXPECT_EQ(dis64(insn(Opcode::load_indirect_u32, {Reg::A0, Reg::A1}, {0x10})), "a0 = u32 [a1 + 0x10]");
  EXPECT_EQ(dis64(insn(Opcode::load_indirect_i8, {Reg::A0, Reg::SP}, {neg(-8)})),
            "a0 = i8 [sp + 0xfffffffffffffff8]");
  // The reference's spelling of this one load has a space before the bracket.
  EXPECT_EQ(dis64(insn(Opcode::load_indirect_u16, {Reg::A0, Reg::A1}, {0})), "a0 = u16 [a1 ]");
  EXPECT_EQ(dis64(insn(Opcode::store_indirect_u8, {Reg::A1, Reg::A0}, {0x10})), "u8 [a0 + 0x10] = a1");
  EXPECT_EQ(dis64(insn(Opcode::store_indirect_u64, {Reg::A1, Reg::SP}, {0})), "u64 [sp] = a1");

  InstructionFormat non_abi;
  non_abi.prefer_non_abi_reg_names = true;
  // The reference names the source of store_indirect_u8 by its ABI name regardless.
  EXPECT_EQ(disassemble_instruction(insn(Opcode::store_indirect_u8, {Reg::A3, Reg::A0}, {2}), non_abi),
            "u8 [r7 + 0x2] = a3");
  EXPECT_EQ(disassemble_instruction(insn(Opcode::store_indirect_u16, {Reg::A3, Reg::A0}, {2}), non_abi),
            "u16 [r7 + 0x2] = r10");
}

TEST(Disassembler, RegRegImmArithmetic) {
  EXPECT_EQ(dis64(insn(Opcode::add_imm_64, {Reg::A0, Reg::A1}, {4})), "a0 = a1 + 0x4");
  EXPECT_EQ(dis64(insn(Opcode::add_imm_64, {Reg::A0, Reg::A1}, {neg(-4)})), "a0 = a1 - 4");
  EXPECT_EQ(dis64(insn(Opcode::add_imm_64, {Reg::A0, Reg::A1}, {neg(-4096)})), "a0 = a1 + 0xfffffffffffff000");
  EXPECT_EQ(dis64(insn(Opcode::add_imm_32, {Reg::A0, Reg::A1}, {neg(-1)})), "i32 a0 = a1 - 1");
  EXPECT_EQ(dis32(insn(Opcode::add_imm_32, {Reg::A0, Reg::A1}, {neg(-5000)})), "a0 = a1 + 0xffffec78");
  InstructionFormat unaliased;
  unaliased.prefer_unaliased = true;
  EXPECT_EQ(disassemble_instruction(insn(Opcode::add_imm_64, {Reg::A0, Reg::A1}, {neg(-4)}), unaliased),
            "a0 = a1 + 0xfffffffffffffffc");

  EXPECT_EQ(dis64(insn(Opcode::negate_and_add_imm_64, {Reg::A0, Reg::A1}, {0})), "a0 = -a1");
  EXPECT_EQ(dis64(insn(Opcode::negate_and_add_imm_32, {Reg::A0, Reg::A1}, {5})), "i32 a0 = 0x5 - a1");
  EXPECT_EQ(dis64(insn(Opcode::and_imm, {Reg::A0, Reg::A1}, {0xff})), "a0 = a1 & 0xff");
  EXPECT_EQ(dis64(insn(Opcode::mul_imm_32, {Reg::A0, Reg::A1}, {3})), "i32 a0 = a1 * 0x3");
  EXPECT_EQ(dis64(insn(Opcode::set_greater_than_signed_imm, {Reg::A0, Reg::A1}, {3})), "a0 = a1 >s 0x3");
  EXPECT_EQ(dis64(insn(Opcode::shift_arithmetic_right_imm_64, {Reg::A0, Reg::A1}, {3})), "a0 = a1 >>a 0x3");
  EXPECT_EQ(dis64(insn(Opcode::shift_logical_left_imm_alt_32, {Reg::A0, Reg::A1}, {3})), "i32 a0 = 0x3 << a1");
  EXPECT_EQ(dis64(insn(Opcode::rotate_right_imm_alt_64, {Reg::A0, Reg::A1}, {3})), "a0 = 0x3 >>r a1");
  EXPECT_EQ(dis32(insn(Opcode::rotate_right_imm_32, {Reg::A0, Reg::A1}, {3})), "a0 = a1 >>r 0x3");
  EXPECT_EQ(dis64(insn(Opcode::cmov_if_zero_imm, {Reg::A0, Reg::A1}, {7})), "a0 = 0x7 if a1 == 0");
}

TEST(Disassembler, RegRegReg32And64BitForms) {
  EXPECT_EQ(dis64(insn(Opcode::add_32, {Reg::A2, Reg::A0, Reg::A1})), "i32 a2 = a0 + a1");
  EXPECT_EQ(dis32(insn(Opcode::add_32, {Reg::A2, Reg::A0, Reg::A1})), "a2 = a0 + a1");
  EXPECT_EQ(dis64(insn(Opcode::add_64, {Reg::A2, Reg::A0, Reg::A1})), "a2 = a0 + a1");
  EXPECT_EQ(dis64(insn(Opcode::div_signed_32, {Reg::A2, Reg::A0, Reg::A1})), "i32 a2 = a0 /s a1");
  EXPECT_EQ(dis64(insn(Opcode::rem_unsigned_64, {Reg::A2, Reg::A0, Reg::A1})), "a2 = a0 %u a1");
  EXPECT_EQ(dis64(insn(Opcode::shift_arithmetic_right_32, {Reg::A2, Reg::A0, Reg::A1})), "i32 a2 = a0 >>a a1");
  EXPECT_EQ(dis64(insn(Opcode::rotate_left_64, {Reg::A2, Reg::A0, Reg::A1})), "a2 = a0 <<r a1");
  EXPECT_EQ(dis64(insn(Opcode::mul_upper_signed_unsigned, {Reg::A2, Reg::A0, Reg::A1})), "a2 = a0 mulhsu a1");
  EXPECT_EQ(dis64(insn(Opcode::set_less_than_signed, {Reg::A2, Reg::A0, Reg::A1})), "a2 = a0 <s a1");
  EXPECT_EQ(dis64(insn(Opcode::and_inverted, {Reg::A2, Reg::A0, Reg::A1})), "a2 = a0 & ~a1");
  EXPECT_EQ(dis64(insn(Opcode::xnor, {Reg::A2, Reg::A0, Reg::A1})), "a2 = ~(a0 ^ a1)");
  EXPECT_EQ(dis64(insn(Opcode::minimum_unsigned, {Reg::A2, Reg::A0, Reg::A1})), "a2 = minu(a0, a1)");
  EXPECT_EQ(dis64(insn(Opcode::cmov_if_not_zero, {Reg::A2, Reg::A0, Reg::A1})), "a2 = a0 if a1 != 0");

  InstructionFormat non_abi;
  non_abi.prefer_non_abi_reg_names = true;
  EXPECT_EQ(disassemble_instruction(insn(Opcode::sub_64, {Reg::A2, Reg::A0, Reg::A1}), non_abi), "r9 = r7 - r8");
}

TEST(Disassembler, LoadImmAndJumpIndirect) {
  EXPECT_EQ(dis64(insn(Opcode::load_imm_and_jump_indirect, {Reg::RA, Reg::A0}, {1, 0})), "ra = 1, jump [a0]");
  EXPECT_EQ(dis64(insn(Opcode::load_imm_and_jump_indirect, {Reg::RA, Reg::A0}, {1, 4})), "ra = 1, jump [a0 + 0x4]");
  EXPECT_EQ(dis64(insn(Opcode::load_imm_and_jump_indirect, {Reg::A0, Reg::A0}, {neg(-2), 4})),
            "tmp = a0, a0 = -2, jump [tmp + 0x4]");
  EXPECT_EQ(dis64(insn(Opcode::load_imm_and_jump_indirect, {Reg::A0, Reg::A0}, {1, 0})),
            "tmp = a0, a0 = 1, jump [tmp]");
}

ProgramBlob simple_program() {
  // The reference disassembler's own unit test program.
  CodeBuilder builder(InstructionSet::Latest32);
  builder.emit(make_instruction(Opcode::store_imm_u32, {}, {0x20000, 0x12345678}));
  builder.emit(make_instruction(Opcode::add_32, {Reg::S0, Reg::A0, Reg::A1}));
  builder.emit(make_instruction(Opcode::ecalli, {}, {0}));
  builder.emit(make_instruction(Opcode::add_32, {Reg::A0, Reg::A0, Reg::S0}));
  builder.emit(make_instruction(Opcode::jump_indirect, {Reg::RA}, {0}));
  ProgramBlob blob;
  blob.isa = InstructionSet::Latest32;
  blob.rw_data_size = 0x4000;
  blob.exports.push_back({0, "main"});
  blob.imports.push_back("hostcall");
  blob.code_and_jump_table = builder.finish().code;
  return blob;
}

TEST(Disassembler, WholeProgramMatchesTheReferenceLayout) {
  EXPECT_EQ(disassemble(simple_program()),
            "// RO data = 0/0 bytes\n"
            "// RW data = 0/16384 bytes\n"
            "// Stack size = 0 bytes\n"
            "\n"
            "// Instructions = 5\n"
            "// Code size = 18 bytes\n"
            "\n"
            "      : @0 [export #0: 'main']\n"
            "     0: u32 [0x20000] = 0x12345678\n"
            "     9: s0 = a0 + a1\n"
            "    12: ecalli 0 // 'hostcall'\n"
            "    13: a0 = a0 + s0\n"
            "    16: ret\n");
}

TEST(Disassembler, WholeProgramWithGasRawBytesAndNoOffsets) {
  auto engine = Engine::create();
  ASSERT_TRUE(engine) << engine.error().message();
  ModuleConfig config;
  config.gas_metering = GasMeteringKind::Sync;
  auto module = Module::from_blob(*engine, config, simple_program());
  ASSERT_TRUE(module) << module.error().message();
  DisassemblyOptions options;
  options.emit_header = false;
  options.show_offsets = false;
  options.show_raw_bytes = true;
  options.gas_costs = &*module;
  EXPECT_EQ(disassemble(module->blob(), options),
            "                         @0 [export #0: 'main'] (gas: 5)\n"
            "20 03 00 00 02 78 56 34 12 u32 [0x20000] = 0x12345678\n"
            "be 87 05                 s0 = a0 + a1\n"
            "0a                       ecalli 0 // 'hostcall'\n"
            "be 57 07                 a0 = a0 + s0\n"
            "32 00                    ret\n");
}

TEST(Disassembler, ListsImplicitTrapAndLabelsJumpTargets) {
  CodeBuilder builder(InstructionSet::Latest64);
  auto loop = builder.new_label();
  builder.bind(loop);
  builder.emit(make_instruction(Opcode::add_imm_64, {Reg::A0, Reg::A0}, {neg(-1)}));
  builder.emit(make_instruction(Opcode::branch_not_eq_imm, {Reg::A0}, {0, 0}), loop);
  builder.emit(make_instruction(Opcode::add_64, {Reg::A1, Reg::A1, Reg::A0}));
  builder.add_jump_table_entry(loop);
  ProgramBlob blob;
  blob.code_and_jump_table = builder.finish().code;

  auto listed = list_instructions(CodeView(blob));
  ASSERT_EQ(listed.size(), 4u);
  EXPECT_FALSE(listed[3].valid);
  EXPECT_EQ(listed[3].pc, blob.code().size());
  EXPECT_EQ(listed[3].length, 0u);

  DisassemblyOptions options;
  options.emit_header = false;
  EXPECT_EQ(disassemble(blob, options),
            "      : @0 [@dyn 1]\n"
            "     0: a0 = a0 - 1\n"
            "     3: jump @0 if a0 != 0\n"
            "      : @1\n"
            "     6: a1 = a1 + a0\n"
            "     9: invalid\n");
}

// ---- Comparison with the reference's TESTCASES.md ----
// Only the spec vectors' file is current: the JAM v0.4 set was printed by an older reference whose syntax
// differed ("sext.b", unsigned branch immediates).

namespace fs = std::filesystem;

/// name -> the first fenced block after "## name" (the disassembly), without the reference's "//" notes
/// such as "// Start execution HERE:".
std::map<std::string, std::string> read_testcase_disassemblies(const fs::path& path) {
  std::ifstream file(path);
  std::map<std::string, std::string> out;
  std::string line, name, block;
  bool in_block = false, block_done = false;
  while (std::getline(file, line)) {
    if (line.starts_with("## ")) {
      name = line.substr(3);
      block_done = false;
    } else if (line == "```" && !name.empty() && !block_done) {
      if (in_block) {
        out[name] = block;
        block.clear();
        block_done = true;
      }
      in_block = !in_block;
    } else if (in_block && !line.starts_with("     //")) {
      block += line + "\n";
    }
  }
  return out;
}

/// The options the reference's spectool used for TESTCASES.md.
DisassemblyOptions testcase_options() {
  DisassemblyOptions options;
  options.emit_header = false;
  options.emit_exports = false;
  options.show_raw_bytes = true;
  options.prefer_non_abi_reg_names = true;
  options.prefer_unaliased = true;
  options.prefer_offset_jump_targets = true;
  return options;
}

void compare_with_testcases(const fs::path& dir, InstructionSet isa, size_t expected_count) {
  ASSERT_TRUE(fs::is_directory(dir)) << dir << " is missing; set the CMake cache variable POLKAVM_SHARED_DIR";
  auto expected = read_testcase_disassemblies(dir / "TESTCASES.md");
  ASSERT_EQ(expected.size(), expected_count);
  size_t compared = 0;
  for (const auto& entry : fs::directory_iterator(dir / "programs")) {
    std::ifstream file(entry.path());
    auto vector = nlohmann::json::parse(file);
    auto name = vector.at("name").get<std::string>();
    auto program = vector.at("program").get<std::vector<uint8_t>>();
    auto blob = ProgramBlob::from_code_and_jump_table(program, isa);
    ASSERT_TRUE(blob) << name << ": " << blob.error().message();
    ASSERT_TRUE(expected.count(name)) << name << " has no disassembly in TESTCASES.md";
    // The reference's spectool removes the "no such import" notes (its vectors have no imports).
    auto text = disassemble(*blob, testcase_options());
    for (size_t at; (at = text.find(" // INVALID")) != std::string::npos;) text.erase(at, 11);
    EXPECT_EQ(text, expected[name]) << name;
    ++compared;
  }
  EXPECT_EQ(compared, expected_count);
}

const fs::path kSharedDir = POLKAVM_SHARED_DIR;

TEST(Disassembler, MatchesReferenceTestcasesForSpecVectors) {
  compare_with_testcases(kSharedDir / "conformance" / "polkavm-spec-e88d5b4", InstructionSet::JamV1, 363);
}


}  // namespace
}  // namespace polkavm

namespace polkavm {
namespace {

TEST(Disassembler, ExportsInTheMiddleOfABlockAssembleBack) {
  // Found by assemble_fuzz: an export placed mid-block (`%no_fallthrough`, so the host can enter there)
  // was left out of the listing, which then failed to assemble.
  const char* text =
      "    a1 = a1 + 1\n"
      "pub @t\n"
      "    a1 = a1 + 1\n"
      "pub @main: %no_fallthrough\n"
      "    a2 = a1 + 5\n"
      "    trap\n";
  auto blob = assemble_blob(text, InstructionSet::Latest64);
  ASSERT_TRUE(blob) << blob.error().message();
  ASSERT_EQ(blob->exports.size(), 2u);
  const std::string listing = disassemble(*blob);
  EXPECT_NE(listing.find("%no_fallthrough [export #"), std::string::npos) << listing;
  auto back = assemble_blob(listing, blob->isa);
  ASSERT_TRUE(back) << back.error().message() << "\n" << listing;
  EXPECT_EQ(back->code_and_jump_table, blob->code_and_jump_table);
  ASSERT_EQ(back->exports.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(back->exports[i].pc, blob->exports[i].pc);
    EXPECT_EQ(back->exports[i].symbol, blob->exports[i].symbol);
  }
}

}  // namespace
}  // namespace polkavm
