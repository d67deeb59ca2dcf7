// spectool: runs PolkaVM JSON test vectors (the JAM v0.4 set and the reference's step vectors).
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <map>

#include "vector_runner.hpp"
#include "../common/cli_enums.hpp"

namespace {

using polkavm::BackendKind;
namespace vectors = polkavm::vectors;

struct RunArgs {
  std::vector<std::filesystem::path> paths;
  BackendKind backend = BackendKind::Interpreter;
  std::string isa;
  std::string cost_model = "naive";
};

int run(const RunArgs& args) {
  vectors::RunnerOptions options;
  options.backend = args.backend;
  options.cost_model = args.cost_model;
  if (!args.isa.empty()) {
    options.isa = polkavm::instruction_set_from_name(args.isa);
    if (!options.isa) {
      fmt::print(stderr, "error: unknown instruction set '{}'\n", args.isa);
      return 1;
    }
  }
  auto files = vectors::collect_vector_files(args.paths);
  if (!files) {
    fmt::print(stderr, "error: {}\n", files.error().message());
    return 1;
  }
  if (files->empty()) {
    fmt::print(stderr, "error: no .json vectors found\n");
    return 1;
  }
  auto runner = vectors::VectorRunner::create(options);
  if (!runner) {
    fmt::print(stderr, "error: {}\n", runner.error().message());
    return 1;
  }
  size_t passed = 0, failed = 0;
  for (const auto& file : *files) {
    auto outcome = runner->run_file(file);
    if (outcome.passed()) {
      ++passed;
      continue;
    }
    ++failed;
    for (const auto& failure : outcome.failures) fmt::print("{}\n", vectors::describe(outcome, failure));
  }
  fmt::print("{} passed, {} failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"spectool: runs PolkaVM JSON test vectors"};
  app.require_subcommand(1);

  RunArgs args;
  auto* run_cmd = app.add_subcommand("run", "Run test vectors and report every mismatch");
  run_cmd->add_option("paths", args.paths, "Vector files or directories (searched recursively)")->required();
  polkavm::cli::add_backend_option(run_cmd, args.backend);
  run_cmd->add_option("--isa", args.isa,
                      "Instruction set the programs are decoded with (revive_v1, latest32, latest64, jam_v1); "
                      "default: latest64 for JAM v0.4 vectors, jam_v1 for step vectors");
  run_cmd->add_option("--cost-model", args.cost_model, "Gas cost model: naive")->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 1;  // --help exits 0; every usage error exits 1
  }
  if (*run_cmd) return run(args);
  return 1;
}
