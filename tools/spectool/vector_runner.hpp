// Runs PolkaVM JSON test vectors and reports every difference from the expected outcome. Two schemas:
//  - the W3F JAM PVM v0.4 vectors ("initial-*" / "expected-*" keys; Latest64 numbering, naive gas);
//  - the reference spectool's step vectors ("steps" and "block-gas-costs"; JamV1, full gas model).
// Shared by the spectool CLI and the conformance tests.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "polkavm/config.hpp"
#include "polkavm/error.hpp"
#include "polkavm/gas.hpp"
#include "polkavm/isa.hpp"
#include "polkavm/runtime.hpp"

namespace polkavm::vectors {

/// One difference between the expected and the actual outcome. `field` names what differs ("status", "pc",
/// "a0", "memory at 0x20000", "block gas cost at pc 3", ...); "error" means the vector could not be run.
struct Failure {
  std::string field;
  std::string expected;
  std::string actual;
};

struct Outcome {
  std::string name;
  std::vector<Failure> failures;
  bool passed() const { return failures.empty(); }
};

struct RunnerOptions {
  BackendKind backend = BackendKind::Interpreter;
  /// The engine's other settings (spectool: Config::from_env() with --sandbox over it). Its backend is
  /// replaced by `backend`, and the runner turns on allow_dynamic_paging and allow_experimental.
  Config engine;
  /// The numbering the program is decoded with; unset = the vector's "isa" key, else its set's own
  /// (v0.4: latest64, steps: jam_v1).
  std::optional<InstructionSet> isa;
  /// A name accepted by cost_model_from_name(); unset = the vector set's own (v0.4: naive, steps: full-l2-hit).
  std::optional<std::string> cost_model;
};

/// The gas models selectable by name: "naive" (every instruction costs 1) and the full pipeline model
/// "full-l1-hit", "full-l2-hit" or "full-l3-hit".
Result<std::shared_ptr<const GasModel>> cost_model_from_name(std::string_view name);

/// The .json files named by `inputs` (files as given; directories searched recursively, leaving out JSON
/// Schema documents such as a vector set's schema.json), sorted by path. Fails when an input does not exist.
Result<std::vector<std::filesystem::path>> collect_vector_files(std::span<const std::filesystem::path> inputs);

class VectorRunner {
 public:
  /// Creates the engine for `options.backend` (with `options.engine`'s sandbox etc.); fails if that backend or the cost model is unavailable.
  static Result<VectorRunner> create(const RunnerOptions& options);

  /// Runs one vector file. Never fails as a call: unreadable or malformed vectors become an "error" failure.
  Outcome run_file(const std::filesystem::path& path) const;

 private:
  struct GasModels {
    std::shared_ptr<const GasModel> jam_v04;
    std::shared_ptr<const GasModel> steps;
  };
  VectorRunner(RunnerOptions options, Engine engine, GasModels gas_models)
      : options_(std::move(options)), engine_(std::move(engine)), gas_models_(std::move(gas_models)) {}

  RunnerOptions options_;
  Engine engine_;
  GasModels gas_models_;
};

/// The line printed for one failure: "<vector>: <field>: expected <e>, actual <a>".
std::string describe(const Outcome& outcome, const Failure& failure);

}  // namespace polkavm::vectors
