// The Linux sandbox when its worker is attacked from outside: killed (SIGKILL) or stopped (SIGSTOP) in the
// middle of a run, while the instance waits at an ecalli, or while the worker idles in the engine's pool.
// The host must turn each into an Error (never a hang or a crash), carry on with new instances, and leave
// no zombie or orphaned worker behind. Also: the worker's seccomp mode and namespaces as /proc shows them.
#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include <iostream>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>

#include "runtime/backend.hpp"
#include "sandbox/linux/linux_sandbox.hpp"
#include "sandbox/sandbox.hpp"
#include "test_util.hpp"

namespace polkavm::test {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
using ::testing::AnyOf;
using ::testing::HasSubstr;

/// How long a run may take to notice its dead or stopped worker before the test fails (the host polls every
/// 10 ms, so this is generous).
constexpr auto kDeadline = 5s;

// ---- /proc ----

/// What /proc/<pid>/status says about a process, or nothing if it does not exist.
struct ProcStatus {
  char state = '?';  // R, S, D, T, t, Z, ...
  int ppid = -1;
  std::string seccomp;  // the "Seccomp:" value, e.g. "2"
  std::string name;     // "memfd:polkavm-w..." for a worker (exec'd from a memfd)
  std::string text;
};

std::optional<ProcStatus> proc_status(int pid) {
  std::ifstream file("/proc/" + std::to_string(pid) + "/status");
  if (!file) return std::nullopt;
  ProcStatus status;
  std::string line;
  while (std::getline(file, line)) {
    status.text += line + "\n";
    auto value = [&](std::string_view key) -> std::optional<std::string> {
      if (!line.starts_with(key)) return std::nullopt;
      std::string rest = line.substr(key.size());
      rest.erase(0, rest.find_first_not_of(" \t"));
      return rest;
    };
    if (auto v = value("State:")) status.state = v->empty() ? '?' : (*v)[0];
    if (auto v = value("PPid:")) status.ppid = std::stoi(*v);
    if (auto v = value("Seccomp:")) status.seccomp = *v;
    if (auto v = value("Name:")) status.name = *v;
  }
  if (status.text.empty()) return std::nullopt;  // it went away while we read
  return status;
}

/// The process `pid` if it is a child of this process (a pid reused by someone else does not count).
std::optional<ProcStatus> our_child(int pid) {
  std::optional<ProcStatus> status = proc_status(pid);
  if (!status || status->ppid != getpid()) return std::nullopt;
  return status;
}

/// The status text of child `pid`, for messages.
std::string describe(int pid) {
  std::optional<ProcStatus> status = our_child(pid);
  return status ? status->text : "(not a child of ours)";
}

/// Every child of this process: pid -> state.
std::vector<std::pair<int, char>> our_children() {
  std::vector<std::pair<int, char>> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    const int pid = std::stoi(name);
    if (std::optional<ProcStatus> status = our_child(pid)) out.emplace_back(pid, status->state);
  }
  return out;
}

