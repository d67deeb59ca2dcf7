#include "sandbox/linux/core_pinning.hpp"

#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <tuple>
#include <utility>
#include <vector>

#include <fmt/format.h>

namespace polkavm::detail::linux_sandbox {

/// A host thread's pinning, shared by its pinned instances (which may be dropped on other threads).
struct ThreadPin {
  pid_t tid = 0;  // 0 once the thread has exited
  cpu_set_t original{};
  int instances = 0;
  bool pinned = false;
  int core = -1;  // where it is pinned (PinToCcx: the core it was on)
};

namespace {

/// A sysfs CPU list ("0-3,8,10-11") as CPU numbers; empty if it cannot be read.
std::vector<int> read_cpu_list(const std::string& path) {
  std::ifstream file(path);
  std::string text;
  if (!std::getline(file, text)) return {};
  std::vector<int> cpus;
  for (size_t begin = 0; begin < text.size();) {
    size_t end = text.find(',', begin);
    if (end == std::string::npos) end = text.size();
    const std::string item = text.substr(begin, end - begin);
    int first = 0, last = 0;
    if (std::sscanf(item.c_str(), "%d-%d", &first, &last) != 2) {
      if (std::sscanf(item.c_str(), "%d", &first) != 1) return {};
      last = first;
    }
    for (int cpu = std::max(first, 0); cpu <= last && cpu < CPU_SETSIZE; ++cpu) cpus.push_back(cpu);
    begin = end + 1;
  }
  return cpus;
}

struct Core {
  bool enabled = false;           // in the process's affinity
  std::vector<int> hyperthreads;  // the other hardware threads of this core
  std::vector<int> cache_group;   // the cores sharing its last-level cache, itself included
  int hosts = 0, workers = 0;     // pinned host threads and workers placed here
  bool idle() const { return hosts == 0 && workers == 0; }
};

/// The machine's cores and what is placed on them, process-wide.
class Placement {
 public:
  static Placement& get() {
    static Placement placement;
    return placement;
  }

  std::mutex mutex;
  std::vector<Core> cores;
  cpu_set_t process_affinity{};  // the main thread's, when first asked

  bool enabled(int cpu) const { return cpu >= 0 && cpu < static_cast<int>(cores.size()) && cores[cpu].enabled; }

  /// An idle hyperthread of `host`, else an idle core sharing its cache, else the least loaded other core,
  /// else `host` itself.
  int pick_worker_core(int host) const {
    for (int cpu : cores[host].hyperthreads)
      if (enabled(cpu) && cores[cpu].idle()) return cpu;
    for (int cpu : cores[host].cache_group)
      if (cpu != host && enabled(cpu) && cores[cpu].idle()) return cpu;
    int best = -1;
    const auto cost = [&](int cpu) { return std::tuple(!cores[cpu].idle(), cores[cpu].workers, cores[cpu].hosts); };
    for (int cpu = 0; cpu < static_cast<int>(cores.size()); ++cpu)
      if (cpu != host && enabled(cpu) && (best < 0 || cost(cpu) < cost(best))) best = cpu;
    return best >= 0 ? best : host;
  }

 private:
  Placement() {
    CPU_ZERO(&process_affinity);
    if (sched_getaffinity(getpid(), sizeof(process_affinity), &process_affinity) != 0) return;
    int count = 0;
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu)
      if (CPU_ISSET(cpu, &process_affinity)) count = cpu + 1;
    cores.resize(count);
    std::vector<int> all;
    for (int cpu = 0; cpu < count; ++cpu)
      if (CPU_ISSET(cpu, &process_affinity)) {
        cores[cpu].enabled = true;
        all.push_back(cpu);
      }
    for (int cpu : all) {
      const std::string base = fmt::format("/sys/devices/system/cpu/cpu{}/", cpu);
      for (int sibling : read_cpu_list(base + "topology/thread_siblings_list"))
        if (sibling != cpu) cores[cpu].hyperthreads.push_back(sibling);
      cores[cpu].cache_group = read_cpu_list(base + "cache/index3/shared_cpu_list");
      if (cores[cpu].cache_group.empty()) cores[cpu].cache_group = all;  // no L3 reported: one group
    }
  }
};

bool set_affinity(pid_t tid, const cpu_set_t& set) { return sched_setaffinity(tid, sizeof(set), &set) == 0; }

cpu_set_t one_cpu(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return set;
}

/// The calling thread's pin, created on first use; marks the pin when the thread exits, so that a later
/// release does not touch a thread id the kernel may have handed to another thread.
struct ThreadPinHolder {
  std::shared_ptr<ThreadPin> pin;
  ~ThreadPinHolder() {
    if (!pin) return;
    std::lock_guard lock(Placement::get().mutex);
    pin->tid = 0;
  }
};
thread_local ThreadPinHolder t_pin;

}  // namespace

