// The full gas cost model (the reference's pipeline simulator). Expected costs come from the timeline
// tests of the reference's crates/polkavm-common/src/simulator.rs (cost = the timeline's length minus 3)
// or are derived by hand from its rules: 4 decode slots per cycle, a 32-entry reorder buffer, at most 5
// entries starting per cycle, in-order retirement, cost = max(cycles - 3, 1).
#include <chrono>

#include "polkavm/assembler.hpp"
#include "test_util.hpp"

namespace polkavm::test {
namespace {

using enum CacheModel;

uint32_t first_block_cost(const CodeView& view, CacheModel cache) {
  std::vector<Instruction> block;
  view.decode_block(0, block);
  return make_full_gas_model(cache)->block_cost(view, block);
}

/// The full model's cost of the block at offset 0 of `source` (assembler text).
uint32_t cost(std::string_view source, CacheModel cache, InstructionSet isa = InstructionSet::Latest64) {
  const ProgramBlob blob = unwrap(assemble_blob(source, isa), "assemble");
  return first_block_cost(CodeView(blob), cache);
}

uint32_t cost(const CodeBuilder& builder, CacheModel cache, InstructionSet isa) {
  const CodeBuilder::Output out = builder.finish();
  return first_block_cost(CodeView(isa, out.code.code, out.code.bitmask), cache);
}

// ---- The reference's timeline tests -------------------------------------------------------------

struct ReferenceCase {
  const char* name;
  CacheModel cache;
  uint32_t cost;
  const char* source;
};

// One long block the reference times under two cache models.
constexpr const char* kSuperComplex = R"(
      @0:
      unlikely
      t1 = u8 [s0]
      a1 = u8 [s0 + 0x11]
      a2 = 0x172d0
      a3 = u8 [s0 + 0x16]
      t0 = sp + 0x58
      a1 = a1 << 0x3
      a1 = a1 + a2
      a2 = u8 [a1]
      a5 = u8 [a1 + 0x1]
      s1 = u8 [a1 + 0x2]
      a4 = u8 [a1 + 0x3]
      a3 = a3 + t0
      a5 = a5 << 0x8
      s1 = s1 << 0x10
      a4 = a4 << 0x18
      a2 = a2 | a5
      a5 = u8 [a1 + 0x4]
      a0 = u8 [a1 + 0x5]
      a4 = a4 | s1
      s1 = u8 [a1 + 0x6]
      a1 = u8 [a1 + 0x7]
      a0 = a0 << 0x8
      a0 = a0 | a5
      s1 = s1 << 0x10
      a1 = a1 << 0x18
      a1 = a1 | s1
      a2 = a2 | a4
      a0 = a0 | a1
      a1 = s0 - t1
      a0 = a0 << 0x20
      a0 = a0 | a2
      u64 [sp + 0x58] = a0
      a0 = u8 [a3]
      a1 = u8 [a1 + 0x4]
      a0 = a1 * a0
      a1 = u8 [s0 + 0x23]
      jump @0 if a1 != 0
    )";

constexpr ReferenceCase kReferenceCases[] = {
    {"parallel_simple", L1Hit, 2, R"(
      a0 = a1 + a2
      a1 = a1 + a2
      trap
    )"},
    {"sequential_simple", L1Hit, 3, R"(
      a0 = a1 + a2
      a1 = a0 + a2
      trap
    )"},
    {"sequential_decode_limits", L1Hit, 4, R"(
      a0 = 0x12345678aabbccdd
      a1 = 0x12345678aabbccdd
      a2 = 0x12345678aabbccdd
      a3 = 0x12345678aabbccdd
      trap
    )"},
    {"resource_limits_mul", L1Hit, 6, R"(
      a0 = a1 * a2
      a1 = a3 * a4
      trap
    )"},
    {"mul_with_dep", L1Hit, 4, R"(
      a0 = a1 + a2
      a4 = a0 * a3
      trap
    )"},
    {"register_move", L1Hit, 3, R"(
      s0 = 1
      a0 = s0
      a1 = a0 + 1
      trap
    )"},
    {"memory_accesses", L1Hit, 26, R"(
      a0 = s1
      ra = u64 [sp + 0x30]
      s0 = u64 [sp + 0x28]
      s1 = u64 [sp + 0x20]
      sp = sp + 0x38
      ret
    )"},
    {"empty", L1Hit, 2, R"(
      fallthrough
    )"},
    {"overwrite_register", L1Hit, 27, R"(
      s0 = u64 [sp]
      s0 = a1 + a2
      s0 = u64 [s0]
      jump [s0]
    )"},
    {"load_and_jump", L1Hit, 5, R"(
      @0:
      a2 = u8 [a0 + 11]
      jump @0 if a2 == 0
    )"},
    {"complex", L1Hit, 27, R"(
      a2 = i16 [a0 + 0x6]
      a1 = a1 & 0x7
      a3 = 0x1
      a1 = a1 << 0x8
      a2 = a2 & 0xfffffffffffff8ff
      a1 = a1 | a2
      a2 = a1 + a3
      u8 [a0 + 0x2] = a3
      trap
    )"},
    {"even_more_complex", L1Hit, 22, R"(
      @0:
      i32 a1 = clz a0
      i32 a0 = a0 << a1
      a1 = a1 << 0x17
      i32 a2 = a0 >> 0x8
      a3 = a0 >> 0x7
      a3 = a3 & ~a2
      i32 a2 = a2 - a1
      a0 = a0 << 0x18
      a3 = a3 & 0x1
      i32 a0 = a0 - a3
      i32 a0 = a0 >> 0x1f
      a1 = a2 + 0x4e800000
      i32 a0 = a0 + a1
      a1 = 0x46008c00
      ra = 0x24
      jump @0
    )"},
    {"super_complex_l1", L1Hit, 68, kSuperComplex},
    {"super_complex_l2", L2Hit, 109, kSuperComplex},
    {"l3_loads", L3Hit, 148, R"(
      a0 = u64 [a0]
      a0 = u64 [a0]
      a0 = u64 [a0]
      a0 = u64 [a0]
      ret
    )"},
    {"ecalli", L1Hit, 100, R"(
      ecalli 27
      ret
    )"},
    {"xor_and_shift", L1Hit, 3, R"(
      a1 = a1 ^ 0xffffffffffffffff
      a1 = a0 >> a1
      fallthrough
    )"},
    {"move_reg_decode_slots", L1Hit, 3, R"(
      s0 = a1
      a0 = a1
      a1 = t0
      a2 = s1
      trap
    )"},
    {"another_complex_block_1", L2Hit, 62, R"(
      unlikely
      a4 = u64 [sp + 0x30]
      a0 = a4 << 0x8
      a1 = a4 << 0x30
      a1 = a1 >> 0x38
      a0 = a0 | a1
      u16 [s1] = a0
      a1 = u64 [sp + 0x20]
      a3 = a1 << 0x8
      a2 = a1 << 0x30
      a2 = a2 >> 0x38
      t0 = a3 | a2
      u16 [s1 + 0x2] = t0
      a3 = u64 [sp + 0x38]
      a2 = a3 << 0x8
      a3 = a3 << 0x30
      a3 = a3 >> 0x38
      a2 = a2 | a3
      u16 [s1 + 0x4] = a2
      a3 = u64 [sp + 0x28]
      a2 = a3 << 0x8
      a3 = a3 << 0x30
      a3 = a3 >> 0x38
      a2 = a2 | a3
      u16 [s1 + 0x6] = a2
      a2 = a4 << 0x38
      a2 = a2 >> 0x3f
      a0 = a0 + a2
      a0 = a0 << 0x30
      a0 = a0 >>a 0x31
      a2 = a1 << 0x38
      a2 = a2 >> 0x3f
      a1 = t0 + a2
      a1 = a1 << 0x30
      a1 = a1 >>a 0x31
      a0 = a0 + a1
      jump @next
      @next:
      trap
    )"},
};

TEST(FullGasModel, MatchesTheReferenceTimelines) {
  for (const ReferenceCase& c : kReferenceCases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(cost(c.source, c.cache), c.cost);
  }
}

// ---- Rules derived by hand ----------------------------------------------------------------------

TEST(FullGasModel, LoadsCostMoreFurtherFromTheCore) {
  EXPECT_LT(cost(kSuperComplex, L1Hit), cost(kSuperComplex, L2Hit));
  EXPECT_LT(cost(kSuperComplex, L2Hit), cost(kSuperComplex, L3Hit));

  // Four dependent loads cost four load latencies, unless the independent 22-cycle return (decoded in
  // cycle 1, executing in cycles 2..23, retiring in cycle 25) takes longer.
  constexpr const char* kChain = "a0 = u64 [a0]\n a0 = u64 [a0]\n a0 = u64 [a0]\n a0 = u64 [a0]\n ret";
  EXPECT_EQ(cost(kChain, L1Hit), 23u);
  EXPECT_EQ(cost(kChain, L2Hit), 4 * 25u);
  EXPECT_EQ(cost(kChain, L3Hit), 4 * 37u);
}

// A lone conditional branch costs its latency: 1 when predicted, 20 otherwise. It counts as predicted when
// the code at its target or right after it starts with `trap` or `unlikely` (or lies outside the code).
TEST(FullGasModel, BranchPrediction) {
  EXPECT_EQ(cost("jump @t if a0 == 0\n a1 = 1\n trap\n @t:\n a1 = 2\n trap", L1Hit), 20u);
  EXPECT_EQ(cost("jump @t if a0 == 0\n a1 = 1\n trap\n @t:\n trap", L1Hit), 1u);
  EXPECT_EQ(cost("jump @t if a0 == 0\n trap\n @t:\n a1 = 2\n trap", L1Hit), 1u);
  EXPECT_EQ(cost("jump @t if a0 == 0\n unlikely\n trap\n @t:\n a1 = 2\n trap", L1Hit), 1u);
  EXPECT_EQ(cost("@t:\n jump @t if a0 == 0", L1Hit), 1u);  // falls through past the end of code
  // `unlikely` is recognised by its byte in the program's own instruction set.
  constexpr const char* kUnlikelyTarget = "jump @t if a0 == 0\n a1 = 1\n trap\n @t:\n unlikely\n trap";
  EXPECT_EQ(cost(kUnlikelyTarget, L1Hit, InstructionSet::Latest64), 1u);
  EXPECT_EQ(cost(kUnlikelyTarget, L1Hit, InstructionSet::JamV1), 1u);

  // Where `unlikely` does not exist the reference compares with byte 255 instead.
  auto branch_to_byte_255 = [](InstructionSet isa) {
    CodeBuilder b(isa);
    const CodeBuilder::Label target = b.new_label();
    b.emit(make_instruction(Opcode::branch_eq_imm, {Reg::A0}, {0, 0}), target);
    b.emit(make_instruction(Opcode::load_imm, {Reg::A1}, {1}));
    b.emit(make_instruction(Opcode::fallthrough));
    b.bind(target);
    b.emit_raw(std::vector<uint8_t>{255});
    return cost(b, L1Hit, isa);
  };
  EXPECT_EQ(branch_to_byte_255(InstructionSet::ReviveV1), 1u);
  EXPECT_EQ(branch_to_byte_255(InstructionSet::Latest64), 20u);
}

// On 64-bit instruction sets a 32-bit add takes one more cycle and decode slot (the sign extension):
// the second add no longer fits in the first decode group and waits two cycles for a0.
TEST(FullGasModel, ThirtyTwoBitOpsCostMoreOn64BitInstructionSets) {
  constexpr const char* kAdds = "i32 a0 = a1 + a2\n i32 a1 = a0 + a2\n trap";
  EXPECT_EQ(cost(kAdds, L1Hit, InstructionSet::Latest32), 3u);
  EXPECT_EQ(cost(kAdds, L1Hit, InstructionSet::Latest64), 4u);
  EXPECT_EQ(cost("a0 = a1 + a2\n a1 = a0 + a2\n trap", L1Hit, InstructionSet::Latest64), 3u);
}

// A 100-cycle ecalli at the head of the reorder buffer: 30 more entries hide behind it; with 40 the buffer
// fills in cycle 8 and decoding stalls until the ecalli retires in cycle 102, after which the remaining 9
// decode in cycles 103..105 and the last retires in cycle 109.
TEST(FullGasModel, FullReorderBufferStallsDecoding) {
  auto behind_ecalli = [](int count) {
    std::string source = "ecalli 0\n";
    for (int i = 0; i < count; ++i) source += "a0 = 1\n";
    return cost(source + "trap", L1Hit);
  };
  EXPECT_EQ(behind_ecalli(0), 100u);
  EXPECT_EQ(behind_ecalli(30), 100u);
  EXPECT_EQ(behind_ecalli(40), 107u);
}

// Register moves only rename: they take a decode slot but no reorder buffer entry.
TEST(FullGasModel, RegisterMovesTakeNoReorderBufferEntry) {
  std::string source;
  for (int i = 0; i < 100; ++i) source += "a0 = a1\n";
  EXPECT_EQ(cost(source + "trap", L1Hit), 100 / 4 + 2u);
}

TEST(FullGasModel, InvalidInstructionEndsTheBlockLikeATrap) {
  auto division_then = [](uint8_t byte) {
    CodeBuilder b(InstructionSet::Latest64);
    b.emit(make_instruction(Opcode::div_unsigned_64, {Reg::A0, Reg::A1, Reg::A2}));
    b.emit_raw(std::vector<uint8_t>{byte});
    return cost(b, L1Hit, InstructionSet::Latest64);
  };
  EXPECT_EQ(division_then(255), 60u);  // an invalid opcode
  EXPECT_EQ(division_then(0), 60u);    // trap
  EXPECT_EQ(cost("a0 = 1\n jump [a1]", L1Hit), 22u);
  EXPECT_EQ(cost("a0 = 1\n jump [a0]", L1Hit), 23u);  // waits a cycle for a0
}

TEST(FullGasModel, RunningOffTheEndOfCodeAddsATrap) {
  // decode_block() ends the block with the implicit trap past the end of code.
  EXPECT_EQ(cost("a0 = a1 /u a2", L1Hit), 60u);

  // A block handed over without any terminator gets one too.
  const ProgramBlob blob = unwrap(assemble_blob("a0 = a1 /u a2", InstructionSet::Latest64));
  const CodeView view(blob);
  const Instruction div = view.decode(0);
  ASSERT_EQ(div.opcode, Opcode::div_unsigned_64);
  EXPECT_EQ(make_full_gas_model(L1Hit)->block_cost(view, std::span(&div, 1)), 60u);
}

// ---- Huge blocks --------------------------------------------------------------------------------

TEST(FullGasModel, HugeBlocksTakeLinearTime) {
  constexpr uint32_t kCount = 100'000;
  const auto start = std::chrono::steady_clock::now();

  // Independent immediate loads are bound by decoding: 4 per cycle, then the trap.
  CodeBuilder decode_bound(InstructionSet::Latest64);
  for (uint32_t i = 0; i < kCount; ++i)
    decode_bound.emit(make_instruction(Opcode::load_imm, {static_cast<Reg>(i % kRegCount)}, {1}));
  decode_bound.emit(make_instruction(Opcode::trap));
  EXPECT_EQ(cost(decode_bound, L1Hit, InstructionSet::Latest64), kCount / 4 + 2);

  // A chain of dependent loads costs one load latency each.
  CodeBuilder chain(InstructionSet::Latest64);
  for (uint32_t i = 0; i < kCount; ++i)
    chain.emit(make_instruction(Opcode::load_indirect_u64, {Reg::A0, Reg::A0}, {0}));
  chain.emit(make_instruction(Opcode::trap));
  EXPECT_EQ(cost(chain, L3Hit, InstructionSet::Latest64), kCount * 37);

  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 10.0);
}

