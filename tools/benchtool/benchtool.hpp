// benchtool: the guest benchmark programs natively, on the interpreter and on the compiler, side by side.
//
// Every number is a time per call of the program's `run(ARG)` export (ARG 0 by default). The pieces:
//   main.cpp    the command line, and the rounds: each row of a program takes a sample in turn (Runner);
//   timing.cpp  the clock (thread CPU time by default), batches for short calls, best-of-N;
//   native.cpp  the native baseline: the program's C/C++ source built as a shared library and called in
//               this process (timed exactly like the VM), plus the native twin executable for the checksum;
//   vm.cpp      the guest blob on one backend with one gas metering mode;
//   doom.cpp    Doom (the shared data's programs/doom.polkavm) on one backend with one gas metering mode;
//   link.cpp    `polkatool link` on Doom's ELFs (the shared data's), with and without --strip;
//   report.cpp  the Markdown table and the SVG chart.
#pragma once

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "polkavm/config.hpp"
#include "polkavm/error.hpp"
#include "polkavm/gas.hpp"
#include "polkavm/runtime.hpp"

namespace benchtool {

/// The clock of every measurement. The thread's CPU time (the default) leaves out the time the thread
/// spends descheduled, which on a shared, loaded machine is most of the noise; the guest runs on the
/// calling thread with both backends, so nothing is left out. Spawned processes are charged their
/// user + system time. Wall time is the steady clock.
enum class TimeSource { ThreadCpu, Wall };
void set_time_source(TimeSource source);
TimeSource time_source();
/// Now, in seconds, on the chosen clock.
double now_seconds();
inline double seconds_since(double start) { return now_seconds() - start; }

/// How the measurements are taken (from the command line).
struct Settings {
  unsigned repetitions = 5;          // samples per number; the best one is reported
  double min_batch_seconds = 0.001;  // short calls are timed in batches at least this long
  uint32_t arg = 0;                  // the argument of run(); 0 = each program's benchmark-sized workload
};

/// A time per call over several samples: the best (reported) and the median (to show the noise).
struct Timing {
  double best = 0;
  double median = 0;
  uint64_t calls_per_sample = 1;  // more than one when a single call is too short to time
};

/// Makes `calls` calls (and may fail).
using Batch = std::function<polkavm::Result<void>(uint64_t calls)>;

/// The time per call of one batch of `calls` calls.
polkavm::Result<double> time_batch(uint64_t calls, const Batch& batch);

/// The number of calls that makes a batch last at least `min_seconds` (1 for long calls). Runs batches
/// of growing size to find out, so it doubles as a warm-up.
polkavm::Result<uint64_t> calibrate_calls(double min_seconds, const Batch& batch);

/// A process run to completion (run_process).
struct ProcessResult {
  int exit_code = -1;  // -1 when killed by a signal
  std::string output;  // stdout and stderr, interleaved
  double seconds = 0;  // from spawn to exit: user + system time, or wall time (see TimeSource)
};
/// Runs `argv` (argv[0] a path) to completion, capturing its output.
polkavm::Result<ProcessResult> run_process(const std::vector<std::string>& argv);

/// One row of the report: a program run by one runner.
struct Measurement {
  std::string program;  // "sort"
  bool rv32 = false;    // the guest variant (the native rows belong to the rv64 group)
  std::string runner;   // "native", "interpreter", "compiler"
  std::optional<polkavm::GasMeteringKind> gas;  // VM rows only

  std::optional<double> compile;  // module creation, best of N (VM rows)
  std::optional<double> oneshot;  // module creation + instantiation + one call (VM); a fresh twin process (native)
  std::optional<Timing> execution;
  std::optional<uint32_t> checksum;

  std::string error;    // set when the row failed; the report shows it and benchtool exits non-zero
  std::string skipped;  // set when the row could not run on this machine (e.g. no compiler backend)

  bool ok() const { return error.empty() && skipped.empty(); }
  std::string label() const;  // "sort compiler gas=sync", "sort (rv32) interpreter gas=none", "sort native"
};

/// The programs benchtool knows, in report order.
const std::vector<std::string>& benchmark_programs();

/// Measures one row, one round at a time, so that the caller can interleave the rows of a program:
/// round after round, every row takes one oneshot and one execution sample, and a noisy stretch of time
/// hits all rows alike rather than all samples of one row. Each round runs on a new instance, released
/// at its end: one VM instance is alive at a time, and the best of N is also the best of N instances.
/// A row that fails (error) or cannot run (skipped) takes no more samples.
class Runner {
 public:
  virtual ~Runner() = default;
  const Measurement& row() const { return row_; }
  bool active() const { return row_.ok(); }

  /// One cold measurement: compile + instantiate + one call (VM); a fresh twin process (native).
  void oneshot_sample();
  /// Gets ready for execution samples: warm-up, and the batch size for short calls.
  void warm_up();
  /// One execution sample on warm state (the instance of this round's oneshot).
  void execution_sample();
  /// Ends the round: drops the instance.
  virtual void release() {}
  /// Turns the samples into the row's Timing.
  const Measurement& finish();

 protected:
  /// `row` names the row; an error or a skip reason in it means that no sample is taken.
  Runner(Measurement row, double min_batch_seconds) : row_(std::move(row)), min_batch_seconds_(min_batch_seconds) {}

