// The linker's block optimizations (src/linker/optimize.cpp) on hand-made blocks: rotate fusion (which
// shift/or shapes become one rotate_right_imm and which must not), widening, and the inverted-`and` fusion;
// each transformed block must compute what the original did (both run on the interpreter with random inputs).
#include <random>

#include "linker/optimize.hpp"
#include "test_util.hpp"

namespace polkavm::test {
namespace {

using linker::Block;
using linker::Demand;
using linker::Op;

Block block_of(std::initializer_list<Instruction> insns) {
  Block block;
  for (const Instruction& i : insns) block.ops.push_back(Op{Op::Kind::Plain, i, {}, 0});
  return block;
}

std::vector<Opcode> opcodes(const Block& block) {
  std::vector<Opcode> out;
  for (const Op& op : block.ops) out.push_back(op.insn.opcode);
  return out;
}

// Runs the block's ops (A1 = x, A2 = y on entry) and returns A0.
uint64_t run(const Block& block, uint64_t x, uint64_t y) {
  CodeBuilder b(InstructionSet::Latest64);
  for (const Op& op : block.ops) b.emit(op.insn);
  emit_ret(b);
  Vm v = make_vm({BackendKind::Interpreter}, InstructionSet::Latest64, b);
  v.instance.set_reg(Reg::A1, x);
  v.instance.set_reg(Reg::A2, y);
  EXPECT_EQ(call(v.instance, 0), Interrupt::finished());
  return v.instance.reg(Reg::A0);
}

linker::RegDemands all(linker::Demand d) {
  linker::RegDemands demands;
  demands.fill(d);
  return demands;
}

// Fuses a copy of `block` (everything observed after it, unless `after` says less), checks the result's
// opcodes, and that A0 comes out the same for random inputs.
void expect_fused(const Block& block, std::vector<Opcode> expected,
                  const linker::RegDemands& after = all(linker::Demand::Full)) {
  Block fused = block;
  linker::fuse_rotates(fused, after);
  EXPECT_EQ(opcodes(fused), expected);
  std::mt19937_64 random(7);
  for (int i = 0; i < 20; ++i) {
    const uint64_t x = i < 4 ? std::array<uint64_t, 4>{0, ~0ull, 0x80000000, 0x7fffffff}[i] : random();
    const uint64_t y = random();
    EXPECT_EQ(run(fused, x, y), run(block, x, y)) << std::hex << x;
  }
}

constexpr uint32_t neg(int32_t v) { return static_cast<uint32_t>(v); }

TEST(LinkerRotateFusion, SixtyFourBitRotationIsExact) {
  // a0 = (a1 >> 13) | (a1 << 51): a0 is observed after the block, so only an exact rotation may replace it.
  const Block block = block_of({insn(Opcode::shift_logical_right_imm_64, {Reg::T0, Reg::A1}, {13}),
                                insn(Opcode::shift_logical_left_imm_64, {Reg::T1, Reg::A1}, {51}),
                                insn(Opcode::or_, {Reg::A0, Reg::T0, Reg::T1})});
  expect_fused(block, {Opcode::shift_logical_right_imm_64, Opcode::shift_logical_left_imm_64,
                       Opcode::rotate_right_imm_64});
}

TEST(LinkerRotateFusion, ThirtyTwoBitShiftsGiveTheSignExtendedRotation) {
  // srliw + slliw + or is exactly rotate_right_imm_32, whoever reads the result; either operand order.
  const Block block = block_of({insn(Opcode::shift_logical_left_imm_32, {Reg::T1, Reg::A1}, {25}),
                                insn(Opcode::shift_logical_right_imm_32, {Reg::T0, Reg::A1}, {7}),
                                insn(Opcode::or_, {Reg::A0, Reg::T1, Reg::T0})});
  expect_fused(block, {Opcode::shift_logical_left_imm_32, Opcode::shift_logical_right_imm_32,
                       Opcode::rotate_right_imm_32});
}

TEST(LinkerRotateFusion, WideLeftShiftOnlyWhereTheUpperHalfIsNotObserved) {
  // clang's RV64 spelling: srliw + slli (64-bit) + or. The upper half of the `or` is garbage, so it is a
  // rotation only when the block reads no more than the low half: here through add_32.
  const std::initializer_list<Instruction> rotation = {
      insn(Opcode::shift_logical_right_imm_32, {Reg::T0, Reg::A1}, {17}),
      insn(Opcode::shift_logical_left_imm_64, {Reg::T1, Reg::A1}, {15}),
      insn(Opcode::or_, {Reg::T2, Reg::T0, Reg::T1})};
  Block low_half = block_of(rotation);
  low_half.ops.push_back(Op{Op::Kind::Plain, insn(Opcode::xor_, {Reg::T2, Reg::T2, Reg::A2}), {}, 0});
  low_half.ops.push_back(Op{Op::Kind::Plain, insn(Opcode::add_32, {Reg::A0, Reg::T2, Reg::A2}), {}, 0});
  low_half.ops.push_back(Op{Op::Kind::Plain, insn(Opcode::load_imm, {Reg::T2}, {0}), {}, 0});
  expect_fused(low_half, {Opcode::shift_logical_right_imm_32, Opcode::shift_logical_left_imm_64,
                          Opcode::rotate_right_imm_32, Opcode::xor_, Opcode::add_32, Opcode::load_imm});

  // The same `or` read in full (64-bit add), or left in a register after the block: no fusion.
  Block full = block_of(rotation);
  full.ops.push_back(Op{Op::Kind::Plain, insn(Opcode::add_64, {Reg::A0, Reg::T2, Reg::A2}), {}, 0});
  full.ops.push_back(Op{Op::Kind::Plain, insn(Opcode::load_imm, {Reg::T2}, {0}), {}, 0});
  expect_fused(full, {Opcode::shift_logical_right_imm_32, Opcode::shift_logical_left_imm_64, Opcode::or_,
                      Opcode::add_64, Opcode::load_imm});
  Block live_out = block_of(rotation);
  live_out.ops.push_back(Op{Op::Kind::Plain, insn(Opcode::add_32, {Reg::A0, Reg::T2, Reg::A2}), {}, 0});
  expect_fused(live_out, {Opcode::shift_logical_right_imm_32, Opcode::shift_logical_left_imm_64, Opcode::or_,
                          Opcode::add_32});
}

TEST(LinkerRotateFusion, WideRightShiftNeedsAZeroUpperHalf) {
  // srli (64-bit) of a zero-extended value (andi with a non-negative mask) is lo32(x) >> n; of anything
  // else it pulls upper bits in.
  auto with_source = [](Instruction source) {
    Block b = block_of({source, insn(Opcode::shift_logical_right_imm_64, {Reg::T0, Reg::S0}, {7}),
                        insn(Opcode::shift_logical_left_imm_64, {Reg::T1, Reg::S0}, {25}),
                        insn(Opcode::or_, {Reg::T2, Reg::T0, Reg::T1}),
                        insn(Opcode::add_32, {Reg::A0, Reg::T2, Reg::A2}), insn(Opcode::load_imm, {Reg::T2}, {0})});
    return b;
  };
  expect_fused(with_source(insn(Opcode::and_imm, {Reg::S0, Reg::A1}, {0x7fffffff})),
               {Opcode::and_imm, Opcode::shift_logical_right_imm_64, Opcode::shift_logical_left_imm_64,
                Opcode::rotate_right_imm_32, Opcode::add_32, Opcode::load_imm});
  expect_fused(with_source(insn(Opcode::and_imm, {Reg::S0, Reg::A1}, {neg(-2)})),
               {Opcode::and_imm, Opcode::shift_logical_right_imm_64, Opcode::shift_logical_left_imm_64,
                Opcode::or_, Opcode::add_32, Opcode::load_imm});
}

TEST(LinkerRotateFusion, SourceChangedBetweenTheShiftsIsNoRotation) {
  const Block block = block_of({insn(Opcode::shift_logical_right_imm_64, {Reg::T0, Reg::A1}, {13}),
                                insn(Opcode::add_imm_64, {Reg::A1, Reg::A1}, {1}),
                                insn(Opcode::shift_logical_left_imm_64, {Reg::T1, Reg::A1}, {51}),
                                insn(Opcode::or_, {Reg::A0, Reg::T0, Reg::T1})});
  expect_fused(block, {Opcode::shift_logical_right_imm_64, Opcode::add_imm_64, Opcode::shift_logical_left_imm_64,
                       Opcode::or_});
  // Amounts that do not add up to the width.
  const Block mismatch = block_of({insn(Opcode::shift_logical_right_imm_64, {Reg::T0, Reg::A1}, {13}),
                                   insn(Opcode::shift_logical_left_imm_64, {Reg::T1, Reg::A1}, {50}),
                                   insn(Opcode::or_, {Reg::A0, Reg::T0, Reg::T1})});
  expect_fused(mismatch, {Opcode::shift_logical_right_imm_64, Opcode::shift_logical_left_imm_64, Opcode::or_});
}

TEST(LinkerRotateFusion, WhatLaterBlocksObserveComesFromTheDataflow) {
  // Block 0 leaves a rotation in T2 and jumps to block 1, which overwrites T2 before reading it: T2 is dead
  // after block 0, so its rotation may be the 32-bit one. Block 1 loops to itself (a branch) and then traps.
  using linker::Demand;
  using linker::Terminator;
  Block first = block_of({insn(Opcode::shift_logical_right_imm_32, {Reg::T0, Reg::A1}, {17}),
                          insn(Opcode::shift_logical_left_imm_64, {Reg::T1, Reg::A1}, {15}),
                          insn(Opcode::or_, {Reg::T2, Reg::T0, Reg::T1}),
                          insn(Opcode::add_32, {Reg::A0, Reg::T2, Reg::A2})});
  first.start = {1, 0};
  first.terminator.kind = Terminator::Kind::Jump;
  first.terminator.target = {1, 100};
  Block second = block_of({insn(Opcode::load_imm, {Reg::T2}, {5}), insn(Opcode::add_imm_64, {Reg::S0, Reg::T2}, {1})});
  second.start = {1, 100};
  second.terminator.kind = Terminator::Kind::Branch;
  second.terminator.insn = insn(Opcode::branch_eq_imm, {Reg::S1}, {0, 0});
  second.terminator.target = {1, 100};
  second.terminator.next = {1, 200};  // no block there: the end, where everything is observed
  const std::vector<linker::RegDemands> after = linker::demands_after_blocks({first, second});
  ASSERT_EQ(after.size(), 2u);
  EXPECT_EQ(after[0][static_cast<int>(Reg::T2)], Demand::None);  // overwritten first thing in block 1
  EXPECT_EQ(after[0][static_cast<int>(Reg::S1)], Demand::Full);  // the branch compares it
  EXPECT_EQ(after[0][static_cast<int>(Reg::A0)], Demand::Full);  // observable at the end
  EXPECT_EQ(after[1][static_cast<int>(Reg::T2)], Demand::Full);
  expect_fused(first, {Opcode::shift_logical_right_imm_32, Opcode::shift_logical_left_imm_64,
                       Opcode::rotate_right_imm_32, Opcode::add_32},
               after[0]);
  // With the successor reading T2 in full, no fusion.
  second.ops[0] = Op{Op::Kind::Plain, insn(Opcode::add_64, {Reg::S0, Reg::T2, Reg::T2}), {}, 0};
  const std::vector<linker::RegDemands> reads = linker::demands_after_blocks({first, second});
  EXPECT_EQ(reads[0][static_cast<int>(Reg::T2)], Demand::Full);
  expect_fused(first, {Opcode::shift_logical_right_imm_32, Opcode::shift_logical_left_imm_64, Opcode::or_,
                       Opcode::add_32},
               reads[0]);
}

// Widens a copy of `block` (which jumps on to code that observes A0 as `a0` says and no other register),
// checks the opcodes, and that the observed part of A0 comes out the same for random inputs.
void expect_widened(Block block, std::vector<Opcode> expected, Demand a0 = Demand::Full) {
  block.terminator.kind = linker::Terminator::Kind::Jump;
  linker::RegDemands after = all(Demand::None);
  after[static_cast<int>(Reg::A0)] = a0;
  Block widened = block;
  linker::widen_narrow_ops(widened, after);
  EXPECT_EQ(opcodes(widened), expected);
  const uint64_t mask = a0 == Demand::Full ? ~0ull : 0xFFFFFFFFull;
  std::mt19937_64 random(11);
  for (int i = 0; i < 20; ++i) {
    const uint64_t x = i < 4 ? std::array<uint64_t, 4>{0, ~0ull, 0x80000000, 0x7fffffff}[i] : random();
    const uint64_t y = i < 4 ? 0x7fffffff : random();
    EXPECT_EQ(run(widened, x, y) & mask, run(block, x, y) & mask) << std::hex << x << " " << y;
  }
}

TEST(LinkerWidening, ThirtyTwoBitOpsWhoseUpperHalfNobodyReadsBecome64Bit) {
  // Each result is read only through a mask of the low half, a sign extension, or a 32-bit operation.
  for (Opcode narrow : {Opcode::add_32, Opcode::sub_32, Opcode::mul_32}) {
    const Opcode wide = narrow == Opcode::add_32 ? Opcode::add_64 : narrow == Opcode::sub_32 ? Opcode::sub_64 : Opcode::mul_64;
    expect_widened(block_of({insn(narrow, {Reg::T0, Reg::A1, Reg::A2}), insn(Opcode::and_imm, {Reg::A0, Reg::T0}, {0xff})}),
                   {wide, Opcode::and_imm});
    expect_widened(block_of({insn(narrow, {Reg::T0, Reg::A1, Reg::A2}), insn(Opcode::sign_extend_16, {Reg::A0, Reg::T0})}),
                   {wide, Opcode::sign_extend_16});
  }
  expect_widened(block_of({insn(Opcode::add_imm_32, {Reg::T0, Reg::A1}, {neg(-5)}),
                           insn(Opcode::mul_imm_32, {Reg::T1, Reg::T0}, {77}),
                           insn(Opcode::negate_and_add_imm_32, {Reg::T2, Reg::T1}, {9}),
                           insn(Opcode::shift_logical_left_imm_32, {Reg::S0, Reg::T2}, {3}),
                           insn(Opcode::add_32, {Reg::A0, Reg::S0, Reg::A2})}),
                 {Opcode::add_imm_64, Opcode::mul_imm_64, Opcode::negate_and_add_imm_64,
                  Opcode::shift_logical_left_imm_64, Opcode::add_32});
  // A0 observed only in its low half (a narrow store after the block, say): its producer widens too.
  expect_widened(block_of({insn(Opcode::sub_32, {Reg::A0, Reg::A1, Reg::A2})}), {Opcode::sub_64}, Demand::Low32);
}

TEST(LinkerWidening, NotWhereTheUpperHalfIsObserved) {
  // Observed in full after the block, through a 64-bit operation, by an `and` that keeps upper bits, or as
  // a memory address: the sign extension matters.
  expect_widened(block_of({insn(Opcode::add_32, {Reg::A0, Reg::A1, Reg::A2})}), {Opcode::add_32});
  expect_widened(block_of({insn(Opcode::add_32, {Reg::T0, Reg::A1, Reg::A2}), insn(Opcode::add_64, {Reg::A0, Reg::T0, Reg::T0})}),
                 {Opcode::add_32, Opcode::add_64});
  expect_widened(block_of({insn(Opcode::add_32, {Reg::T0, Reg::A1, Reg::A2}), insn(Opcode::and_imm, {Reg::A0, Reg::T0}, {neg(-16)})}),
                 {Opcode::add_32, Opcode::and_imm});
  expect_widened(block_of({insn(Opcode::add_32, {Reg::T0, Reg::A1, Reg::A2}), insn(Opcode::shift_logical_right_imm_64, {Reg::A0, Reg::T0}, {40})}),
                 {Opcode::add_32, Opcode::shift_logical_right_imm_64});
  // A 32-bit left shift takes its amount modulo 32; the 64-bit one would not.
  expect_widened(block_of({insn(Opcode::shift_logical_left_imm_32, {Reg::T0, Reg::A1}, {35}),
                           insn(Opcode::and_imm, {Reg::A0, Reg::T0}, {0xffff})}),
                 {Opcode::shift_logical_left_imm_32, Opcode::and_imm});
}

// Applies fuse_inverted_and and then fold_constants (whose dead-op removal drops a `not` nobody reads) to a
// copy of `block`, checks the opcodes, and that A0 comes out the same for random inputs.
void expect_inverted_and(const Block& block, std::vector<Opcode> expected) {
  Block fused = block;
  linker::fuse_inverted_and(fused);
  linker::fold_constants(fused, true);
  EXPECT_EQ(opcodes(fused), expected);
  std::mt19937_64 random(11);
  for (int i = 0; i < 20; ++i) {
    const uint64_t x = i < 4 ? std::array<uint64_t, 4>{0, ~0ull, 0x80000000, 0x7fffffff}[i] : random();
    const uint64_t y = i < 2 ? ~0ull : random();
    EXPECT_EQ(run(fused, x, y), run(block, x, y)) << std::hex << x << " " << y;
  }
}

constexpr uint32_t kNot = 0xFFFFFFFFu;  // xor_imm's -1

TEST(LinkerInvertedAnd, NotThenAndBecomesAndInverted) {
  // a0 = ~a1 & a2, the `not` in the register the `and` overwrites (clang's usual form): the `not` goes.
  expect_inverted_and(block_of({insn(Opcode::xor_imm, {Reg::A0, Reg::A1}, {kNot}),
                                insn(Opcode::and_, {Reg::A0, Reg::A0, Reg::A2})}),
                      {Opcode::and_inverted});
  // The inverted operand second, and a temporary that is overwritten later in the block.
  expect_inverted_and(block_of({insn(Opcode::xor_imm, {Reg::T0, Reg::A1}, {kNot}),
                                insn(Opcode::and_, {Reg::A0, Reg::A2, Reg::T0}),
                                insn(Opcode::load_imm, {Reg::T0}, {0})}),
                      {Opcode::and_inverted, Opcode::load_imm});
  // The `not` is still read later (and may be live after the block): it stays, the `and` still fuses.
  expect_inverted_and(block_of({insn(Opcode::xor_imm, {Reg::T0, Reg::A1}, {kNot}),
                                insn(Opcode::and_, {Reg::A0, Reg::T0, Reg::A2}),
                                insn(Opcode::add_64, {Reg::A0, Reg::A0, Reg::T0})}),
                      {Opcode::xor_imm, Opcode::and_inverted, Opcode::add_64});
}

TEST(LinkerInvertedAnd, NotWhereTheSourceChangedOrTheImmediateIsNotMinusOne) {
  // a1 changes between the `not` and the `and`: and_inverted would read the new a1.
  expect_inverted_and(block_of({insn(Opcode::xor_imm, {Reg::T0, Reg::A1}, {kNot}),
                                insn(Opcode::add_imm_64, {Reg::A1, Reg::A1}, {1}),
                                insn(Opcode::and_, {Reg::A0, Reg::T0, Reg::A2})}),
                      {Opcode::xor_imm, Opcode::add_imm_64, Opcode::and_});
  // x ^ 0xfffffffe is no `not`; `t = t ^ -1` has lost its source.
  expect_inverted_and(block_of({insn(Opcode::xor_imm, {Reg::T0, Reg::A1}, {neg(-2)}),
                                insn(Opcode::and_, {Reg::A0, Reg::T0, Reg::A2})}),
                      {Opcode::xor_imm, Opcode::and_});
  expect_inverted_and(block_of({insn(Opcode::move_reg, {Reg::T0, Reg::A1}),
                                insn(Opcode::xor_imm, {Reg::T0, Reg::T0}, {kNot}),
                                insn(Opcode::and_, {Reg::A0, Reg::T0, Reg::A2})}),
                      {Opcode::move_reg, Opcode::xor_imm, Opcode::and_});
}

}  // namespace
}  // namespace polkavm::test
