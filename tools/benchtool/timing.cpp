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

Result<double> time_batch(uint64_t calls, const Batch& batch) {
  double start = now_seconds();
  if (auto r = batch(calls); !r) return r.error();
  return seconds_since(start) / static_cast<double>(calls);
}

Result<uint64_t> calibrate_calls(double min_seconds, const Batch& batch) {
  constexpr uint64_t kMaxCalls = 100'000'000;
  uint64_t calls = 1;
  for (;;) {
    double start = now_seconds();
    if (auto r = batch(calls); !r) return r.error();
    double seconds = seconds_since(start);
    if (seconds >= min_seconds || calls >= kMaxCalls) return calls;
    // Aim a little past the target, growing at least 2x and at most 100x per try.
    double wanted = std::ceil(static_cast<double>(calls) * 1.2 * min_seconds / std::max(seconds, 1e-9));
    calls = static_cast<uint64_t>(std::clamp(wanted, 2.0 * static_cast<double>(calls),
                                             100.0 * static_cast<double>(calls)));
    calls = std::min(calls, kMaxCalls);
  }
}

void Runner::oneshot_sample() {
  if (!active()) return;
  if (auto r = do_oneshot(); !r) row_.error = r.error().message();
}

void Runner::warm_up() {
  if (!active()) return;
  auto calls = do_warm_up(min_batch_seconds_);
  if (!calls) row_.error = calls.error().message();
  else calls_ = *calls;
}

void Runner::execution_sample() {
  if (!active()) return;
  auto seconds = do_sample(calls_);
  if (!seconds) row_.error = seconds.error().message();
  else samples_.push_back(*seconds);
}

const Measurement& Runner::finish() {
  if (!samples_.empty()) {
    std::sort(samples_.begin(), samples_.end());
    row_.execution = Timing{samples_.front(), samples_[samples_.size() / 2], calls_};
  }
  return row_;
}

std::string Measurement::label() const {
  std::string text = program;
  if (rv32) text += " (rv32)";
  text += " " + runner;
  if (gas) text += fmt::format(" gas={}", polkavm::gas_metering_name(*gas));
  return text;
}

const std::vector<std::string>& benchmark_programs() {
  static const std::vector<std::string> programs = {"minimal", "prime-sieve", "memset", "sort",  "sha256",
                                                    "interpreter", "matmul", "alloc", "doom", "link"};
  return programs;
}

}  // namespace benchtool
