// polkatool: assemble, inspect and run PolkaVM program blobs.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "assemble.hpp"
#include "blob_file.hpp"
#include "link.hpp"
#include "polkavm/debug_info.hpp"
#include "polkavm/disassembler.hpp"
#include "polkavm/runtime.hpp"
#include "polkavm/version.hpp"
#include "run.hpp"
#include "../common/cli_enums.hpp"

namespace {

using polkatool::fail;
using polkatool::load_blob;


struct DisassembleArgs {
  std::filesystem::path blob;
  std::filesystem::path output;
  bool show_raw_bytes = false;
  bool no_show_offsets = false;
  bool display_gas = false;
  bool directives = false;
  bool show_source = false;
};

// Where the code at `pc` came from: "path:line:column in function", with the inlined calls it sits in.
std::string describe_source(const polkavm::SourceLocation& location) {
  std::string text = location.path;
  if (location.line != 0) text += fmt::format(":{}", location.line);
  if (location.column != 0) text += fmt::format(":{}", location.column);
  if (!location.function.empty()) text += (text.empty() ? "" : " in ") + location.function;
  // Inlined calls: each Call frame is a call site, innermost first.
  for (auto it = location.frames.rbegin(); it != location.frames.rend(); ++it) {
    if (it->kind != polkavm::DebugFrameKind::Call) continue;
    auto caller = it + 1;  // the frame before the call site: the function that made the call
    while (caller != location.frames.rend() && caller->kind != polkavm::DebugFrameKind::Enter) ++caller;
    text += fmt::format(", inlined into {}", caller != location.frames.rend() ? caller->full_name() : "?");
    if (!it->path.empty()) text += fmt::format(" at {}:{}", it->path, it->line);
  }
  return text;
}

// Inserts a "// <source>" line before each instruction whose source location differs from the one before.
polkavm::Result<std::string> annotate_with_source(const polkavm::ProgramBlob& blob, const std::string& text) {
  std::string out;
  std::string last;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    end = end == std::string::npos ? text.size() : end + 1;
    const std::string line = text.substr(start, end - start);
    start = end;
    // Instruction lines start with their offset: "    12: ...".
    const size_t first = line.find_first_not_of(' ');
    const size_t colon = line.find(':');
    if (first != std::string::npos && colon != std::string::npos && colon > first &&
        std::all_of(line.begin() + static_cast<std::ptrdiff_t>(first), line.begin() + static_cast<std::ptrdiff_t>(colon),
                    [](char c) { return c >= '0' && c <= '9'; })) {
      const uint32_t pc = static_cast<uint32_t>(std::stoul(line.substr(first, colon - first)));
      auto location = polkavm::source_location(blob, pc);
      if (!location) return location.error();
      const std::string described = *location ? describe_source(**location) : std::string();
      if (described != last && !described.empty()) out += std::string(first, ' ') + "// " + described + "\n";
      last = described;
    }
    out += line;
  }
  return out;
}

