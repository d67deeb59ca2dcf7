// The Linux sandbox: which sandbox an engine chooses and when it refuses, the worker's isolation from the
// inside (hostile payloads run by a test build of the worker, as an attacker who took over the generated
// code would), and the instance and host carrying on afterwards.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "runtime/backend.hpp"
#include "sandbox/linux/linux_sandbox.hpp"
#include "sandbox/linux/worker/test_hooks.hpp"
#include "sandbox/sandbox.hpp"
#include "test_util.hpp"

// The test build of the worker (tests/CMakeLists.txt), with the hostile payloads; the library's own has none.
extern "C" const uint8_t polkavm_test_worker_image[];
extern "C" const uint8_t polkavm_test_worker_image_end[];

namespace polkavm::test {
namespace {

// Before any test starts a worker: every worker of this test binary is the test build.
const bool kTestWorkerInstalled = [] {
  detail::linux_sandbox::set_worker_image_for_testing(
      std::span<const uint8_t>(polkavm_test_worker_image, polkavm_test_worker_image_end));
  return true;
}();

using detail::linux_sandbox::worker::TestHook;

std::optional<Engine> linux_engine(Config config = {}) {
  config.backend = BackendKind::Compiler;
  config.sandbox = SandboxKind::Linux;
  Result<Engine> engine = Engine::create(config);
  if (!engine) return std::nullopt;
  return std::move(engine).value();
}

/// `a0 = a0 + 1; ret`, with a page of stack.
Module increment_module(const Engine& engine) {
  CodeBuilder b(InstructionSet::Latest64);
  emit_add_imm_32(b, Reg::A0, Reg::A0, 1);
  emit_ret(b);
  DataLayout data;
  data.stack_size = 4096;
  return unwrap(Module::from_blob(engine, ModuleConfig{}, make_blob(InstructionSet::Latest64, b.finish().code, data)));
}

/// Runs the increment program from the start with a0 = `value`; the interrupt and a0.
std::pair<Result<Interrupt>, uint64_t> call_increment(RawInstance& instance, uint64_t value) {
  const uint64_t args[] = {value};
  unwrap(instance.prepare_call(0, args));
  Result<Interrupt> interrupt = instance.run();
  return {interrupt, instance.reg(Reg::A0)};
}

std::string read_file(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

TEST(SandboxSelection, GenericNeedsAllowExperimental) {
  Config config;
  config.backend = BackendKind::Compiler;
  config.sandbox = SandboxKind::Generic;
  Result<Engine> refused = Engine::create(config);
  if (!compiler_available()) GTEST_SKIP() << "the compiler does not run on this host";
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message().find("allow_experimental"), std::string::npos) << refused.error().message();
  config.allow_experimental = true;
  Engine engine = unwrap(Engine::create(config));
  EXPECT_EQ(engine.sandbox(), SandboxKind::Generic);
}

TEST(SandboxSelection, DisablingSandboxingNeedsAllowExperimental) {
  Config config;
  config.sandboxing_enabled = false;
  EXPECT_FALSE(Engine::create(config).ok());
  config.allow_experimental = true;
  EXPECT_TRUE(Engine::create(config).ok());
}

TEST(SandboxSelection, TheDefaultRunsCompiledCodeInTheLinuxSandbox) {
  if (!compiler_available()) GTEST_SKIP() << "the compiler does not run on this host";
  std::optional<std::string> problem = detail::linux_sandbox::unsupported_reason();
  Engine engine = unwrap(Engine::create(Config{}));
  if (problem) {
    // No Linux sandbox and no allow_experimental: the interpreter, which needs no sandbox.
    EXPECT_EQ(engine.backend(), BackendKind::Interpreter) << *problem;
    Config config;
    config.sandbox = SandboxKind::Linux;
    Result<Engine> refused = Engine::create(config);
    ASSERT_FALSE(refused.ok());
    EXPECT_NE(refused.error().message().find("Linux sandbox"), std::string::npos);
    return;
  }
  EXPECT_EQ(engine.backend(), BackendKind::Compiler);
  EXPECT_EQ(engine.sandbox(), SandboxKind::Linux);
}

TEST(SandboxSelection, SandboxNamesRoundTrip) {
  for (SandboxKind kind : kSandboxKinds) EXPECT_EQ(sandbox_from_name(sandbox_name(kind)), kind);
  EXPECT_EQ(sandbox_from_name("docker"), std::nullopt);
}

// ---- hostile payloads --------------------------------------------------------------------------

class HostileWorker : public ::testing::TestWithParam<TestHook> {};

TEST_P(HostileWorker, IsKilledAndTheHostCarriesOn) {
  std::optional<Engine> engine = linux_engine();
  if (!engine) GTEST_SKIP() << "the Linux sandbox does not run on this host";
  Module module = increment_module(*engine);
  RawInstance victim = unwrap(module.instantiate());
  auto [before, a0] = call_increment(victim, 41);
  ASSERT_TRUE(before.ok()) << before.error().message();
  ASSERT_EQ(a0, 42u);

  detail::Sandbox* sandbox = detail::backend_of(victim)->sandbox();
  ASSERT_NE(sandbox, nullptr);
  const int pid = detail::linux_sandbox::worker_pid(*sandbox);
  ASSERT_GT(pid, 0);
  // The worker runs the payload as if the generated code had been taken over.
  Result<void> attack = detail::linux_sandbox::run_test_hook(*sandbox, static_cast<uint64_t>(GetParam()));
  ASSERT_FALSE(attack.ok()) << "the payload survived: the worker returned from it";
  const std::string& why = attack.error().message();
  if (GetParam() == TestHook::I386Syscall && why.find("status 139") != std::string::npos) {
    // Kernels without IA-32 emulation fault on int 0x80 before any filter sees it: the worker's fault
    // handler ends it (128 + SIGSEGV).
  } else {
    EXPECT_NE(why.find("SIGSYS"), std::string::npos) << "expected the seccomp filter to kill the worker: " << why;
  }

  // The instance is finished, as an Error, not a crash; its process is gone.
  auto [after, unused] = call_increment(victim, 1);
  EXPECT_FALSE(after.ok());
  EXPECT_NE(kill(pid, 0), 0) << "the killed worker still exists";

  // Everything else carries on: a new instance of the same module, and the instances of another engine.
  RawInstance next = unwrap(module.instantiate());
  auto [fine, value] = call_increment(next, 7);
  ASSERT_TRUE(fine.ok()) << fine.error().message();
  EXPECT_EQ(*fine, Interrupt::finished());
  EXPECT_EQ(value, 8u);
}

INSTANTIATE_TEST_SUITE_P(
    LinuxSandbox, HostileWorker,
    ::testing::Values(TestHook::OpenHostFile, TestHook::Connect, TestHook::Fork, TestHook::Exec, TestHook::Ptrace,
                      TestHook::KillOthers, TestHook::WriteFds, TestHook::MapRwx, TestHook::OpenProcMem,
                      TestHook::Setuid, TestHook::StackExec, TestHook::MapCodeWritable, TestHook::MapMemoryExec,
                      TestHook::X32Syscall, TestHook::I386Syscall, TestHook::MapAnonymous, TestHook::FutexRequeue),
    [](const ::testing::TestParamInfo<TestHook>& info) -> std::string {
      switch (info.param) {
        case TestHook::OpenHostFile: return "OpenEtcPasswd";
        case TestHook::Connect: return "ConnectToLocalhost";
        case TestHook::Fork: return "Fork";
        case TestHook::Exec: return "ExecShell";
        case TestHook::Ptrace: return "Ptrace";
        case TestHook::KillOthers: return "KillOtherProcesses";
        case TestHook::WriteFds: return "WriteToHostDescriptors";
        case TestHook::MapRwx: return "MapWritableExecutable";
        case TestHook::OpenProcMem: return "OpenProcMem";
        case TestHook::Setuid: return "Setuid";
        case TestHook::StackExec: return "MakeStackExecutable";
        case TestHook::MapCodeWritable: return "MapCodeWritable";
        case TestHook::MapMemoryExec: return "MapGuestMemoryExecutable";
        case TestHook::X32Syscall: return "X32SystemCall";
        case TestHook::I386Syscall: return "I386SystemCall";
        case TestHook::MapAnonymous: return "MapAnonymousMemory";
        case TestHook::FutexRequeue: return "FutexRequeue";
      }
      return "Hook" + std::to_string(static_cast<int>(info.param));
    });

TEST(LinuxSandbox, WorkersAreReusedAfterTheirInstanceEnds) {
  Config config;
  config.worker_count = 1;
  std::optional<Engine> engine = linux_engine(config);
  if (!engine) GTEST_SKIP() << "the Linux sandbox does not run on this host";
  Module module = increment_module(*engine);
  int first_pid = -1;
  {
    RawInstance instance = unwrap(module.instantiate());
    ASSERT_EQ(call_increment(instance, 1).second, 2u);
    // Leave something behind in guest memory: the next instance must not see it.
    const uint32_t stack = module.memory_map().stack_address_high - 8;
    const uint8_t secret[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    unwrap(instance.write_memory(stack, secret));
    first_pid = detail::linux_sandbox::worker_pid(*detail::backend_of(instance)->sandbox());
  }
  RawInstance instance = unwrap(module.instantiate());
  EXPECT_EQ(detail::linux_sandbox::worker_pid(*detail::backend_of(instance)->sandbox()), first_pid);
  std::vector<uint8_t> stack = unwrap(instance.read_memory(module.memory_map().stack_address_high - 8, 8));
  EXPECT_EQ(stack, std::vector<uint8_t>(8, 0)) << "the previous instance's memory leaked into the next";
  EXPECT_EQ(call_increment(instance, 9).second, 10u);
}

TEST(LinuxSandbox, TheWorkerHasItsOwnNamespacesAndNoCapabilities) {
  std::optional<Engine> engine = linux_engine();
  if (!engine) GTEST_SKIP() << "the Linux sandbox does not run on this host";
  Module module = increment_module(*engine);
  RawInstance instance = unwrap(module.instantiate());
  const int pid = detail::linux_sandbox::worker_pid(*detail::backend_of(instance)->sandbox());
  ASSERT_GT(pid, 0);
  const std::string status = read_file(fmt::format("/proc/{}/status", pid));
  EXPECT_NE(status.find("Seccomp:\t2"), std::string::npos) << status;
  EXPECT_NE(status.find("CapEff:\t0000000000000000"), std::string::npos) << status;
  EXPECT_NE(status.find("CapBnd:\t0000000000000000"), std::string::npos) << status;
  EXPECT_NE(status.find("NoNewPrivs:\t1"), std::string::npos) << status;
  for (const char* ns : {"user", "pid", "net", "mnt", "ipc", "uts", "cgroup"}) {
    std::error_code e1, e2;
    auto mine = std::filesystem::read_symlink(fmt::format("/proc/self/ns/{}", ns), e1);
    auto its = std::filesystem::read_symlink(fmt::format("/proc/{}/ns/{}", pid, ns), e2);
    ASSERT_FALSE(e1 || e2) << ns;
    EXPECT_NE(mine, its) << "the worker shares the host's " << ns << " namespace";
  }
}

// Dynamic paging in the worker goes through its userfaultfd: a page is there for the guest when the host
// has mapped it, and mapping pages changes no protection in the worker. Every other page is mapped, as
// many as an instance may have (GuestMemory::kMaxPermissionChanges: two changes each), and the worker's
// mappings stay fewer than the pages.
TEST(LinuxSandbox, DynamicPagingUsesTheWorkersUserfaultfd) {
  Config config;
  config.allow_dynamic_paging = true;
  std::optional<Engine> engine = linux_engine(config);
  if (!engine) GTEST_SKIP() << "the Linux sandbox does not run on this host";
  CodeBuilder b(InstructionSet::Latest64);
  b.emit(insn(Opcode::load_indirect_u32, {Reg::A0, Reg::A1}, {0}));   // a0 = u32 [a1]
  b.emit(insn(Opcode::store_indirect_u32, {Reg::A2, Reg::A1}, {0}));  // u32 [a1] = a2
  emit_ret(b);
  ModuleConfig module_config;
  module_config.dynamic_paging = true;
  Module module = unwrap(
      Module::from_blob(*engine, module_config, make_blob(InstructionSet::Latest64, b.finish().code, DataLayout{})));
  RawInstance instance = unwrap(module.instantiate());
  if (!detail::linux_sandbox::pages_on_demand(*detail::backend_of(instance)->sandbox()))
    GTEST_SKIP() << "this kernel gives the worker no userfaultfd (Linux < 5.11)";

  auto access = [&](uint32_t address, uint32_t value) {
    instance.set_reg(Reg::A1, address);
    instance.set_reg(Reg::A2, value);
    return call(instance, 0);
  };
  constexpr uint32_t kPage = 4096, kBase = 0x100000;
  const uint32_t pages = static_cast<uint32_t>(detail::GuestMemory::kMaxPermissionChanges / 2);  // every other page
  for (uint32_t i = 0; i < pages; ++i)
    ASSERT_TRUE(instance.zero_memory_with_memory_protection(kBase + 2 * i * kPage, kPage, MemoryProtection::ReadWrite).ok())
        << "page " << i;
  const pid_t worker = detail::linux_sandbox::worker_pid(*detail::backend_of(instance)->sandbox());
  const std::string maps = read_file(fmt::format("/proc/{}/maps", worker));
  EXPECT_LT(std::count(maps.begin(), maps.end(), '\n'), 1000) << "the worker's mappings";
  const uint32_t last = kBase + 2 * (pages - 1) * kPage;
  EXPECT_EQ(access(last + 8, 0xabcd), Interrupt::finished());
  EXPECT_EQ(unwrap(instance.read_memory(last + 8, 4)), (std::vector<uint8_t>{0xcd, 0xab, 0, 0}));
  // A page between two mapped ones is absent: the guest faults on it, and again after a free.
  EXPECT_EQ(access(last - kPage, 1), Interrupt::fault(Segfault{last - kPage, kPage, false}));
  ASSERT_TRUE(instance.free_pages(last, kPage).ok());
  EXPECT_EQ(access(last + 8, 1), Interrupt::fault(Segfault{last, kPage, false}));
  // Mapped again, it reads as zero; read-only, the guest's store faults after its load.
  ASSERT_TRUE(instance.zero_memory_with_memory_protection(last, kPage, MemoryProtection::Read).ok());
  EXPECT_EQ(access(last + 8, 1), Interrupt::fault(Segfault{last, kPage, true}));
  EXPECT_EQ(instance.reg(Reg::A0), 0u);
  ASSERT_TRUE(instance.unprotect_memory(last, kPage).ok());
  EXPECT_EQ(access(last + 8, 7), Interrupt::finished());
  EXPECT_EQ(unwrap(instance.read_memory(last + 8, 4)), (std::vector<uint8_t>{7, 0, 0, 0}));
}

}  // namespace
}  // namespace polkavm::test
