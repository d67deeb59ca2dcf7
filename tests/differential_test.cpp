// The differential fuzzer's generator and runner (tools/spectool): reproducible programs, full opcode
// coverage, and a runner that really reports differences.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "differential.hpp"
#include "polkavm/disassembler.hpp"
#include "polkavm/memory_map.hpp"

#include <fmt/format.h>

namespace polkavm::fuzz {
namespace {

TEST(ProgramGenerator, SameSeedGivesByteIdenticalPrograms) {
  for (uint64_t seed = 0; seed < 200; ++seed) {
    const ProgramSpec a = generate_program(seed), b = generate_program(seed);
    EXPECT_EQ(build_program(a).blob.to_bytes(), build_program(b).blob.to_bytes()) << "seed " << seed;
    EXPECT_EQ(build_program(a).entry_pc, build_program(b).entry_pc);
    EXPECT_EQ(a.regs, b.regs);
    EXPECT_EQ(a.gas, b.gas);
  }
  EXPECT_NE(build_program(generate_program(1)).blob.to_bytes(), build_program(generate_program(2)).blob.to_bytes());
}

TEST(ProgramGenerator, PinnedSeedDoesNotDrift) {
  // Reproducers quote seeds: the same seed must keep meaning the same program. Update on purpose only.
  const ProgramSpec spec = generate_program(1);
  EXPECT_EQ(spec.isa, InstructionSet::Latest32);
  EXPECT_EQ(spec.items.size(), 33u);
}

TEST(ProgramGenerator, ProgramsParseAndUseEveryOpcodeOfEveryIsa) {
  std::array<std::set<Opcode>, kInstructionSetCount> seen;
  for (uint64_t seed = 0; seed < 2000; ++seed) {
    const ProgramBlob blob = build_program(generate_program(seed)).blob;
    // Valid programs: the container round-trips through the parser.
    auto parsed = ProgramBlob::parse(blob.to_bytes());
    ASSERT_TRUE(parsed.ok()) << "seed " << seed << ": " << parsed.error().message();
    for (const Instruction& insn : list_instructions(CodeView(blob)))
      if (insn.valid) seen[static_cast<size_t>(blob.isa)].insert(insn.opcode);
  }
  for (int isa = 0; isa < kInstructionSetCount; ++isa) {
    std::string missing;
    for (size_t i = 0; i < kOpcodeInfo.size(); ++i) {
      const auto op = static_cast<Opcode>(i);
      if (opcode_number(static_cast<InstructionSet>(isa), op) >= 0 && !seen[isa].contains(op))
        missing += " " + std::string(name(op));
    }
    EXPECT_EQ(missing, "") << instruction_set_name(static_cast<InstructionSet>(isa)) << " never generated:" << missing;
  }
}

TEST(DifferentialRunner, InterpreterAgreesWithStepTracing) {
  auto runner = DifferentialRunner::create(ConfigPair{});
  ASSERT_TRUE(runner.ok()) << runner.error().message();
  std::map<Interrupt::Kind, int> kinds;
  for (uint64_t seed = 0; seed < 500; ++seed) {
    auto outcome = runner->run(generate_program(seed));
    ASSERT_TRUE(outcome.ok()) << "seed " << seed << ": " << outcome.error().message();
    ASSERT_FALSE(outcome->divergence) << "seed " << seed << ": " << outcome->divergence->field;
    for (const Interrupt& i : outcome->interrupts) ++kinds[i.kind];
  }
  // The programs reach every way of stopping that needs no dynamic paging.
  for (auto kind : {Interrupt::Kind::Finished, Interrupt::Kind::Trap, Interrupt::Kind::Ecalli,
                    Interrupt::Kind::NotEnoughGas})
    EXPECT_GT(kinds[kind], 0) << to_string(Interrupt{kind, 0, {}});
}

/// A pair whose second side starts from a different state must be caught.
ConfigPair perturbed(std::function<void(RawInstance&)> perturb) {
  ConfigPair pair;
  pair.b = ExecutionConfig::interpreter();
  pair.b.name = "perturbed";
  pair.b.perturb = std::move(perturb);
  return pair;
}

TEST(DifferentialRunner, DetectsADifferentGasLimit) {
  auto runner = DifferentialRunner::create(perturbed([](RawInstance& i) { i.set_gas(i.gas() + 1); }));
  ASSERT_TRUE(runner.ok());
  int detected = 0;
  for (uint64_t seed = 0; seed < 100; ++seed) {
    auto outcome = runner->run(generate_program(seed));
    ASSERT_TRUE(outcome.ok());
    // Undetectable only when the extra unit is spent invisibly, e.g. one more turn of a loop that changes
    // nothing (`jump @0 if t0 >u 66241279` at @0 in seed 6).
    if (outcome->divergence) ++detected;
  }
  EXPECT_GE(detected, 90);
}

TEST(DifferentialRunner, DetectsADifferentInitialRegisterAndShrinksIt) {
  auto runner = DifferentialRunner::create(
      perturbed([](RawInstance& i) { i.set_reg(Reg::S1, i.reg(Reg::S1) ^ 0x10); }));
  ASSERT_TRUE(runner.ok());
  int detected = 0;
  for (uint64_t seed = 0; seed < 100; ++seed) {
    const ProgramSpec spec = generate_program(seed);
    auto outcome = runner->run(spec);
    ASSERT_TRUE(outcome.ok());
    if (!outcome->divergence) continue;  // the program overwrote s1 before any observation
    ++detected;
    if (detected > 3) continue;  // shrinking is slower; a few are enough
    const ProgramSpec small = runner->shrink(spec);
    EXPECT_LE(small.items.size(), spec.items.size());
    auto again = runner->run(small);
    ASSERT_TRUE(again.ok());
    ASSERT_TRUE(again->divergence) << "the shrunk program must still diverge";
    const std::string report = describe_reproducer(runner->configs(), small, *again->divergence);
    EXPECT_NE(report.find("seed " + std::to_string(seed)), std::string::npos) << report;
    EXPECT_NE(report.find(std::string(instruction_set_name(spec.isa))), std::string::npos) << report;
    EXPECT_NE(report.find(again->divergence->field + " differs"), std::string::npos) << report;
  }
  EXPECT_GT(detected, 50);
}

TEST(DifferentialRunner, DetectsADifferentByteOfMemory) {
  // The last byte of the stack: zero on a correct side, rarely written by the programs.
  auto runner = DifferentialRunner::create(perturbed([](RawInstance& i) {
    const MemoryMap& map = i.module().memory_map();
    if (map.stack_size() == 0) return;
    const uint8_t byte = 0x5a;
    ASSERT_TRUE(i.write_memory(map.stack_address_high - 1, std::span(&byte, 1)).ok());
  }));
  ASSERT_TRUE(runner.ok());
  int detected = 0;
  for (uint64_t seed = 0; seed < 100; ++seed) {
    const ProgramSpec spec = generate_program(seed);
    if (spec.stack_size == 0) continue;
    auto outcome = runner->run(spec);
    ASSERT_TRUE(outcome.ok());
    if (!outcome->divergence) continue;
    // Other fields may differ first when the program loaded that byte.
    const MemoryMap map = MemoryMap::build(0x1000, spec.ro_data_size, spec.rw_data_size, spec.stack_size).value();
    if (outcome->divergence->field != fmt::format("memory 0x{:x}", map.stack_address_high - 1)) continue;
    EXPECT_EQ(outcome->divergence->value_a, "0x00");
    EXPECT_EQ(outcome->divergence->value_b, "0x5a");
    ++detected;
  }
  EXPECT_GT(detected, 30);
}

TEST(DifferentialRunner, ShrinksToTheInstructionsThatMatter) {
  // s1 is observed in the registers at the first interrupt; nothing else is needed to show the difference.
  auto runner = DifferentialRunner::create(
      perturbed([](RawInstance& i) { i.set_reg(Reg::S1, i.reg(Reg::S1) ^ 0x10); }));
  ASSERT_TRUE(runner.ok());
  for (uint64_t seed = 0; seed < 20; ++seed) {
    const ProgramSpec spec = generate_program(seed);
    auto outcome = runner->run(spec);
    ASSERT_TRUE(outcome.ok());
    if (!outcome->divergence || outcome->divergence->field != "s1") continue;
    const ProgramSpec small = runner->shrink(spec);
    EXPECT_LT(droppable_items(small).size(), droppable_items(spec).size()) << "seed " << seed;
    return;
  }
  FAIL() << "no seed diverged on s1";
}

TEST(DifferentialRunner, RefusesABackendTheEngineDoesNotHave) {
  Config compiler;
  compiler.backend = BackendKind::Compiler;
  if (Engine::create(compiler).ok()) GTEST_SKIP() << "this host runs the compiler backend";
  ConfigPair pair;
  pair.b = ExecutionConfig{"compiler", BackendKind::Compiler, false, {}};
  auto runner = DifferentialRunner::create(pair);
  ASSERT_FALSE(runner.ok());
  EXPECT_NE(runner.error().message().find("compiler"), std::string::npos) << runner.error().message();
}

}  // namespace
}  // namespace polkavm::fuzz
