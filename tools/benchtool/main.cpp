// benchtool: runs the guest benchmark programs natively, on the interpreter and on the compiler (gas
// metering none, sync and async), checks every result against the native twin's checksum, and reports
// compile, oneshot and execution times with the ratio to native as a Markdown table and an SVG chart.
//
//   benchtool                                  all programs, rv64, Markdown on stdout
//   benchtool --rv32 --repetitions 10 --markdown report.md --svg report.svg
//   benchtool --filter sort --filter sha --backend compiler --sandbox linux
//   benchtool --filter doom                    Doom, 300 ticks (the shared data's blob, Debian's Freedoom WAD)
//   benchtool --filter link                    polkatool link on Doom's ELFs (the shared data's)
//
// Blobs and native twins are found in the build tree next to benchtool (../../guest/programs).
#include <algorithm>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <fstream>
#include <iterator>

#include "benchtool.hpp"
#include "doom_host.hpp"
#include "polkavm/version.hpp"
#include "../common/cli_enums.hpp"

namespace benchtool {
namespace {

namespace fs = std::filesystem;

struct Options {
  std::vector<std::string> filters;
  std::vector<std::string> backends = {"interpreter", "compiler"};
  std::vector<std::string> gas_modes = {"none", "sync", "async"};
  std::optional<polkavm::SandboxKind> sandbox;  // unset: POLKAVM_SANDBOX, else auto
  unsigned repetitions = 5;
  double min_batch_ms = 1;
  bool rv32 = false;
  std::string native_timing = "inprocess";
  std::string clock = "cpu";
  fs::path guest_dir, native_dir, native_lib_dir, native_scalar_lib_dir;
  fs::path doom = POLKAVM_SHARED_DIR "/programs/doom.polkavm";
  fs::path doom_wad = polkavm::bench::doom::kRomPath;
  fs::path polkatool;
  std::optional<fs::path> markdown, svg;
  double svg_clip = 100;
  uint32_t arg = 0;
};

fs::path executable_dir() {
  std::error_code ec;
  auto exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::current_path() : exe.parent_path();
}

/// Shows "[i/n] what" on stderr: rewritten in place on a terminal, one line each otherwise.
class Progress {
 public:
  explicit Progress(size_t total) : total_(total), tty_(isatty(STDERR_FILENO) != 0) {}
  void start(const std::string& what) {
    ++done_;
    if (tty_) fmt::print(stderr, "\r\033[K[{}/{}] {}", done_, total_, what);
    else fmt::print(stderr, "[{}/{}] {}\n", done_, total_, what);
  }
  /// A message that stays (errors), above the progress line.
  void note(const std::string& message) {
    if (tty_) fmt::print(stderr, "\r\033[K");
    fmt::print(stderr, "{}\n", message);
  }
  void finish() {
    if (tty_) fmt::print(stderr, "\r\033[K");
  }

