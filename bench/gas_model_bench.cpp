// Gas model throughput: basic blocks costed per second (items_per_second) by the full model (the pipeline
// simulator) and, for comparison, the simple per-opcode model. The runtime costs each block once, when it
// first translates it, so this is the model's share of that work. Workloads: every block of the sample
// guests, random blocks of compiler-like code of a few typical lengths, and one huge block.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>
#include <random>
#include <utility>
#include <vector>

#include "polkavm/polkavm.hpp"
#include "sample_guests.hpp"

namespace {

using namespace polkavm;

/// Code plus its basic blocks, decoded once up front.
struct BlockSet {
  InstructionSet isa = InstructionSet::Latest64;
  CodeAndJumpTable code;
  std::vector<std::vector<Instruction>> blocks;
  size_t instructions = 0;

  CodeView view() const { return CodeView(isa, code.code, code.bitmask); }

  void add_blocks_of(InstructionSet code_isa, CodeAndJumpTable source) {
    isa = code_isa;
    code = std::move(source);
    const CodeView v = view();
    std::vector<Instruction> block;
    for (uint32_t pc = 0; pc < v.size();) {
      v.decode_block(pc, block);
      instructions += block.size();
      const Instruction& last = block.back();
      pc = last.valid ? last.next_pc() : last.pc + 1;
      blocks.push_back(block);
    }
  }
};

// A rough mix of compiled code: mostly ALU work and memory accesses, a few multiplies and divisions.
Instruction random_instruction(std::mt19937& rng) {
  auto reg = [&] { return static_cast<Reg>(rng() % kRegCount); };
  const uint32_t imm = rng() % 256;
  switch (rng() % 20) {
    case 0: case 1: case 2: return make_instruction(Opcode::add_imm_64, {reg(), reg()}, {imm});
    case 3: case 4: return make_instruction(Opcode::add_64, {reg(), reg(), reg()});
    case 5: return make_instruction(Opcode::shift_logical_left_imm_64, {reg(), reg()}, {imm % 64});
    case 6: return make_instruction(Opcode::and_, {reg(), reg(), reg()});
    case 7: return make_instruction(Opcode::add_32, {reg(), reg(), reg()});
    case 8: case 9: case 10: return make_instruction(Opcode::load_indirect_u64, {reg(), reg()}, {imm});
    case 11: return make_instruction(Opcode::load_indirect_u8, {reg(), reg()}, {imm});
    case 12: case 13: return make_instruction(Opcode::store_indirect_u64, {reg(), reg()}, {imm});
    case 14: return make_instruction(Opcode::move_reg, {reg(), reg()});
    case 15: return make_instruction(Opcode::load_imm, {reg()}, {imm});
    case 16: return make_instruction(Opcode::set_less_than_unsigned, {reg(), reg(), reg()});
    case 17: return make_instruction(Opcode::mul_64, {reg(), reg(), reg()});
    case 18: return make_instruction(Opcode::cmov_if_zero, {reg(), reg(), reg()});
    default: return make_instruction(Opcode::div_unsigned_64, {reg(), reg(), reg()});
  }
}

/// `count` blocks of `length` random instructions (give or take half), each ending in a branch.
BlockSet random_blocks(uint32_t count, uint32_t length) {
  std::mt19937 rng(length);
  CodeBuilder b(InstructionSet::Latest64);
  std::vector<CodeBuilder::Label> starts(count);
  for (auto& label : starts) label = b.new_label();
  for (uint32_t i = 0; i < count; ++i) {
    b.bind(starts[i]);
    const uint32_t body = length / 2 + rng() % (length + 1);
    for (uint32_t j = 0; j < body; ++j) b.emit(random_instruction(rng));
    b.emit(make_instruction(Opcode::branch_eq, {Reg::A0, Reg::A1}), starts[rng() % count]);
  }
  BlockSet set;
  set.add_blocks_of(InstructionSet::Latest64, b.finish().code);
  return set;
}

void run(benchmark::State& state, const GasModel& model, const std::vector<const BlockSet*>& sets) {
  size_t blocks = 0;
  size_t instructions = 0;
  for (auto _ : state) {
    for (const BlockSet* set : sets) {
      const CodeView view = set->view();
      for (const auto& block : set->blocks) benchmark::DoNotOptimize(model.block_cost(view, block));
      blocks += set->blocks.size();
      instructions += set->instructions;
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(blocks));
  state.counters["instructions/s"] = benchmark::Counter(static_cast<double>(instructions), benchmark::Counter::kIsRate);
  state.counters["instructions/block"] = static_cast<double>(instructions) / static_cast<double>(blocks);
}

std::shared_ptr<const GasModel> model_for(int64_t full) {
  return full ? make_full_gas_model(CacheModel::L2Hit) : make_simple_gas_model(CostModel::naive());
}

// The sample guests' blocks keep their own code (branch prediction reads it), so each guest is its own set.
void BM_SampleGuests(benchmark::State& state) {
  static const std::vector<BlockSet> sets = [] {
    std::vector<BlockSet> all;
    for (const guests::SampleGuest& guest : guests::sample_guests()) {
      const ProgramBlob blob = guest.build();
      all.emplace_back().add_blocks_of(blob.isa, blob.code_and_jump_table);
    }
    return all;
  }();
  std::vector<const BlockSet*> pointers;
  for (const BlockSet& set : sets) pointers.push_back(&set);
  run(state, *model_for(state.range(0)), pointers);
}
BENCHMARK(BM_SampleGuests)->ArgName("full")->Arg(0)->Arg(1);

void BM_RandomBlocks(benchmark::State& state) {
  const BlockSet set = random_blocks(2000, static_cast<uint32_t>(state.range(1)));
  run(state, *model_for(state.range(0)), {&set});
}
BENCHMARK(BM_RandomBlocks)->ArgNames({"full", "length"})->ArgsProduct({{0, 1}, {4, 16, 64}});

void BM_HugeBlock(benchmark::State& state) {
  const BlockSet set = random_blocks(1, 100'000);
  run(state, *model_for(1), {&set});
}
BENCHMARK(BM_HugeBlock)->Unit(benchmark::kMillisecond);

}  // namespace
