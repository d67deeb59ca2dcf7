// benchtool: the guest benchmark programs natively, on the interpreter and on the compiler, side by side.
//
// Every number is a time per call of the program's `run(0)` export. The pieces:
//   native.cpp  the native baseline: the program's C/C++ source built as a shared library and called in
//               this process (timed exactly like the VM), plus the native twin executable for the checksum;
//   vm.cpp      the guest blob on one backend with one gas metering mode;
//   report.cpp  the Markdown table and the SVG chart.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
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
  unsigned repetitions = 5;      // samples per number; the best one is reported
  double min_batch_seconds = 0.005;  // short calls are timed in batches at least this long
  uint32_t arg = 0;              // the argument of run(); 0 = each program's benchmark-sized workload
};

/// A time per call over several samples: the best (reported) and the median (to show the noise).
struct Timing {
  double best = 0;
  double median = 0;
  uint64_t calls_per_sample = 1;  // more than one when a single call is too short to time
};

/// Times `sample(calls)` (which makes `calls` calls and may fail) `repetitions` times.
polkavm::Result<Timing> time_samples(unsigned repetitions, uint64_t calls,
                                     const std::function<polkavm::Result<void>(uint64_t calls)>& sample);

/// The number of calls that makes a sample last at least `min_seconds` (1 for long calls). Calls
/// `sample` with growing counts to find out, so it doubles as a warm-up.
polkavm::Result<uint64_t> calibrate_calls(double min_seconds,
                                          const std::function<polkavm::Result<void>(uint64_t calls)>& sample);

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

// ---------------------------------------------------------------------------------------------------
// native.cpp

struct NativePaths {
  std::filesystem::path twin_dir;     // native-<name> executables (build/guest/programs)
  std::filesystem::path library_dir;  // <name>.so built by benchtool's CMakeLists (next to benchtool)
};

enum class NativeTiming { InProcess, Twin };

/// The native row of `program`: the twin's checksum (the reference for every other row) and its
/// execution time, measured in-process (default) or from the twin's own REPEAT loop.
Measurement measure_native(const std::string& program, const NativePaths& paths, NativeTiming timing,
                           const Settings& settings);

// ---------------------------------------------------------------------------------------------------
// vm.cpp

/// The engines, created once per backend. An engine that cannot be created (e.g. the compiler on a
/// CPU without BMI2) makes its rows "skipped" with the reason.
class Engines {
 public:
  /// The engine for `backend`, or null with the reason in `why_not`.
  const polkavm::Engine* get(polkavm::BackendKind backend, std::string* why_not);

 private:
  struct Entry {
    std::optional<polkavm::Engine> engine;
    std::string error;
  };
  std::map<polkavm::BackendKind, Entry> entries_;
};

/// One VM row: `blob_path` on `backend` with `gas`, checked against `expected` (the native checksum).
Measurement measure_vm(const std::string& program, bool rv32, const std::filesystem::path& blob_path,
                       const std::vector<uint8_t>& blob_bytes, Engines& engines, polkavm::BackendKind backend,
                       polkavm::GasMeteringKind gas, std::optional<uint32_t> expected, const Settings& settings);

// ---------------------------------------------------------------------------------------------------
// report.cpp

struct ReportInfo {
  std::string command;  // the command line, for the record
  unsigned repetitions = 0;
  uint32_t arg = 0;
  TimeSource time_source = TimeSource::ThreadCpu;
  NativeTiming native_timing = NativeTiming::InProcess;
};

std::string markdown_report(const std::vector<Measurement>& rows, const ReportInfo& info);
/// `clip`: ratios above it are drawn to the edge with their value written out.
std::string svg_chart(const std::vector<Measurement>& rows, double clip);

/// "1.23 ms", "456 ns", ...
std::string format_duration(double seconds);
/// Execution time of `row` over the native row of the same program (nothing when either is missing).
std::optional<double> ratio_to_native(const Measurement& row, const std::vector<Measurement>& rows);

}  // namespace benchtool
