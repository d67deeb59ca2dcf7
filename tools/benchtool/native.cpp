// The native baseline.
//
// The native twin executable (`native-<name> ARG`, built from the same source by
// guest/programs/CMakeLists.txt) runs once a round: its checksum is the reference every VM row is checked
// against, and the fresh process's time is the native "oneshot".
//
// The execution time comes, by default, from the same source built as a shared library (<name>.so, see
// this directory's CMakeLists.txt: same compiler and flags as the twin) and called in this process
// through a function pointer, sampled exactly like the VM rows: best of N samples on warm state, short
// calls in batches. The alternative (--native-timing twin) spawns `native-<name> ARG REPEAT` N times and
// takes the best of the per-call means it prints; that includes the cold first call in every mean and
// has a 1 us resolution, so it slightly favours the VM and cannot time `minimal` at all.
#include <dlfcn.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fmt/format.h>
#include <string_view>

#include "benchtool.hpp"

extern char** environ;

namespace benchtool {

using polkavm::Error;
using polkavm::Result;

/// Runs `argv` to completion, capturing its output.
Result<ProcessResult> run_process(const std::vector<std::string>& argv) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return Error(fmt::format("pipe: {}", std::strerror(errno)));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDERR_FILENO);
  std::vector<char*> c_argv;
  for (const auto& arg : argv) c_argv.push_back(const_cast<char*>(arg.c_str()));
  c_argv.push_back(nullptr);

  ProcessResult result;
  auto start = std::chrono::steady_clock::now();
  pid_t pid = 0;
  int rc = posix_spawn(&pid, c_argv[0], &actions, nullptr, c_argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    return Error(fmt::format("cannot run {}: {}", argv[0], std::strerror(rc)));
  }
  char buffer[4096];
  for (;;) {
    ssize_t n = read(fds[0], buffer, sizeof buffer);
    if (n > 0) {
      result.output.append(buffer, static_cast<size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  close(fds[0]);
  int status = 0;
  rusage usage{};
  while (wait4(pid, &status, 0, &usage) < 0 && errno == EINTR) {
  }
  auto seconds = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) * 1e-6;
  };
  result.seconds = time_source() == TimeSource::ThreadCpu
                       ? seconds(usage.ru_utime) + seconds(usage.ru_stime)
                       : std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

namespace {

using polkavm::Error;
using polkavm::Result;

std::string command_line(const std::vector<std::string>& argv) {
  std::string text;
  for (const auto& arg : argv) text += (text.empty() ? "" : " ") + arg;
  return text;
}

/// The twin's output: the checksum on stdout, and "<seconds> s per call" on stderr when REPEAT > 1.
struct TwinOutput {
  std::optional<uint32_t> checksum;
  std::optional<double> seconds_per_call;
};

TwinOutput parse_twin_output(std::string_view output) {
  TwinOutput parsed;
  while (!output.empty()) {
    size_t end = output.find('\n');
    std::string_view line = output.substr(0, end);
    output = end == std::string_view::npos ? std::string_view() : output.substr(end + 1);
    constexpr std::string_view kPerCall = " s per call";
    if (line.ends_with(kPerCall)) {
      line.remove_suffix(kPerCall.size());
      double value = 0;
      auto [ptr, ec] = std::from_chars(line.data(), line.data() + line.size(), value);
      if (ec == std::errc() && ptr == line.data() + line.size()) parsed.seconds_per_call = value;
      continue;
    }
    uint32_t value = 0;
    auto [ptr, ec] = std::from_chars(line.data(), line.data() + line.size(), value);
    if (!line.empty() && ec == std::errc() && ptr == line.data() + line.size()) parsed.checksum = value;
  }
  return parsed;
}

/// The program built as a shared library, loaded in this process.
class NativeLibrary {
 public:
  using RunFunction = uint32_t (*)(uint32_t);

  static Result<std::unique_ptr<NativeLibrary>> open(const std::filesystem::path& path, const std::string& program) {
    if (!std::filesystem::exists(path))
      return Error(fmt::format("native library {} not found: build it with `cmake --build <build dir> --target "
                               "benchtool-native-{}` (benchtool's own target builds it too), or pass "
                               "--native-timing twin",
                               path.string(), program));
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) return Error(fmt::format("cannot load {}: {}", path.string(), dlerror()));
    auto library = std::unique_ptr<NativeLibrary>(new NativeLibrary(handle));
    library->run_ = reinterpret_cast<RunFunction>(dlsym(handle, "run"));
    if (!library->run_) return Error(fmt::format("{} has no function `run`", path.string()));
    return library;
  }
  ~NativeLibrary() { dlclose(handle_); }
  NativeLibrary(const NativeLibrary&) = delete;
  NativeLibrary& operator=(const NativeLibrary&) = delete;

  uint32_t run(uint32_t arg) const { return run_(arg); }

 private:
  explicit NativeLibrary(void* handle) : handle_(handle) {}
  void* handle_;
  RunFunction run_ = nullptr;
};

std::vector<std::string> twin_command(const std::filesystem::path& twin, uint32_t arg, uint64_t repeat = 1) {
  std::vector<std::string> argv = {twin.string(), std::to_string(arg)};
  if (repeat > 1) argv.push_back(std::to_string(repeat));
  return argv;
}

/// Runs the twin; fails unless it exits 0 and prints a checksum.
Result<TwinOutput> run_twin(const std::vector<std::string>& argv, double* seconds) {
  auto process = run_process(argv);
  if (!process) return process.error();
  if (process->exit_code != 0)
    return Error(fmt::format("`{}` failed (exit {}): {}", command_line(argv), process->exit_code, process->output));
  auto parsed = parse_twin_output(process->output);
  if (!parsed.checksum)
    return Error(fmt::format("`{}` printed no checksum: '{}'", command_line(argv), process->output));
  *seconds = process->seconds;
  return parsed;
}

class NativeRunner final : public Runner {
 public:
  NativeRunner(Measurement row, std::filesystem::path twin, std::unique_ptr<NativeLibrary> library,
               const Settings& settings)
      : Runner(std::move(row), settings.min_batch_seconds), twin_(std::move(twin)), library_(std::move(library)),
        arg_(settings.arg) {}

 private:
  /// A fresh twin process making one call: the checksum every other row is checked against.
  Result<void> do_oneshot() override {
    auto argv = twin_command(twin_, arg_);
    double seconds = 0;
    auto output = run_twin(argv, &seconds);
    if (!output) return output.error();
    if (row_.checksum && *row_.checksum != *output->checksum)
      return Error(fmt::format("`{}` printed {} then {}", command_line(argv), *row_.checksum, *output->checksum));
    row_.checksum = output->checksum;
    record_oneshot(seconds);
    return {};
  }

  Result<uint64_t> do_warm_up(double min_batch_seconds) override {
    if (!row_.checksum) return Error("no checksum from the native twin");
    if (library_)
      return calibrate_calls(min_batch_seconds, [this](uint64_t calls) { return calls_in_process(calls); });
    // The twin's own loop: at least 2 calls (it prints no time for 1), and enough for about 0.2 s so
    // that its cold first call weighs little in the mean.
    double one_call = std::max(row_.oneshot.value_or(1e-3), 1e-9);
    return static_cast<uint64_t>(std::clamp(std::ceil(0.2 / one_call), 2.0, 1e7));
  }

  Result<double> do_sample(uint64_t calls) override {
    if (library_) return time_batch(calls, [this](uint64_t n) { return calls_in_process(n); });
    auto argv = twin_command(twin_, arg_, calls);
    double seconds = 0;
    auto output = run_twin(argv, &seconds);
    if (!output) return output.error();
    if (*output->checksum != *row_.checksum)
      return Error(fmt::format("`{}` printed {}, one call printed {}", command_line(argv), *output->checksum,
                               *row_.checksum));
    if (!output->seconds_per_call) return Error(fmt::format("`{}` printed no time per call", command_line(argv)));
    if (*output->seconds_per_call <= 0)
      return Error(fmt::format("`{}`: the call is shorter than the twin's 1 us resolution; use "
                               "--native-timing inprocess", command_line(argv)));
    return *output->seconds_per_call;
  }

  Result<void> calls_in_process(uint64_t calls) {
    for (uint64_t i = 0; i < calls; ++i) {
      uint32_t got = library_->run(arg_);
      if (got != *row_.checksum)
        return Error(fmt::format("{}.so returned {}, but the native twin printed {}", row_.program, got,
                                 *row_.checksum));
    }
    return {};
  }

  std::filesystem::path twin_;
  std::unique_ptr<NativeLibrary> library_;  // null: time the twin's own loop
  uint32_t arg_;
};

/// The program's source built without auto-vectorisation (native-scalar/<name>.so), called in this process:
/// PolkaVM has no vector instructions, so this is the baseline with the same kind of code as the guest's.
/// Every call is checked against the twin's checksum (the native row's); it has no oneshot of its own.
class ScalarRunner final : public Runner {
 public:
  ScalarRunner(Measurement row, std::unique_ptr<NativeLibrary> library, const Runner& reference,
               const Settings& settings)
      : Runner(std::move(row), settings.min_batch_seconds), library_(std::move(library)), reference_(reference),
        arg_(settings.arg) {}

 private:
  Result<void> do_oneshot() override {
    const auto& expected = reference_.row().checksum;
    if (!expected) return Error("not checked: the native row has no checksum");
    row_.checksum = expected;
    return calls(1);
  }
  Result<uint64_t> do_warm_up(double min_batch_seconds) override {
    return calibrate_calls(min_batch_seconds, [this](uint64_t n) { return calls(n); });
  }
  Result<double> do_sample(uint64_t n) override {
    return time_batch(n, [this](uint64_t count) { return calls(count); });
  }
  Result<void> calls(uint64_t n) {
    for (uint64_t i = 0; i < n; ++i) {
      const uint32_t got = library_->run(arg_);
      if (got != *row_.checksum)
        return Error(fmt::format("the scalar {}.so returned {}, but the native twin printed {}", row_.program,
                                 got, *row_.checksum));
    }
    return {};
  }

  std::unique_ptr<NativeLibrary> library_;
  const Runner& reference_;
  uint32_t arg_;
};

}  // namespace