/// Polls until `done()` holds, for at most `limit`; whether it did.
template <class F>
bool wait_until(F done, Clock::duration limit = 2s) {
  const auto end = Clock::now() + limit;
  while (!done()) {
    if (Clock::now() >= end) return done();
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

std::string ns_link(const std::string& process, const char* ns) {
  std::error_code ec;
  std::filesystem::path target = std::filesystem::read_symlink("/proc/" + process + "/ns/" + ns, ec);
  return ec ? "(unreadable: " + ec.message() + ")" : target.string();
}

// ---- engines, programs, instances ----

std::optional<Engine> linux_engine(std::string& why_not, Config config = {}) {
  config.backend = BackendKind::Compiler;
  config.sandbox = SandboxKind::Linux;
  Result<Engine> engine = Engine::create(config);
  if (!engine) {
    why_not = engine.error().message();
    return std::nullopt;
  }
  return std::move(engine).value();
}

/// Declares `std::optional<Engine> var` (Linux sandbox, compiler; optionally from a Config), or skips the test.
#define LINUX_ENGINE_OR_SKIP(var, ...)                                                   \
  std::string var##_why_not;                                                             \
  std::optional<Engine> var = linux_engine(var##_why_not __VA_OPT__(, ) __VA_ARGS__);    \
  if (!var) GTEST_SKIP() << "the Linux sandbox does not run on this host: " << var##_why_not

const std::vector<uint8_t> kData = {0xDE, 0xAD, 0xBE, 0xEF, 1, 2, 3, 4};

/// One module with three entry points.
struct Programs {
  Module module;
  uint32_t increment = 0;  // a0 = a0 + 1; ret
  uint32_t ecall = 0;      // ecalli 7; a0 = a0 + 1; ret
  uint32_t loop = 0;       // jump to itself, forever (no gas metering)
};

Programs make_programs(const Engine& engine) {
  CodeBuilder b(InstructionSet::Latest64);
  auto increment = b.new_label(), ecall = b.new_label(), loop = b.new_label();
  b.bind(increment);
  emit_add_imm_32(b, Reg::A0, Reg::A0, 1);
  emit_ret(b);
  b.bind(ecall);
  b.emit(insn(Opcode::ecalli, {}, {7}));
  emit_add_imm_32(b, Reg::A0, Reg::A0, 1);
  emit_ret(b);
  b.bind(loop);
  b.emit(insn(Opcode::jump), loop);
  CodeBuilder::Output out = b.finish();
  DataLayout data;
  data.rw_data_size = 4096;
  data.rw_data = kData;
  data.stack_size = 4096;
  ModuleConfig config;
  config.gas_metering = GasMeteringKind::None;
  ProgramBlob blob = make_blob(InstructionSet::Latest64, std::move(out.code), data);
  Module module = unwrap(Module::from_blob(engine, config, std::move(blob)), "Module::from_blob");
  return Programs{module, out.label_offsets.at(increment), out.label_offsets.at(ecall), out.label_offsets.at(loop)};
}

int worker_pid_of(RawInstance& instance) {
  detail::InstanceBackend* backend = detail::backend_of(instance);
  if (!backend || !backend->sandbox()) return -1;
  return detail::linux_sandbox::worker_pid(*backend->sandbox());
}

/// run() on a thread of its own, so that a run that never returns fails the test instead of hanging it. The
/// thread holds a share of the instance: abandoned after a timeout, it never touches freed memory.
class BackgroundRun {
 public:
  explicit BackgroundRun(std::shared_ptr<RawInstance> instance) {
    std::promise<Result<Interrupt>> promise;
    result_ = promise.get_future();
    thread_ = std::thread([instance, promise = std::move(promise)]() mutable {
      promise.set_value(instance->run());
    });
  }
  BackgroundRun(const BackgroundRun&) = delete;
  BackgroundRun& operator=(const BackgroundRun&) = delete;
  ~BackgroundRun() {
    if (!thread_.joinable()) return;
    if (finished()) thread_.join();
    else thread_.detach();
  }

  bool finished() const { return result_.wait_for(0s) == std::future_status::ready; }

  /// What run() returned, or nothing if it has not returned within `limit` (the thread is then abandoned).
  std::optional<Result<Interrupt>> wait(Clock::duration limit) {
    if (result_.wait_for(limit) != std::future_status::ready) {
      thread_.detach();
      return std::nullopt;
    }
    thread_.join();
    return result_.get();
  }

 private:
  std::future<Result<Interrupt>> result_;
  std::thread thread_;
};

/// Runs `instance` on a thread with the deadline; an Error or an Interrupt, or a test failure on timeout.
std::optional<Result<Interrupt>> run_bounded(const std::shared_ptr<RawInstance>& instance) {
  BackgroundRun run(instance);
  std::optional<Result<Interrupt>> result = run.wait(kDeadline);
  if (!result) ADD_FAILURE() << "run() did not return within " << kDeadline.count() << " s";
  return result;
}

/// A fresh instance of `p` calls `increment` with 41 and finishes with 42: the engine still works.
void expect_new_instance_works(const Programs& p, const char* after) {
  SCOPED_TRACE(after);
  auto instance = std::make_shared<RawInstance>(unwrap(p.module.instantiate(), "Module::instantiate"));
  const int pid = worker_pid_of(*instance);
  EXPECT_GT(pid, 0);
  EXPECT_TRUE(our_child(pid).has_value()) << "the new instance's worker " << pid << " is not our child";
  const uint64_t args[] = {41};
  unwrap(instance->prepare_call(p.increment, args), "prepare_call");
  std::optional<Result<Interrupt>> result = run_bounded(instance);
  ASSERT_TRUE(result.has_value());
  ASSERT_TRUE(result->ok()) << result->error().message();
  EXPECT_EQ(result->value(), Interrupt::finished());
  EXPECT_EQ(instance->reg(Reg::A0), 42u);
  // And once more on the same instance (the worker is reusable within an instance too).
  unwrap(instance->prepare_call(p.increment, args), "prepare_call");
  result = run_bounded(instance);
  ASSERT_TRUE(result.has_value());
  ASSERT_TRUE(result->ok()) << result->error().message();
  EXPECT_EQ(instance->reg(Reg::A0), 42u);
}

/// The worker of a running endless loop gets `sig`; run() must return an Error in bounded time. Returns the
/// worker's pid (or -1 after a fatal failure).
int signal_during_run(const Programs& p, int sig) {
  auto instance = std::make_shared<RawInstance>(unwrap(p.module.instantiate(), "Module::instantiate"));
  const int pid = worker_pid_of(*instance);
  EXPECT_GT(pid, 0) << "not a Linux sandbox instance";
  if (pid <= 0) return -1;
  unwrap(instance->prepare_call(p.loop), "prepare_call");

  BackgroundRun run(instance);
  std::this_thread::sleep_for(50ms);
  // The loop is really running in the worker: run() has not returned, and the worker is on a CPU (or
  // runnable) rather than asleep waiting for a request.
  EXPECT_FALSE(run.finished()) << "the endless loop returned";
  const bool running = wait_until([&] {
    std::optional<ProcStatus> status = our_child(pid);
    return status && status->state == 'R';
  });
  EXPECT_TRUE(running) << "the worker never ran the loop: " << describe(pid);

  const auto signalled = Clock::now();
  EXPECT_EQ(kill(pid, sig), 0) << "kill(" << pid << ", " << sig << ")";
  std::optional<Result<Interrupt>> result = run.wait(kDeadline);
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - signalled);
  EXPECT_TRUE(result.has_value()) << "run() did not return within " << kDeadline.count() << " s of signal " << sig
                                  << "; the worker is " << describe(pid);
  if (!result) {
    kill(pid, SIGKILL);  // let the abandoned thread go, if the host is waiting on a stopped worker after all
    return -1;
  }
  EXPECT_FALSE(result->ok()) << "run() returned " << to_string(result->value()) << " after signal " << sig;
  if (!result->ok()) {
    const std::string& message = result->error().message();
    std::cout << "[          ] signal " << sig << ": run() returned after " << took.count() << " ms: " << message
              << "\n";
    if (sig == SIGSTOP) {
      EXPECT_THAT(message, HasSubstr("stopped"));
    }
    if (sig == SIGKILL) {
      EXPECT_THAT(message, AnyOf(HasSubstr("signal 9"), HasSubstr("KILL")));
    }
  }
  // The host reaped the worker (killing it first if it was stopped) before it returned the error.
  EXPECT_FALSE(our_child(pid).has_value()) << "the worker is still our child: " << describe(pid);
  // The instance stays broken: another run is an Error too.
  std::optional<Result<Interrupt>> again = run_bounded(instance);
  if (again) {
    EXPECT_FALSE(again->ok()) << "a run after the worker died returned " << to_string(again->value());
  }
  return pid;
}

/// Stops at an ecalli, kills the worker, then checks that run() is an Error and every other method stays safe.
int kill_at_ecalli(const Programs& p) {
  auto instance = std::make_shared<RawInstance>(unwrap(p.module.instantiate(), "Module::instantiate"));
  RawInstance& in = *instance;
  const int pid = worker_pid_of(in);
  EXPECT_GT(pid, 0) << "not a Linux sandbox instance";
  if (pid <= 0) return -1;
  const uint32_t data_address = p.module.memory_map().rw_data_address;

  const uint64_t args[] = {5};
  unwrap(in.prepare_call(p.ecall, args), "prepare_call");
  std::optional<Result<Interrupt>> first = run_bounded(instance);
  EXPECT_TRUE(first && first->ok() && first->value() == Interrupt::ecalli(7))
      << (first ? (first->ok() ? to_string(first->value()) : first->error().message()) : "timeout");
  const std::optional<uint32_t> pc_at_ecalli = in.program_counter();
  EXPECT_EQ(pc_at_ecalli, p.ecall);

  EXPECT_EQ(kill(pid, SIGKILL), 0);
  // Dead before we go on (a zombie: nobody has reaped it yet), so the next run meets a dead worker.
  EXPECT_TRUE(wait_until([&] {
    std::optional<ProcStatus> status = our_child(pid);
    return !status || status->state == 'Z';
  })) << "the worker did not die";

  in.set_reg(Reg::A1, 99);
  std::optional<Result<Interrupt>> second = run_bounded(instance);
  EXPECT_TRUE(second.has_value());
  if (!second) return -1;
  EXPECT_FALSE(second->ok()) << "run() with a dead worker returned " << to_string(second->value());
  if (!second->ok()) {
    EXPECT_THAT(second->error().message(), AnyOf(HasSubstr("signal 9"), HasSubstr("KILL")));
  }
  EXPECT_FALSE(our_child(pid).has_value()) << "the dead worker was not reaped: " << describe(pid);

  // Everything else is safe: the host-side state answers, memory access gives data or an Error.
  EXPECT_EQ(in.reg(Reg::A0), 5u);
  EXPECT_EQ(in.reg(Reg::A1), 99u);
  in.set_reg(Reg::A2, 0x1234);
  EXPECT_EQ(in.reg(Reg::A2), 0x1234u);
  in.clear_regs();
  EXPECT_EQ(in.reg(Reg::A0), 0u);
  in.set_gas(1000);
  EXPECT_EQ(in.gas(), 1000);
  (void)in.program_counter();
  (void)in.next_program_counter();
  (void)in.heap_size();
  (void)in.step_tracing();
  if (Result<std::vector<uint8_t>> data = in.read_memory(data_address, static_cast<uint32_t>(kData.size())); data) {
    EXPECT_EQ(*data, kData) << "read_memory returned wrong data";
  }
  std::vector<uint8_t> buffer(16);
  (void)in.read_memory_into(data_address, buffer);
  const uint8_t bytes_to_write[] = {1, 2, 3};
  if (in.write_memory(data_address, bytes_to_write)) {
    Result<std::vector<uint8_t>> back = in.read_memory(data_address, 3);
    if (back) {
      EXPECT_EQ(*back, std::vector<uint8_t>({1, 2, 3}));
    }
  }
  (void)in.zero_memory(data_address, 16);
  (void)in.is_memory_accessible(data_address, 16, MemoryProtection::Read);
  (void)in.sbrk(4096);
  (void)in.reset_memory();
  in.set_step_tracing(true);
  in.set_step_tracing(false);
  (void)in.prepare_call(p.increment);  // may succeed or refuse; must not crash
  std::optional<Result<Interrupt>> third = run_bounded(instance);
  if (third) {
    EXPECT_FALSE(third->ok()) << "a broken instance ran: " << to_string(third->value());
  }
  return pid;
}

/// A worker idle in the pool is killed; the next instance must not get it. Returns the killed pid.
int kill_idle_worker(const Programs& p) {
  int pid = -1;
  {
    RawInstance instance = unwrap(p.module.instantiate(), "Module::instantiate");
    pid = worker_pid_of(instance);
  }
  EXPECT_GT(pid, 0) << "not a Linux sandbox instance";
  if (pid <= 0) return -1;
  // The instance is gone and its worker waits in the pool: alive, and still ours.
  std::optional<ProcStatus> idle = our_child(pid);
  EXPECT_TRUE(idle.has_value()) << "the worker did not go back to the pool";
  if (idle) {
    EXPECT_NE(idle->state, 'Z') << "the pooled worker is dead already";
  }

  EXPECT_EQ(kill(pid, SIGKILL), 0);
  EXPECT_TRUE(wait_until([&] {
    std::optional<ProcStatus> status = our_child(pid);
    return !status || status->state == 'Z';
  })) << "the pooled worker did not die";

  // The next instance takes a live worker (the dead one is discarded and reaped) and runs.
  {
    auto instance = std::make_shared<RawInstance>(unwrap(p.module.instantiate(), "Module::instantiate"));
    const int fresh = worker_pid_of(*instance);
    EXPECT_NE(fresh, pid) << "the new instance got the dead worker";
    const uint64_t args[] = {41};
    unwrap(instance->prepare_call(p.increment, args), "prepare_call");
    std::optional<Result<Interrupt>> result = run_bounded(instance);
    EXPECT_TRUE(result && result->ok() && result->value() == Interrupt::finished())
        << (result ? (result->ok() ? to_string(result->value()) : result->error().message()) : "timeout");
    EXPECT_EQ(instance->reg(Reg::A0), 42u);
  }
  EXPECT_FALSE(our_child(pid).has_value()) << "the dead pooled worker was not reaped: " << describe(pid);
  return pid;
}

/// No child of ours is a zombie.
void expect_no_zombie_children() {
  for (const auto& [pid, state] : our_children())
    EXPECT_NE(state, 'Z') << "process " << pid << " is a zombie child of ours";
}

// ---- the tests ----

TEST(LinuxSandboxFaults, WorkerKilledDuringARunIsAnErrorAndTheNextInstanceWorks) {
  LINUX_ENGINE_OR_SKIP(engine);
  Programs p = make_programs(*engine);
  const int pid = signal_during_run(p, SIGKILL);
  if (HasFailure()) return;
  expect_new_instance_works(p, "after SIGKILL during a run");
  EXPECT_FALSE(our_child(pid).has_value());
  expect_no_zombie_children();
}

TEST(LinuxSandboxFaults, WorkerKilledAtAnEcalliIsAnErrorAndTheInstanceStaysSafe) {
  LINUX_ENGINE_OR_SKIP(engine);
  Programs p = make_programs(*engine);
  kill_at_ecalli(p);
  if (HasFailure()) return;
  expect_new_instance_works(p, "after SIGKILL at an ecalli");
  expect_no_zombie_children();
}

TEST(LinuxSandboxFaults, WorkerKilledWhileIdleInThePoolIsDiscarded) {
  LINUX_ENGINE_OR_SKIP(engine);
  Programs p = make_programs(*engine);
  kill_idle_worker(p);
  if (HasFailure()) return;
  expect_new_instance_works(p, "after SIGKILL of a pooled worker");
  expect_no_zombie_children();
}

TEST(LinuxSandboxFaults, WorkerStoppedDuringARunIsKilledAndAnError) {
  LINUX_ENGINE_OR_SKIP(engine);
  Programs p = make_programs(*engine);
  const int pid = signal_during_run(p, SIGSTOP);
  if (HasFailure()) return;
  expect_new_instance_works(p, "after SIGSTOP during a run");
  EXPECT_FALSE(our_child(pid).has_value());
  expect_no_zombie_children();
}

TEST(LinuxSandboxFaults, NoZombieOrOrphanWorkersAfterFaults) {
  std::vector<int> attacked;
  {
    LINUX_ENGINE_OR_SKIP(engine);
    Programs p = make_programs(*engine);
    attacked.push_back(signal_during_run(p, SIGKILL));
    attacked.push_back(kill_at_ecalli(p));
    attacked.push_back(kill_idle_worker(p));
    attacked.push_back(signal_during_run(p, SIGSTOP));
    ASSERT_FALSE(HasFailure()) << "a fault scenario failed (see above)";
    // A few healthy instances at once, so that the pool holds workers when the engine goes.
    std::vector<RawInstance> live;
    for (int i = 0; i < 3; ++i) live.push_back(unwrap(p.module.instantiate(), "Module::instantiate"));
    for (const auto& [pid, state] : our_children()) EXPECT_NE(state, 'Z') << "zombie child " << pid << " while running";
  }
  // The engine and its instances are gone. No child is a zombie, and no attacked worker is still ours.
  expect_no_zombie_children();
  for (int pid : attacked) {
    ASSERT_GT(pid, 0);
    EXPECT_FALSE(our_child(pid).has_value()) << "attacked worker " << pid << " is still our child: " << describe(pid);
  }
  // Workers may outlive their engine, parked for the next one; they must be healthy and idle (asleep,
  // waiting for work), and really handed out again: a new engine of the same kind (sandboxed or not) takes
  // every one of them, given as many instances as there are such workers.
  std::vector<int> parked[2];  // [0] unsandboxed, [1] sandboxed
  for (const auto& [pid, state] : our_children()) {
    std::optional<ProcStatus> status = our_child(pid);
    if (!status || !status->name.starts_with("memfd:polkavm")) continue;  // not a worker
    EXPECT_EQ(state, 'S') << "worker " << pid << " left behind is not idle: " << status->text;
    parked[status->seccomp == "2" ? 1 : 0].push_back(pid);
  }
  for (int sandboxed = 0; sandboxed < 2; ++sandboxed) {
    if (parked[sandboxed].empty()) continue;
    Config config;
    config.sandboxing_enabled = sandboxed == 1;
    config.allow_experimental = sandboxed == 0;
    LINUX_ENGINE_OR_SKIP(next, config);
    Programs p = make_programs(*next);
    std::vector<RawInstance> instances;
    std::set<int> taken;
    for (size_t i = 0; i < parked[sandboxed].size(); ++i) {
      instances.push_back(unwrap(p.module.instantiate(), "Module::instantiate"));
      taken.insert(worker_pid_of(instances.back()));
    }
    for (int pid : parked[sandboxed])
      EXPECT_TRUE(taken.contains(pid)) << (sandboxed ? "sandboxed" : "unsandboxed") << " worker " << pid
                                       << " was left behind and never handed out again (orphaned)";
  }
}

// Like WorkerKilledWhileIdleInThePoolIsDiscarded, for a worker parked after its engine ended (if the library
// keeps such workers): a later engine must not hand it out, and must reap it.
TEST(LinuxSandboxFaults, ParkedWorkerOfAnEndedEngineKilledIsDiscarded) {
  int pid = -1;
  {
    LINUX_ENGINE_OR_SKIP(engine);
    Programs p = make_programs(*engine);
    RawInstance instance = unwrap(p.module.instantiate(), "Module::instantiate");
    pid = worker_pid_of(instance);
  }
  ASSERT_GT(pid, 0);
  std::optional<ProcStatus> parked = our_child(pid);
  std::cout << "[          ] worker " << pid << (parked ? " parked after its engine ended: killing it\n"
                                                      : " ended with its engine (not parked)\n");
  if (parked) {
    EXPECT_NE(parked->state, 'Z');
    EXPECT_EQ(kill(pid, SIGKILL), 0);
    EXPECT_TRUE(wait_until([&] {
      std::optional<ProcStatus> status = our_child(pid);
      return !status || status->state == 'Z';
    })) << "the parked worker did not die";
  }
  LINUX_ENGINE_OR_SKIP(engine);
  Programs p = make_programs(*engine);
  auto instance = std::make_shared<RawInstance>(unwrap(p.module.instantiate(), "Module::instantiate"));
  EXPECT_NE(worker_pid_of(*instance), pid) << "a new engine got the dead worker";
  const uint64_t args[] = {41};
  unwrap(instance->prepare_call(p.increment, args), "prepare_call");
  std::optional<Result<Interrupt>> result = run_bounded(instance);
  ASSERT_TRUE(result.has_value());
  ASSERT_TRUE(result->ok()) << result->error().message();
  EXPECT_EQ(instance->reg(Reg::A0), 42u);
  EXPECT_FALSE(our_child(pid).has_value()) << "the dead parked worker was not reaped: " << describe(pid);
  expect_no_zombie_children();
}

TEST(LinuxSandboxFaults, WorkerIsSeccompFilteredInItsOwnNamespaces) {
  LINUX_ENGINE_OR_SKIP(engine);
  Programs p = make_programs(*engine);
  RawInstance instance = unwrap(p.module.instantiate(), "Module::instantiate");
  const int pid = worker_pid_of(instance);
  ASSERT_GT(pid, 0);
  std::optional<ProcStatus> status = our_child(pid);
  ASSERT_TRUE(status.has_value()) << "the worker " << pid << " is not our child";
  EXPECT_THAT(status->text, HasSubstr("Seccomp:\t2")) << status->text;
  for (const char* ns : {"user", "pid", "net", "mnt"}) {
    const std::string mine = ns_link("self", ns), its = ns_link(std::to_string(pid), ns);
    EXPECT_THAT(its, ::testing::StartsWith(std::string(ns) + ":[")) << its;
    EXPECT_NE(mine, its) << "the worker shares the host's " << ns << " namespace";
  }
}

TEST(LinuxSandboxFaults, WorkerWithoutSandboxingHasNoSeccompFilter) {
  Config config;
  config.sandboxing_enabled = false;
  config.allow_experimental = true;
  LINUX_ENGINE_OR_SKIP(engine, config);
  Programs p = make_programs(*engine);
  RawInstance instance = unwrap(p.module.instantiate(), "Module::instantiate");
  const int pid = worker_pid_of(instance);
  ASSERT_GT(pid, 0);
  std::optional<ProcStatus> status = our_child(pid);
  ASSERT_TRUE(status.has_value()) << "the worker " << pid << " is not our child";
  EXPECT_THAT(status->text, HasSubstr("Seccomp:\t0")) << status->text;
  for (const char* ns : {"user", "pid", "net", "mnt"})
    EXPECT_EQ(ns_link("self", ns), ns_link(std::to_string(pid), ns)) << "an unsandboxed worker in its own " << ns;
  // It still runs programs.
  auto shared = std::make_shared<RawInstance>(std::move(instance));
  const uint64_t args[] = {1};
  unwrap(shared->prepare_call(p.increment, args), "prepare_call");
  std::optional<Result<Interrupt>> result = run_bounded(shared);
  ASSERT_TRUE(result && result->ok()) << (result ? result->error().message() : "timeout");
  EXPECT_EQ(shared->reg(Reg::A0), 2u);
}

}  // namespace
}  // namespace polkavm::test