  virtual polkavm::Result<void> do_oneshot() = 0;
  virtual polkavm::Result<uint64_t> do_warm_up(double min_batch_seconds) = 0;
  /// The time per call of one sample.
  virtual polkavm::Result<double> do_sample(uint64_t calls) = 0;
  void record_oneshot(double seconds) { row_.oneshot = std::min(row_.oneshot.value_or(seconds), seconds); }
  void record_compile(double seconds) { row_.compile = std::min(row_.compile.value_or(seconds), seconds); }

  Measurement row_;

 private:
  double min_batch_seconds_;
  std::vector<double> samples_;
  uint64_t calls_ = 1;
};

// ---------------------------------------------------------------------------------------------------
// native.cpp

struct NativePaths {
  std::filesystem::path twin_dir;     // native-<name> executables (build/guest/programs)
  std::filesystem::path library_dir;  // <name>.so built by benchtool's CMakeLists (next to benchtool)
  std::filesystem::path scalar_library_dir;  // the same without auto-vectorisation (native-scalar/)
};

/// The runner name of the native baseline built without auto-vectorisation.
constexpr std::string_view kScalarNative = "native-scalar";

enum class NativeTiming { InProcess, Twin };

/// The native row of `program`: the twin's checksum (the reference for every other row) and its
/// execution time, measured in-process (default) or from the twin's own REPEAT loop.
std::unique_ptr<Runner> native_runner(const std::string& program, const NativePaths& paths, NativeTiming timing,
                                      const Settings& settings);
/// The row of `program` built without auto-vectorisation, in-process, checked against `reference` (the native
/// row). Skipped (not an error) when its library is not built.
std::unique_ptr<Runner> native_scalar_runner(const std::string& program, const std::filesystem::path& library_dir,
                                             const Runner& reference, const Settings& settings);

// ---------------------------------------------------------------------------------------------------
// vm.cpp

/// The engines, created once per backend. An engine that cannot be created (e.g. the compiler on a
/// CPU without BMI2) makes its rows "skipped" with the reason.
class Engines {
 public:
  /// Every engine is `base` (Config::from_env() with --sandbox over it) with its backend.
  explicit Engines(polkavm::Config base = {}) : base_(std::move(base)) {}
  const polkavm::Config& base() const { return base_; }

  /// The engine for `backend`, or null with the reason in `why_not`.
  const polkavm::Engine* get(polkavm::BackendKind backend, std::string* why_not);

 private:
  struct Entry {
    std::optional<polkavm::Engine> engine;
    std::string error;
  };
  polkavm::Config base_;
  std::map<polkavm::BackendKind, Entry> entries_;
};

/// The guest blob of one program variant, read once for all its rows.
struct GuestBlob {
  std::filesystem::path path;
  std::string target;                         // the CMake target that builds it
  std::optional<std::vector<uint8_t>> bytes;  // nothing when the file is missing
};

/// One VM row: `blob` on `backend` with `gas`, every result checked against `reference`'s checksum
/// (the native row, measured before).
std::unique_ptr<Runner> vm_runner(const std::string& program, bool rv32, std::shared_ptr<const GuestBlob> blob,
                                  Engines& engines, polkavm::BackendKind backend, polkavm::GasMeteringKind gas,
                                  const Runner& reference, const Settings& settings);

// ---------------------------------------------------------------------------------------------------
// doom.cpp

/// Ticks per execution sample of Doom (the reference's baselines use 300).
constexpr uint64_t kDoomTicks = 300;

/// Doom's blob and ROM, read once for all its rows.
struct DoomInputs {
  std::filesystem::path program_path;
  std::vector<uint8_t> program;
  std::vector<uint8_t> rom;
  std::string missing;  // why Doom cannot run (a file not found): its rows are skipped with this
};
std::shared_ptr<const DoomInputs> read_doom_inputs(const std::filesystem::path& program,
                                                   const std::filesystem::path& rom);

/// One Doom row: on `backend` with `gas`, checked against the reference's results before it is timed.
std::unique_ptr<Runner> doom_runner(std::shared_ptr<const DoomInputs> inputs, Engines& engines,
                                    polkavm::BackendKind backend, polkavm::GasMeteringKind gas,
                                    const Settings& settings);

// ---------------------------------------------------------------------------------------------------
// link.cpp

/// The rows of `polkatool link` on Doom's ELFs (in `shared_programs`, zstd-compressed), with and without
/// --strip. Rows that cannot run are skipped; `note` gets the first reason.
std::vector<std::unique_ptr<Runner>> link_runners(const std::filesystem::path& shared_programs,
                                                  const std::filesystem::path& polkatool, const Settings& settings,
                                                  std::string* note);

// ---------------------------------------------------------------------------------------------------
// report.cpp

struct ReportInfo {
  std::string command;  // the command line, for the record
  unsigned repetitions = 0;
  uint32_t arg = 0;
  TimeSource time_source = TimeSource::ThreadCpu;
  NativeTiming native_timing = NativeTiming::InProcess;
  std::string sandbox = "auto";  // the compiler's sandbox (--sandbox / POLKAVM_SANDBOX)
};

std::string markdown_report(const std::vector<Measurement>& rows, const ReportInfo& info);
/// `clip`: ratios above it are drawn to the edge with their value written out.
std::string svg_chart(const std::vector<Measurement>& rows, double clip);

/// "1.23 ms", "456 ns", ...
std::string format_duration(double seconds);
/// Execution time of `row` over the `baseline` row ("native" or kScalarNative) of the same program (nothing
/// when either is missing).
std::optional<double> ratio_to_native(const Measurement& row, const std::vector<Measurement>& rows,
                                      std::string_view baseline = "native");

}  // namespace benchtool