CorePin CorePin::place(CorePinning mode, int worker_pid) {
  CorePin result;
  if (mode == CorePinning::Disabled) return result;
  Placement& placement = Placement::get();
  std::lock_guard lock(placement.mutex);
  if (placement.cores.empty()) return result;  // the affinity could not be read: nothing to place
  if (!t_pin.pin) {
    auto pin = std::make_shared<ThreadPin>();
    pin->tid = static_cast<pid_t>(syscall(SYS_gettid));
    if (sched_getaffinity(0, sizeof(pin->original), &pin->original) != 0) return result;
    t_pin.pin = std::move(pin);
  }
  ThreadPin& thread = *t_pin.pin;
  int host = thread.pinned ? thread.core : sched_getcpu();
  if (!placement.enabled(host)) {
    host = 0;
    while (!placement.enabled(host)) ++host;
  }
  if (!thread.pinned) {
    cpu_set_t set = one_cpu(host);
    if (mode == CorePinning::PinToCcx)
      for (int cpu : placement.cores[host].cache_group) CPU_SET(cpu, &set);
    if (set_affinity(0, set)) {
      thread.pinned = true;
      thread.core = host;
    }
  }
  const int worker = placement.pick_worker_core(host);
  set_affinity(worker_pid, one_cpu(worker));  // refused: the worker runs where the kernel puts it
  ++thread.instances;
  ++placement.cores[host].hosts;
  ++placement.cores[worker].workers;
  result.thread_ = t_pin.pin;
  result.worker_pid_ = worker_pid;
  result.host_core_ = host;
  result.worker_core_ = worker;
  return result;
}

CorePin::CorePin(CorePin&& other) noexcept
    : thread_(std::move(other.thread_)), worker_pid_(other.worker_pid_), host_core_(other.host_core_),
      worker_core_(other.worker_core_) {}

CorePin& CorePin::operator=(CorePin&& other) noexcept {
  if (this != &other) {
    release();
    thread_ = std::move(other.thread_);
    worker_pid_ = other.worker_pid_;
    host_core_ = other.host_core_;
    worker_core_ = other.worker_core_;
  }
  return *this;
}

CorePin::~CorePin() { release(); }

void CorePin::release() {
  if (!thread_) return;
  Placement& placement = Placement::get();
  std::lock_guard lock(placement.mutex);
  --placement.cores[host_core_].hosts;
  --placement.cores[worker_core_].workers;
  // The worker may serve an engine that does not pin next.
  set_affinity(worker_pid_, placement.process_affinity);
  if (--thread_->instances == 0 && thread_->pinned) {
    if (thread_->tid != 0) set_affinity(thread_->tid, thread_->original);
    thread_->pinned = false;
  }
  thread_.reset();
}

std::optional<std::string> core_pinning_unsupported_reason() {
  static const std::optional<std::string> reason = []() -> std::optional<std::string> {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) != 0 || !set_affinity(0, set))
      return fmt::format("the kernel refuses to set a thread's CPU affinity ({})", std::strerror(errno));
    if (Placement::get().cores.empty()) return std::string("the process's CPU affinity cannot be read");
    return std::nullopt;
  }();
  return reason;
}

}  // namespace polkavm::detail::linux_sandbox
