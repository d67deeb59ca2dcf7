// The reference's "simple" cost model: a fixed cost per opcode, summed over a basic block.
#include "polkavm/gas.hpp"

namespace polkavm {

CostModel CostModel::naive() {
  CostModel model;
  model.cost.fill(1);
  model.invalid = 1;
  return model;
}

namespace {

class SimpleGasModel final : public GasModel {
 public:
  explicit SimpleGasModel(CostModel model) : model_(model) {}

  uint32_t block_cost(const CodeView&, std::span<const Instruction> block) const override {
    uint64_t total = 0;
    for (const Instruction& insn : block) {
      // Invalid instructions, including the implicit one past the end of code, cost `invalid`
      // (the reference's instruction iterator yields them as `invalid`).
      total += insn.valid ? model_[insn.opcode] : model_.invalid;
    }
    return total > UINT32_MAX ? UINT32_MAX : static_cast<uint32_t>(total);
  }

 private:
  CostModel model_;
};

}  // namespace

std::shared_ptr<const GasModel> make_simple_gas_model(CostModel model) {
  return std::make_shared<SimpleGasModel>(model);
}

}  // namespace polkavm
