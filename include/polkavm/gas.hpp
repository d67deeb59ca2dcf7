/// @file
/// Gas metering and cost models.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "polkavm/export.h"
#include "polkavm/error.hpp"
#include "polkavm/code.hpp"
#include "polkavm/isa.hpp"

namespace polkavm {

/// An amount of gas; negative after async metering overshot.
using Gas = int64_t;

/// How a module's instances charge gas.
enum class GasMeteringKind : uint8_t {
  None,   ///< no gas is charged
  Sync,   ///< stops before the first block it cannot pay for; resumable after set_gas()
  Async,  ///< may overshoot; the run ends with NotEnoughGas and the instance is not resumable
};

/// A per-opcode cost table (the reference's "simple" cost model). Block cost = sum of its instructions;
/// an invalid instruction costs `invalid` and ends the block; running off the end of code adds a trap.
struct POLKAVM_API CostModel {
  std::array<uint32_t, kOpcodeCount> cost{};  ///< the cost of each opcode, indexed by Opcode
  uint32_t invalid = 1;  ///< the cost of an invalid instruction

  static CostModel naive();  ///< every instruction costs 1
  uint32_t operator[](Opcode op) const { return cost[static_cast<size_t>(op)]; }  ///< the cost of `op`
  bool operator==(const CostModel&) const = default;  ///< field-wise equality

  /// The reference's byte form (version 2): little-endian u32s, the version, then every opcode's cost in
  /// the order of the reference's opcode names sorted alphabetically, then `invalid`.
  std::vector<uint8_t> serialize() const;
  /// Reads the form serialize() writes; nullopt if the length or version is wrong.
  static std::optional<CostModel> deserialize(std::span<const uint8_t> bytes);
};

/// Where the full model assumes memory accesses hit (the reference's CacheModel).
enum class CacheModel : uint8_t { L1Hit, L2Hit, L3Hit };

/// Computes the gas cost of basic blocks. The interpreter and the module call it with the decoded
/// instructions of one block (terminator included; an implicit trap appears as an invalid instruction
/// at the end of code). Other models (the reference's pipeline simulator) implement the same interface.
class POLKAVM_API GasModel {
 public:
  virtual ~GasModel() = default;
  /// The gas cost of `block`, the decoded instructions of one basic block of `code`.
  virtual uint32_t block_cost(const CodeView& code, std::span<const Instruction> block) const = 0;
  /// The per-opcode table when this is a simple model; nullptr for the full model.
  virtual const CostModel* simple_cost_model() const { return nullptr; }
};

/// A GasModel that charges by `model`'s per-opcode table (the reference's simple model).
POLKAVM_API std::shared_ptr<const GasModel> make_simple_gas_model(CostModel model);
/// The reference's full cost model: each block's cost comes from a simulation of an out-of-order
/// pipeline (decode width, reorder buffer, execution units, latencies) under `cache`.
POLKAVM_API std::shared_ptr<const GasModel> make_full_gas_model(CacheModel cache);

}  // namespace polkavm