// ---- Through the runtime ------------------------------------------------------------------------

class FullGasModelRuntime : public ::testing::TestWithParam<TestBackend> {};

TEST_P(FullGasModelRuntime, ChargesBlocksAndMidBlockEntries) {
  CodeBuilder b(InstructionSet::Latest64);
  b.emit(make_instruction(Opcode::div_unsigned_64, {Reg::A0, Reg::A1, Reg::A2}));
  const CodeBuilder::Label inside = b.new_label();
  b.bind(inside);
  emit_trap(b);
  VmOptions options;
  options.module_config = gas_config(GasMeteringKind::Sync);
  options.module_config.cost_model = make_full_gas_model(L1Hit);
  Vm vm = make_vm(GetParam(), InstructionSet::Latest64, b, options);

  EXPECT_EQ(vm.module.gas_cost_for_block(0), 60);
  EXPECT_EQ(vm.module.block_gas_costs(), (std::vector<std::pair<uint32_t, Gas>>{{0, 60}}));

  vm.instance.set_gas(1000);
  vm.instance.set_next_program_counter(0);
  EXPECT_EQ(resume(vm.instance), Interrupt::trap());
  EXPECT_EQ(vm.instance.gas(), 940);

  // Entering at the trap, in the middle of the block, pays for the whole block.
  vm.instance.set_gas(1000);
  vm.instance.set_next_program_counter(vm.at(inside));
  EXPECT_EQ(resume(vm.instance), Interrupt::trap());
  EXPECT_EQ(vm.instance.gas(), 940);
}

INSTANTIATE_TEST_SUITE_P(Backends, FullGasModelRuntime, ::testing::ValuesIn(backends()), backend_param_name);

}  // namespace
}  // namespace polkavm::test