int disassemble(const DisassembleArgs& args) {
  auto blob = load_blob(args.blob);
  if (!blob) return fail(blob.error().message());

  polkavm::DisassemblyOptions options;
  options.show_raw_bytes = args.show_raw_bytes;
  options.show_offsets = !args.no_show_offsets;
  options.emit_directives = args.directives;
  // Gas is shown per block from the cost model of the environment's engine (POLKAVM_DEFAULT_COST_MODEL).
  std::optional<polkavm::Module> module;
  if (args.display_gas) {
    auto config = polkavm::Config::from_env();
    if (!config) return fail(config.error().message());
    config->backend = polkavm::BackendKind::Interpreter;
    auto engine = polkavm::Engine::create(*config);
    if (!engine) return fail(engine.error().message());
    polkavm::ModuleConfig module_config;
    module_config.gas_metering = polkavm::GasMeteringKind::Sync;
    auto created = polkavm::Module::from_blob(*engine, module_config, *blob);
    if (!created) return fail(fmt::format("cannot compute gas costs: {}", created.error().message()));
    module = std::move(created).value();
    options.gas_costs = &*module;
  }

  std::string text = polkavm::disassemble(*blob, options);
  if (args.show_source) {
    if (!options.show_offsets) return fail("--show-source needs the code offsets (drop --no-show-offsets)");
    if (!polkavm::has_debug_info(*blob))
      fmt::print(stderr, "warning: the program has no debug information (was it linked with --strip?)\n");
    auto annotated = annotate_with_source(*blob, text);
    if (!annotated) return fail(fmt::format("cannot read the debug information: {}", annotated.error().message()));
    text = std::move(*annotated);
  }
  if (args.output.empty()) {
    fmt::print("{}", text);
    return 0;
  }
  const auto written = polkatool::write_file(
      args.output, std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
  if (!written) return fail(written.error().message());
  return 0;
}

int stats(const std::vector<std::filesystem::path>& inputs) {
  std::map<std::string, size_t> counts;
  for (int i = 0; i < polkavm::kOpcodeCount; ++i) counts[std::string(polkavm::kOpcodeInfo[i].name)] = 0;
  for (const auto& input : inputs) {
    auto blob = load_blob(input);
    if (!blob) return fail(blob.error().message());
    for (const auto& insn : polkavm::list_instructions(polkavm::CodeView(*blob)))
      ++counts[insn.valid ? std::string(polkavm::name(insn.opcode)) : "invalid"];
  }
  std::vector<std::pair<std::string, size_t>> sorted(counts.begin(), counts.end());
  // Most frequent first; ties by name, so the output is deterministic.
  std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  fmt::print("Instruction distribution:\n");
  for (const auto& [name, count] : sorted) fmt::print("{:>40}: {}\n", name, count);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"polkatool: link, assemble, inspect and run PolkaVM program blobs"};
  app.set_version_flag("--version", "polkatool " + std::string(polkavm::version()));
  app.require_subcommand(1);

  DisassembleArgs dis;
  auto* dis_cmd = app.add_subcommand("disassemble", "Print a program's instructions");
  dis_cmd->add_option("blob", dis.blob, "Program blob (.polkavm)")->required();
  dis_cmd->add_option("-o,--output", dis.output, "Write to this file instead of stdout");
  dis_cmd->add_flag("--show-raw-bytes", dis.show_raw_bytes, "Show each instruction's bytes");
  dis_cmd->add_flag("--no-show-offsets", dis.no_show_offsets, "Hide code offsets");
  dis_cmd->add_flag("--display-gas", dis.display_gas, "Show each basic block's gas cost");
  dis_cmd->add_flag("--directives", dis.directives,
                    "Write the memory layout as assembler directives, so that `assemble` rebuilds the whole blob");
  dis_cmd->add_flag("--show-source", dis.show_source,
                    "Show the source location (file:line:column, function, inlined calls) from the debug information");

  polkatool::AssembleArgs assemble_args;
  auto* asm_cmd = app.add_subcommand("assemble", "Assemble text (the reference's syntax) into a program blob");
  asm_cmd->add_option("input", assemble_args.input, "Assembler source")->required();
  asm_cmd->add_option("-o,--output", assemble_args.output, "Program blob (.polkavm) to write")->required();
  polkavm::cli::add_enum_option(asm_cmd, "-i,--isa", assemble_args.isa, polkatool::kInstructionSets,
                                polkavm::instruction_set_name,
                                "Instruction set, unless the text has an '%isa = ...' line");

  polkatool::LinkArgs link_args;
  auto* link_cmd = app.add_subcommand("link", "Link a RISC-V ELF (built with --emit-relocs) into a program blob");
  link_cmd->add_option("input", link_args.input, "RISC-V ELF file")->required();
  link_cmd->add_option("-o,--output", link_args.output, "Program blob (.polkavm) to write")->required();
  link_cmd->add_flag("-s,--strip", link_args.strip, "Leave out the debug information (DWARF line info)");
  link_cmd->add_option("--opt-level", link_args.opt_level,
                       "0: keep everything, 1: drop what no export reaches, 2: also optimize (default)")
      ->check(CLI::Range(0, 2));
  link_cmd->add_option("--min-stack-size", link_args.min_stack_size, "Minimum stack size in bytes (default 8192)");
  polkavm::cli::add_enum_option(link_cmd, "--isa", link_args.isa, polkatool::kInstructionSets,
                                polkavm::instruction_set_name,
                                "Instruction set (default: latest64 for RV64, latest32 for RV32)");

  std::vector<std::filesystem::path> stats_inputs;
  auto* stats_cmd = app.add_subcommand("stats", "Count instructions by opcode");
  stats_cmd->add_option("blobs", stats_inputs, "Program blobs (.polkavm)")->required();

  polkatool::RunArgs run;
  auto* run_cmd = app.add_subcommand("run", "Call an export and print how the call ended");
  run_cmd->add_option("blob", run.blob, "Program blob (.polkavm)")->required();
  run_cmd->add_option("--call", run.call, "Name of the export to call")->required();
  run_cmd->add_option("--args", run.args, "Arguments, comma separated (a0..a5, t0..t2)")->delimiter(',');
  polkavm::cli::add_backend_option(run_cmd, run.backend);
  polkavm::cli::add_sandbox_option(run_cmd, run.sandbox);
  run_cmd->add_option("--gas", run.gas, "Gas limit (turns on sync gas metering unless --gas-metering says otherwise)");
  polkavm::cli::add_gas_metering_option(run_cmd, run.gas_metering,
                                        "Gas metering: none, sync or async (default: sync with --gas)");
  run_cmd->add_option("--stub", run.stubs, "IMPORT=VALUE: answer calls to IMPORT with VALUE in a0 (repeatable)");
  run_cmd->add_flag("--trace", run.trace, "Print every executed instruction and the registers it changed");
  run_cmd->add_flag("--timings", run.timings, "Print compile, instantiate and execute times in seconds");
  run_cmd->add_option("--repeat", run.repeat, "Run the call K times on fresh instances; timings are medians")
      ->check(CLI::PositiveNumber);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 1;  // --help exits 0; every usage error exits 1
  }
  if (*dis_cmd) return disassemble(dis);
  if (*asm_cmd) return polkatool::assemble_command(assemble_args);
  if (*link_cmd) return polkatool::link_command(link_args);
  if (*stats_cmd) return stats(stats_inputs);
  if (*run_cmd) return polkatool::run_command(run);
  return 1;
}
