// spectool: runs PolkaVM JSON test vectors (the JAM v0.4 set and the reference's step vectors) and
// generates step vectors from spec sources.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <fstream>
#include <map>

#include "compiler/compiler.hpp"
#include "differential.hpp"
#include "generate.hpp"
#include "polkavm/version.hpp"
#include "vector_runner.hpp"
#include "vector_state.hpp"
#include "../common/cli_enums.hpp"

namespace {

using polkavm::BackendKind;
using polkavm::SandboxKind;
namespace vectors = polkavm::vectors;

struct RunArgs {
  std::vector<std::filesystem::path> paths;
  BackendKind backend = BackendKind::Interpreter;
  std::optional<SandboxKind> sandbox;  // unset: POLKAVM_SANDBOX, else auto
  std::string isa;
  std::string cost_model;
};

int run(const RunArgs& args) {
  vectors::RunnerOptions options;
  options.backend = args.backend;
  auto engine = polkavm::cli::config_from_env(args.sandbox);
  if (!engine) {
    fmt::print(stderr, "error: {}\n", engine.error().message());
    return 1;
  }
  options.engine = *engine;
  if (!args.cost_model.empty()) options.cost_model = args.cost_model;
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

struct GenerateArgs {
  std::vector<std::filesystem::path> sources;
  std::filesystem::path output;
};

/// The spec sources named by `inputs`: files as given, directories' *.txt files; sorted by name.
std::optional<std::vector<std::filesystem::path>> collect_sources(std::span<const std::filesystem::path> inputs) {
  std::vector<std::filesystem::path> files;
  for (const auto& input : inputs) {
    std::error_code ec;
    if (std::filesystem::is_directory(input, ec)) {
      for (const auto& entry : std::filesystem::directory_iterator(input, ec))
        if (entry.is_regular_file() && entry.path().extension() == ".txt") files.push_back(entry.path());
    } else if (std::filesystem::exists(input, ec)) {
      files.push_back(input);
    } else {
      fmt::print(stderr, "error: no such file or directory: {}\n", input.string());
      return std::nullopt;
    }
  }
  std::sort(files.begin(), files.end(), [](const auto& a, const auto& b) { return a.stem() < b.stem(); });
  return files;
}

int generate(const GenerateArgs& args) {
  auto sources = collect_sources(args.sources);
  if (!sources) return 1;
  auto generator = vectors::VectorGenerator::create();
  if (!generator) {
    fmt::print(stderr, "error: {}\n", generator.error().message());
    return 1;
  }
  std::error_code ec;
  std::filesystem::create_directories(args.output, ec);
  if (ec) {
    fmt::print(stderr, "error: cannot create {}: {}\n", args.output.string(), ec.message());
    return 1;
  }
  size_t written = 0, unchanged = 0, failed = 0;
  for (const auto& path : *sources) {
    std::string name = path.stem().string();
    auto text = vectors::read_text(path);
    auto vector = text ? generator->generate(name, *text) : polkavm::Result<std::string>(text.error());
    if (!vector) {
      fmt::print(stderr, "{}: {}\n", path.string(), vector.error().message());
      ++failed;
      continue;
    }
    auto output = args.output / (name + ".json");
    if (auto old = vectors::read_text(output); old && *old == *vector) {
      ++unchanged;
      continue;
    }
    std::ofstream file(output, std::ios::binary | std::ios::trunc);
    file << *vector;
    if (!file.flush()) {
      fmt::print(stderr, "{}: cannot write {}\n", path.string(), output.string());
      ++failed;
      continue;
    }
    ++written;
  }
  fmt::print("{} written, {} unchanged, {} failed\n", written, unchanged, failed);
  return failed == 0 ? 0 : 1;
}

struct FuzzArgs {
  uint64_t iterations = 1000;
  uint64_t seed = 0;
  bool verbose = false;
  bool in_parts = false;  // the compiler translates every program in two parts, as it does large ones
  std::optional<SandboxKind> sandbox;  // unset: POLKAVM_SANDBOX, else auto
  std::string compare;  // empty: interpreter,compiler where the compiler runs, else interpreter with/without tracing
};

std::string_view interrupt_kind_name(polkavm::Interrupt::Kind kind) {
  using Kind = polkavm::Interrupt::Kind;
  switch (kind) {
    case Kind::Finished: return "finished";
    case Kind::Trap: return "trap";
    case Kind::Ecalli: return "ecalli";
    case Kind::Segfault: return "segfault";
    case Kind::NotEnoughGas: return "not-enough-gas";
    case Kind::Step: return "step";
  }
  return "?";
}

/// Program i is generated from seed + i, so `--seed <that> --iterations 1` replays it alone.
int fuzz(const FuzzArgs& args) {
  namespace fuzz = polkavm::fuzz;
  fuzz::ConfigPair pair;
  if (args.in_parts) polkavm::detail::compiler::set_compile_in_parts_from(0);
  // Both sides' engines: the environment's POLKAVM_* settings with --sandbox over them; each side sets
  // its backend, so the compiler side runs in the chosen sandbox.
  auto engine = polkavm::cli::config_from_env(args.sandbox);
  if (!engine) {
    fmt::print(stderr, "error: {}\n", engine.error().message());
    return 1;
  }
  std::string compare = args.compare;
  if (compare.empty()) {
    polkavm::Config compiler = *engine;
    compiler.backend = BackendKind::Compiler;
    auto probe = polkavm::Engine::create(compiler);
    compare = probe ? "interpreter,compiler" : "interpreter,interpreter+step-tracing";
    if (!probe && engine->sandbox != SandboxKind::Auto)  // the user asked for a sandbox: say why it is unused
      fmt::print(stderr, "note: the compiler is unavailable with the {} sandbox ({}); comparing {}\n",
                 polkavm::sandbox_name(engine->sandbox), probe.error().message(), compare);
  }
  const size_t comma = compare.find(',');
  auto a = fuzz::ExecutionConfig::from_name(compare.substr(0, comma));
  auto b = comma == std::string::npos ? std::nullopt : fuzz::ExecutionConfig::from_name(compare.substr(comma + 1));
  if (!a || !b) {
    fmt::print(stderr, "error: --compare takes two of interpreter, interpreter+step-tracing, compiler, "
                       "compiler+step-tracing, separated by a comma\n");
    return 1;
  }
  pair.a = *a;
  pair.b = *b;
  auto runner = fuzz::DifferentialRunner::create(pair, {}, *engine);
  const bool uses_compiler = pair.a.backend == BackendKind::Compiler || pair.b.backend == BackendKind::Compiler;
  // Where the compiler runs, its sandbox is part of the configuration: reports name it.
  const std::string sandbox =
      uses_compiler ? fmt::format(", sandbox {}", polkavm::sandbox_name(engine->sandbox)) : "";
  if (!runner) {
    fmt::print(stderr, "error: {}\n", runner.error().message());
    return 1;
  }
  uint64_t divergences = 0;
  std::map<std::string, uint64_t> exits;  // how the agreeing runs stopped: shows what the fuzzer reaches
  for (uint64_t i = 0; i < args.iterations; ++i) {
    const fuzz::ProgramSpec spec = fuzz::generate_program(args.seed + i);
    auto result = runner->run(spec);
    if (result)
      for (const auto& interrupt : result->interrupts) ++exits[std::string(interrupt_kind_name(interrupt.kind))];
    if (args.verbose)
      fmt::print("seed {}: {}, {} items, {} interrupts: {}\n", spec.seed, polkavm::instruction_set_name(spec.isa),
                 spec.items.size(), result ? result->interrupts.size() : 0,
                 !result ? "error" : result->divergence ? "DIVERGES" : "agree");
    if (result && !result->divergence) continue;
    ++divergences;
    if (!result) {
      fmt::print("seed {}: cannot run the program: {}\n", spec.seed, result.error().message());
    } else if (divergences == 1) {  // only the first is worth shrinking and printing in full
      const fuzz::ProgramSpec small = runner->shrink(spec);
      auto again = runner->run(small);
      const auto& divergence = again && again->divergence ? *again->divergence : *result->divergence;
      if (uses_compiler)
        fmt::print("compiler sandbox: {}\n", polkavm::sandbox_name(engine->sandbox));
      fmt::print("{}", fuzz::describe_reproducer(runner->configs(), small, divergence));
    } else {
      fmt::print("seed {}: {} differs\n", spec.seed, result->divergence->field);
    }
  }
  std::string summary;
  for (const auto& [kind, count] : exits) summary += fmt::format("{}{} {}", summary.empty() ? "" : ", ", count, kind);
  fmt::print("interrupts: {}\n", summary);
  fmt::print("{} programs, {} divergences ({} vs {}{}{})\n", args.iterations, divergences, pair.a.name, pair.b.name,
             sandbox, args.in_parts ? ", compiled in two parts" : "");
  return divergences == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"spectool: runs PolkaVM JSON test vectors"};
  app.set_version_flag("--version", "spectool " + std::string(polkavm::version()));
  app.require_subcommand(1);

  RunArgs args;
  auto* run_cmd = app.add_subcommand("run", "Run test vectors and report every mismatch");
  run_cmd->add_option("paths", args.paths, "Vector files or directories (searched recursively)")->required();
  polkavm::cli::add_backend_option(run_cmd, args.backend);
  polkavm::cli::add_sandbox_option(run_cmd, args.sandbox);
  run_cmd->add_option("--isa", args.isa,
                      "Instruction set the programs are decoded with (revive_v1, latest32, latest64, jam_v1); "
                      "default: latest64 for JAM v0.4 vectors, jam_v1 for step vectors");
  run_cmd->add_option("--cost-model", args.cost_model,
                      "Gas cost model: naive, full-l1-hit, full-l2-hit or full-l3-hit; "
                      "default: naive for JAM v0.4 vectors, full-l2-hit for step vectors");

  GenerateArgs generate_args;
  auto* generate_cmd = app.add_subcommand("generate", "Assemble spec sources into step vectors (JSON)");
  generate_cmd->add_option("sources", generate_args.sources, "Spec source files or directories of *.txt files")
      ->required();
  generate_cmd->add_option("-o,--output", generate_args.output, "Directory the vectors are written to")->required();

  FuzzArgs fuzz_args;
  auto* fuzz_cmd = app.add_subcommand("fuzz", "Run random programs under two configurations and compare them");
  fuzz_cmd->add_option("--iterations", fuzz_args.iterations, "How many programs to generate")->capture_default_str();
  fuzz_cmd->add_option("--seed", fuzz_args.seed, "Seed of the first program (program i uses seed + i)")
      ->capture_default_str();
  fuzz_cmd->add_option("--compare", fuzz_args.compare,
                       "The two configurations compared: two of interpreter, interpreter+step-tracing, compiler, "
                       "compiler+step-tracing; default: interpreter,compiler where the compiler runs");
  polkavm::cli::add_sandbox_option(fuzz_cmd, fuzz_args.sandbox);
  fuzz_cmd->add_flag("-v,--verbose", fuzz_args.verbose, "Print one line per program");
  fuzz_cmd->add_flag("--in-parts", fuzz_args.in_parts,
                     "Compile every program that can be split in two parts in parallel, as large modules are");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 1;  // --help exits 0; every usage error exits 1
  }
  if (*run_cmd) return run(args);
  if (*generate_cmd) return generate(generate_args);
  if (*fuzz_cmd) return fuzz(fuzz_args);
  return 1;
}
