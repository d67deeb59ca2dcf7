// The reference's "simple" cost model: a fixed cost per opcode, summed over a basic block.
#include "polkavm/gas.hpp"

#include <algorithm>

namespace polkavm {

namespace {

constexpr uint32_t kSerializedVersion = 2;
constexpr size_t kSerializedSize = (1 + kOpcodeCount + 1) * 4;  // version, one cost per opcode, invalid

/// Opcodes in the reference's serialisation order: its mnemonics sorted byte-wise.
std::array<Opcode, kOpcodeCount> serialization_order() {
  std::array<Opcode, kOpcodeCount> order{};
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<Opcode>(i);
  std::sort(order.begin(), order.end(), [](Opcode a, Opcode b) { return info(a).name < info(b).name; });
  return order;
}

void put_u32(std::vector<uint8_t>& out, uint32_t value) {
  for (int shift = 0; shift < 32; shift += 8) out.push_back(static_cast<uint8_t>(value >> shift));
}

uint32_t get_u32(std::span<const uint8_t> bytes, size_t offset) {
  return uint32_t(bytes[offset]) | uint32_t(bytes[offset + 1]) << 8 | uint32_t(bytes[offset + 2]) << 16 |
         uint32_t(bytes[offset + 3]) << 24;
}

}  // namespace

CostModel CostModel::naive() {
  CostModel model;
  model.cost.fill(1);
  model.invalid = 1;
  return model;
}

std::vector<uint8_t> CostModel::serialize() const {
  std::vector<uint8_t> out;
  out.reserve(kSerializedSize);
  put_u32(out, kSerializedVersion);
  for (Opcode op : serialization_order()) put_u32(out, (*this)[op]);
  put_u32(out, invalid);
  return out;
}

std::optional<CostModel> CostModel::deserialize(std::span<const uint8_t> bytes) {
  if (bytes.size() != kSerializedSize || get_u32(bytes, 0) != kSerializedVersion) return std::nullopt;
  CostModel model;
  size_t offset = 4;
  for (Opcode op : serialization_order()) {
    model.cost[static_cast<size_t>(op)] = get_u32(bytes, offset);
    offset += 4;
  }
  model.invalid = get_u32(bytes, offset);
  return model;
}

namespace {

class SimpleGasModel final : public GasModel {
 public:
  explicit SimpleGasModel(CostModel model) : model_(model) {}

  const CostModel* simple_cost_model() const override { return &model_; }

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