 private:
  size_t total_;
  size_t done_ = 0;
  bool tty_;
};

std::optional<std::vector<uint8_t>> read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

bool write_file(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  return static_cast<bool>(out.flush());
}

int run(const Options& options, const std::string& command) {
  // Programs: every benchmark program whose name contains one of the filters (all without filters).
  std::vector<std::string> programs;
  for (const auto& program : benchmark_programs()) {
    bool wanted = options.filters.empty();
    for (const auto& filter : options.filters) wanted |= program.find(filter) != std::string::npos;
    if (wanted) programs.push_back(program);
  }
  if (programs.empty()) {
    std::string known;
    for (const auto& program : benchmark_programs()) known += (known.empty() ? "" : ", ") + program;
    fmt::print(stderr, "error: --filter matches no program (programs: {})\n", known);
    return 2;
  }
  std::vector<polkavm::BackendKind> backends;
  for (const auto& name : options.backends) backends.push_back(*polkavm::backend_from_name(name));
  std::vector<polkavm::GasMeteringKind> gas_modes;
  for (const auto& name : options.gas_modes)
    for (auto kind : polkavm::kGasMeteringKinds)
      if (polkavm::gas_metering_name(kind) == name) gas_modes.push_back(kind);
  std::vector<bool> variants = {false};
  if (options.rv32) variants.push_back(true);

  if (!fs::is_directory(options.guest_dir)) {
    fmt::print(stderr, "error: guest directory {} does not exist; build the guests (`cmake --build <build dir>`) "
               "or pass --guest-dir\n", options.guest_dir.string());
    return 2;
  }

  Settings settings;
  settings.repetitions = std::max(options.repetitions, 1u);
  settings.min_batch_seconds = options.min_batch_ms / 1000;
  settings.arg = options.arg;
  TimeSource source = options.clock == "wall" ? TimeSource::Wall : TimeSource::ThreadCpu;
  set_time_source(source);
  NativePaths native_paths{options.native_dir, options.native_lib_dir, options.native_scalar_lib_dir};
  NativeTiming native_timing = options.native_timing == "twin" ? NativeTiming::Twin : NativeTiming::InProcess;

  // Per program, round after round, every row takes a oneshot sample (on a new instance) and an
  // execution sample (on that instance, now warm), then drops the instance (see Runner). The first round
  // also sizes the batches. The native row goes first: its checksum is the reference for the others.
  // Doom has no native row and no rv32 variant.
  auto rows_of = [&](const std::string& program) {
    if (program == "link") return size_t{4};
    return program == "doom" ? backends.size() * gas_modes.size()
                             : 2 + variants.size() * backends.size() * gas_modes.size();
  };
  size_t total_rows = 0;
  for (const auto& program : programs) total_rows += rows_of(program);
  const unsigned rounds = settings.repetitions;
  Progress progress(total_rows * (2 * rounds + 1));
  // The engines: the environment's POLKAVM_* settings with --sandbox over them; each row sets its backend.
  auto engine_config = polkavm::cli::config_from_env(options.sandbox);
  if (!engine_config) {
    fmt::print(stderr, "error: {}\n", engine_config.error().message());
    return 2;
  }
  Engines engines(*engine_config);
  std::vector<Measurement> rows;
  // Where compiled code runs. In the Linux sandbox it runs in a worker process, where this thread's CPU time
  // does not see it: such rows are timed with the wall clock.
  std::string sandbox = "none";
  if (std::find(backends.begin(), backends.end(), polkavm::BackendKind::Compiler) != backends.end()) {
    std::string why_not;
    if (const polkavm::Engine* compiler = engines.get(polkavm::BackendKind::Compiler, &why_not)) {
      sandbox = std::string(polkavm::sandbox_name(compiler->sandbox()));
      if (compiler->sandbox() == polkavm::SandboxKind::Linux && source == TimeSource::ThreadCpu) {
        source = TimeSource::Wall;
        set_time_source(source);
        fmt::print(stderr, "benchtool: the compiler runs in the Linux sandbox (another process), so every row is "
                           "timed with the wall clock; --sandbox generic keeps thread CPU time\n");
      }
    }
  }

  for (const auto& program : programs) {
    std::vector<std::unique_ptr<Runner>> runners;
    if (program == "link") {
      std::string note;
      runners = link_runners(options.doom.parent_path(), options.polkatool, settings, &note);
      if (!note.empty()) progress.note("link: skipped: " + note);
    } else if (program == "doom") {
      auto inputs = read_doom_inputs(options.doom, options.doom_wad);
      if (!inputs->missing.empty()) progress.note("doom: skipped: " + inputs->missing);
      for (auto backend : backends)
        for (auto gas : gas_modes) runners.push_back(doom_runner(inputs, engines, backend, gas, settings));
    } else {
      runners.push_back(native_runner(program, native_paths, native_timing, settings));
      const Runner& native = *runners.front();
      runners.push_back(native_scalar_runner(program, native_paths.scalar_library_dir, native, settings));
      for (bool rv32 : variants) {
        auto blob = std::make_shared<GuestBlob>();
        blob->path = options.guest_dir / (rv32 ? program + "-32.polkavm" : program + ".polkavm");
        blob->target = rv32 ? "guest-" + program + "-32" : "guest-" + program;
        blob->bytes = read_file(blob->path);
        for (auto backend : backends)
          for (auto gas : gas_modes)
            runners.push_back(vm_runner(program, rv32, blob, engines, backend, gas, native, settings));
      }
    }
    for (const auto& runner : runners)  // rows that cannot start (a missing blob, twin or library)
      if (!runner->row().error.empty())
        progress.note(fmt::format("error: {}: {}", runner->row().label(), runner->row().error));

    // One step of one row, with the progress line, and the row's error (once) when it fails.
    auto step = [&](Runner& runner, const std::string& what, void (Runner::*action)()) {
      progress.start(fmt::format("{}: {}", runner.row().label(), what));
      if (!runner.active()) return;
      (runner.*action)();
      if (!runner.row().error.empty())
        progress.note(fmt::format("error: {}: {}", runner.row().label(), runner.row().error));
    };
    for (unsigned round = 1; round <= rounds; ++round) {
      for (auto& runner : runners) {
        step(*runner, fmt::format("oneshot {}/{}", round, rounds), &Runner::oneshot_sample);
        if (round == 1) step(*runner, "warm-up", &Runner::warm_up);
        step(*runner, fmt::format("execution {}/{}", round, rounds), &Runner::execution_sample);
        runner->release();
      }
    }
    for (auto& runner : runners) rows.push_back(runner->finish());
  }
  progress.finish();

  ReportInfo info{command, settings.repetitions, settings.arg, source, native_timing, sandbox};
  std::string markdown = markdown_report(rows, info);
  if (options.markdown) {
    if (!write_file(*options.markdown, markdown)) {
      fmt::print(stderr, "error: cannot write {}\n", options.markdown->string());
      return 2;
    }
    fmt::print(stderr, "wrote {}\n", options.markdown->string());
  } else {
    fmt::print("{}", markdown);
  }
  if (options.svg) {
    if (!write_file(*options.svg, svg_chart(rows, options.svg_clip))) {
      fmt::print(stderr, "error: cannot write {}\n", options.svg->string());
      return 2;
    }
    fmt::print(stderr, "wrote {}\n", options.svg->string());
  }

  size_t errors = 0;
  for (const auto& row : rows) errors += !row.error.empty();
  if (errors) {
    fmt::print(stderr, "benchtool: {} of {} rows failed (see the report's Errors section)\n", errors, rows.size());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace benchtool

int main(int argc, char** argv) {
  using namespace benchtool;
  Options options;
  const fs::path exe_dir = executable_dir();
  options.guest_dir = (exe_dir / "../../guest/programs").lexically_normal();
  options.native_lib_dir = exe_dir / "native";
  options.native_scalar_lib_dir = exe_dir / "native-scalar";
  // In the build tree polkatool is tools/polkatool/; installed, beside benchtool.
  options.polkatool = exe_dir / "../polkatool/polkatool";
  if (!fs::exists(options.polkatool)) options.polkatool = exe_dir / "polkatool";
  options.polkatool = options.polkatool.lexically_normal();

  CLI::App app{"Runs the guest benchmark programs natively, on the interpreter and on the compiler, and "
               "compares their times (Markdown table on stdout, optional SVG chart)."};
  app.set_version_flag("--version", "benchtool " + std::string(polkavm::version()));
  app.add_option("--filter", options.filters,
                 "Only the programs whose name contains this (repeatable; default: all of minimal, prime-sieve, "
                 "memset, sort, sha256, interpreter, matmul, alloc, doom, link)");
  app.add_option("-r,--repetitions", options.repetitions,
                 "Samples per number; the best is reported (default: 5)")
      ->check(CLI::Range(1u, 1000u));
  app.add_option("--arg", options.arg,
                 "The argument of run() (default: 0, each program's benchmark-sized workload)");
  app.add_flag("--rv32", options.rv32, "Also run the 32-bit guests (<name>-32.polkavm)");
  app.add_option("--backend", options.backends, "Backends to run (default: interpreter compiler)")
      ->check(CLI::IsMember({"interpreter", "compiler"}));
  polkavm::cli::add_sandbox_option(&app, options.sandbox);
  app.add_option("--gas", options.gas_modes, "Gas metering modes to run (default: none sync async)")
      ->check(CLI::IsMember({"none", "sync", "async"}));
  app.add_option("--guest-dir", options.guest_dir, "Directory of the .polkavm blobs (default: " +
                                                       options.guest_dir.string() + ")");
  auto* native_dir = app.add_option("--native-dir", options.native_dir,
                                    "Directory of the native twins native-<name> (default: the guest directory)");
  app.add_option("--native-lib-dir", options.native_lib_dir,
                 "Directory of the in-process native libraries <name>.so (default: " +
                     options.native_lib_dir.string() + ")");
  app.add_option("--native-scalar-lib-dir", options.native_scalar_lib_dir,
                 "Directory of the in-process native libraries built without auto-vectorisation, the `native-scalar` "
                 "rows (default: " + options.native_scalar_lib_dir.string() + "; skipped when missing)");
  app.add_option("--native-timing", options.native_timing,
                 "How native execution is timed: inprocess (the program as a shared library, sampled like the "
                 "VM; default) or twin (the per-call mean printed by `native-<name> 0 REPEAT`)")
      ->check(CLI::IsMember({"inprocess", "twin"}));
  app.add_option("--clock", options.clock,
                 "cpu: the thread's CPU time, which leaves out time spent descheduled (default; spawned "
                 "processes: their user + system time), or wall: the steady clock")
      ->check(CLI::IsMember({"cpu", "wall"}));
  app.add_option("--min-batch-ms", options.min_batch_ms,
                 "Calls shorter than this are timed in batches at least this long (default: 1)")
      ->check(CLI::PositiveNumber);
  app.add_option("--doom", options.doom, "Doom's blob (default: " + options.doom.string() + ")");
  app.add_option("--polkatool", options.polkatool,
                 "polkatool, for the link rows (default: " + options.polkatool.string() + ")");
  app.add_option("--doom-wad", options.doom_wad,
                 "The Doom 1 WAD Doom runs (default: " + options.doom_wad.string() +
                     "; its rows are skipped when it is missing)");
  app.add_option("--markdown", options.markdown, "Write the Markdown report here instead of stdout");
  app.add_option("--svg", options.svg, "Write an SVG chart of the ratios to native here");
  app.add_option("--svg-clip", options.svg_clip, "Clip the chart's ratio axis here (default: 100)")
      ->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);
  if (native_dir->count() == 0) options.native_dir = options.guest_dir;

  std::string command = "benchtool";
  for (int i = 1; i < argc; ++i) command += std::string(" ") + argv[i];
  return run(options, command);
}