std::unique_ptr<Runner> native_scalar_runner(const std::string& program, const std::filesystem::path& library_dir,
                                             const Runner& reference, const Settings& settings) {
  Measurement row;
  row.program = program;
  row.runner = std::string(kScalarNative);
  std::unique_ptr<NativeLibrary> library;
  if (auto opened = NativeLibrary::open(library_dir / (program + ".so"), program)) library = std::move(*opened);
  else row.skipped = opened.error().message();  // optional: the report goes on without it
  return std::make_unique<ScalarRunner>(std::move(row), std::move(library), reference, settings);
}

std::unique_ptr<Runner> native_runner(const std::string& program, const NativePaths& paths, NativeTiming timing,
                                      const Settings& settings) {
  Measurement row;
  row.program = program;
  row.runner = "native";
  auto twin = paths.twin_dir / ("native-" + program);
  std::unique_ptr<NativeLibrary> library;
  if (!std::filesystem::exists(twin)) {
    row.error = fmt::format("native twin {} not found: build it with `cmake --build <build dir> --target "
                            "native-{}`, or point --native-dir at the directory holding it",
                            twin.string(), program);
  } else if (timing == NativeTiming::InProcess) {
    auto opened = NativeLibrary::open(paths.library_dir / (program + ".so"), program);
    if (opened) library = std::move(*opened);
    else row.error = opened.error().message();
  }
  return std::make_unique<NativeRunner>(std::move(row), std::move(twin), std::move(library), settings);
}

}  // namespace benchtool
