// Random valid programs for differential fuzzing: every program is reproducible from its seed alone,
// on every standard library (the generator has its own PRNG and draws no std:: distributions).
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "polkavm/code.hpp"
#include "polkavm/gas.hpp"
#include "polkavm/program.hpp"

namespace polkavm::fuzz {

/// splitmix64: tiny, fast and identical everywhere.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t next();
  /// Uniform in [0, bound); bound > 0.
  uint32_t below(uint32_t bound) { return static_cast<uint32_t>(next() % bound); }
  /// True with probability 1/n.
  bool one_in(uint32_t n) { return below(n) == 0; }
  template <class T>
  const T& pick(const std::vector<T>& items) { return items[below(static_cast<uint32_t>(items.size()))]; }

 private:
  uint64_t state_;
};

/// One unit of code the shrinker may drop: a label binding, or instructions that only make sense
/// together (e.g. loading a jump address and jumping through it). `target` is the label of the last
/// instruction's jump operand, or -1.
struct CodeItem {
  int32_t bind = -1;  // >= 0: binds this label here; `insns` is then empty
  std::vector<Instruction> insns;
  int32_t target = -1;
};

/// Everything needed to build and run one generated program.
struct ProgramSpec {
  uint64_t seed = 0;
  InstructionSet isa = InstructionSet::Latest64;
  uint32_t label_count = 0;
  std::vector<CodeItem> items;          // always ends with a trap that is never dropped
  std::vector<uint32_t> jump_table;     // labels; entry i is reached through address (i + 1) * 2
  uint32_t entry_label = 0;             // where execution starts ("main" is label 0)
  uint32_t ro_data_size = 0, rw_data_size = 0, stack_size = 0;
  std::vector<uint8_t> ro_data, rw_data;
  GasMeteringKind gas_metering = GasMeteringKind::None;
  bool full_cost_model = false;  // else the naive model
  Gas gas = 0;
  std::array<uint64_t, kRegCount> regs{};
};

struct BuiltProgram {
  ProgramBlob blob;
  uint32_t entry_pc = 0;
};

/// A random valid program for a random instruction set. Without gas metering control flow only moves
/// forward (so every run ends); with metering, loops end when the gas runs out.
ProgramSpec generate_program(uint64_t seed);
/// Lays the spec out into a blob with export "main" at label 0.
BuiltProgram build_program(const ProgramSpec& spec);
/// Indexes of the items the shrinker may drop (every item but label bindings and the final trap).
std::vector<size_t> droppable_items(const ProgramSpec& spec);

}  // namespace polkavm::fuzz
