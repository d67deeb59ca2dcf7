// Sampling: best of N, with short calls timed in batches.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <ctime>

#include "benchtool.hpp"

namespace benchtool {

using polkavm::Result;

namespace {
TimeSource g_time_source = TimeSource::ThreadCpu;
}

void set_time_source(TimeSource source) { g_time_source = source; }
TimeSource time_source() { return g_time_source; }

double now_seconds() {
  timespec ts{};
  clock_gettime(g_time_source == TimeSource::ThreadCpu ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

Result<Timing> time_samples(unsigned repetitions, uint64_t calls,
                            const std::function<Result<void>(uint64_t calls)>& sample) {
  std::vector<double> per_call;
  for (unsigned i = 0; i < std::max(repetitions, 1u); ++i) {
    double start = now_seconds();
    if (auto r = sample(calls); !r) return r.error();
    per_call.push_back(seconds_since(start) / static_cast<double>(calls));
  }
  std::sort(per_call.begin(), per_call.end());
  return Timing{per_call.front(), per_call[per_call.size() / 2], calls};
}

Result<uint64_t> calibrate_calls(double min_seconds, const std::function<Result<void>(uint64_t calls)>& sample) {
  constexpr uint64_t kMaxCalls = 100'000'000;
  uint64_t calls = 1;
  for (;;) {
    double start = now_seconds();
    if (auto r = sample(calls); !r) return r.error();
    double seconds = seconds_since(start);
    if (seconds >= min_seconds || calls >= kMaxCalls) return calls;
    // Aim a little past the target, growing at least 2x and at most 100x per try.
    double wanted = std::ceil(static_cast<double>(calls) * 1.2 * min_seconds / std::max(seconds, 1e-9));
    calls = static_cast<uint64_t>(std::clamp(wanted, 2.0 * static_cast<double>(calls),
                                             100.0 * static_cast<double>(calls)));
    calls = std::min(calls, kMaxCalls);
  }
}

std::string Measurement::label() const {
  std::string text = program;
  if (rv32) text += " (rv32)";
  text += " " + runner;
  if (gas) text += fmt::format(" gas={}", polkavm::gas_metering_name(*gas));
  return text;
}

const std::vector<std::string>& benchmark_programs() {
  static const std::vector<std::string> programs = {"minimal", "prime-sieve", "memset", "sort",
                                                    "sha256",  "interpreter", "matmul", "alloc"};
  return programs;
}

}  // namespace benchtool
