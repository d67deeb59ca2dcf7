// Compiling must not amplify guest code (issue 15, finding 1). A blob of one-byte traps, the worst case the
// issue names (every byte a basic block of its own), compiles with sync gas in at most 32 bytes of peak host
// memory per byte of code. A compile that needs more memory than the host gives, or than
// Config::compile_memory_limit allows, is an Error (ErrorKind::ResourceExhausted), never an exception that
// ends the host. Each test runs in a child process: its peak memory and its address-space limit are its own.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <functional>
#include <string>

#include "test_util.hpp"

namespace polkavm::test {
namespace {

// The acceptance size: 4.7 MB of one-byte traps.
constexpr size_t kTrapBlobSize = 4'700'000;
constexpr int kSkip = 77;  // a child's exit code: this host cannot measure

/// `size` one-byte `trap`s: every byte an instruction and a basic block.
ProgramBlob trap_blob(size_t size) {
  ProgramBlob blob;
  blob.isa = InstructionSet::Latest64;
  blob.code_and_jump_table.code.assign(size, static_cast<uint8_t>(opcode_number(blob.isa, Opcode::trap)));
  blob.code_and_jump_table.bitmask.assign((size + 7) / 8, 0xFF);
  if (size % 8 != 0) blob.code_and_jump_table.bitmask.back() = static_cast<uint8_t>((1u << (size % 8)) - 1);
  return blob;
}

/// A /proc/self/status field in KiB ("VmRSS:", "VmHWM:", "VmSize:"), or -1.
long status_kib(const char* field) {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind(field, 0) == 0) return std::atol(line.c_str() + std::strlen(field));
  return -1;
}

constexpr int kEscaped = 4;  // a child's exit code: an exception left the library

/// Runs `body` in a child process and returns its wait status. The child reports through its exit code
/// (0 = as expected) and what it prints; an exception leaving the library (which would end a host that
/// does not catch it) exits with kEscaped.
int in_child(const std::function<int()>& body) {
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = fork();
  if (pid == 0) {
    int code = kEscaped;
    try {
      code = body();
    } catch (const std::exception& e) {
      std::printf("[ compile  ] an exception left the library: %s\n", e.what());
    } catch (...) {
      std::printf("[ compile  ] an exception left the library\n");
    }
    std::fflush(stdout);
    _exit(code);
  }
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid) return -1;
  return status;
}

std::string describe(int status) {
  if (status == -1) return "fork failed";
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status)) + " (" + strsignal(WTERMSIG(status)) + ")";
  return "exit code " + std::to_string(WEXITSTATUS(status));
}

/// A compiler engine for module creation only: in the generic sandbox where it runs (no workers start).
Result<Engine> compiler_engine(uint64_t compile_memory_limit = Config{}.compile_memory_limit) {
  for (SandboxKind sandbox : {SandboxKind::Generic, SandboxKind::Linux}) {
    Config config;
    apply(config, TestBackend{BackendKind::Compiler, sandbox});
    config.compile_memory_limit = compile_memory_limit;
    if (Result<Engine> engine = Engine::create(config)) return engine;
  }
  return Error("no compiler engine on this host");
}

ModuleConfig sync_gas() {
  ModuleConfig config;
  config.gas_metering = GasMeteringKind::Sync;
  return config;
}

TEST(CompileMemory, OneByteTrapsCompileInAtMost32BytesOfPeakMemoryPerByte) {
  if (!compiler_available()) GTEST_SKIP() << "the compiler does not run on this host";
  if (kAddressSanitizer) GTEST_SKIP() << "AddressSanitizer's shadow memory and quarantine are in every peak";
  const int status = in_child([] {
    Result<Engine> engine = compiler_engine();
    if (!engine) return 2;
    ProgramBlob blob = trap_blob(kTrapBlobSize);
    const long base = status_kib("VmRSS:");
    // Writing 5 resets the peak (VmHWM) to the current resident size.
    if (base < 0 || !(std::ofstream("/proc/self/clear_refs") << "5")) return kSkip;
    const auto start = std::chrono::steady_clock::now();
    Result<Module> module = Module::from_blob(*engine, sync_gas(), std::move(blob));
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const long peak = status_kib("VmHWM:");
    const double per_byte = double(peak - base) * 1024 / kTrapBlobSize;
    std::printf("[ compile  ] %zu one-byte traps, sync gas: %.2f bytes of peak memory per byte of code, %.2f s%s\n",
                kTrapBlobSize, per_byte, seconds, module ? "" : (" - " + module.error().message()).c_str());
    if (!module) return 3;
    return per_byte <= 32 ? 0 : 1;
  });
  if (WIFEXITED(status) && WEXITSTATUS(status) == kSkip) GTEST_SKIP() << "no /proc/self/clear_refs on this host";
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << describe(status) << " (1: more than 32 bytes per byte, 2: no engine, 3: no module, 4: an exception)";
}

TEST(CompileMemory, AnAddressSpaceTooSmallToCompileIsAnErrorAndTheHostLives) {
  if (!compiler_available()) GTEST_SKIP() << "the compiler does not run on this host";
  if (kAddressSanitizer) GTEST_SKIP() << "AddressSanitizer reserves terabytes of address space: RLIMIT_AS cannot apply";
  const int status = in_child([] {
    Result<Engine> engine = compiler_engine(0);  // no limit of the library's own: the kernel's refuses
    if (!engine) return 2;
    ProgramBlob blob = trap_blob(kTrapBlobSize);
    // Room for 16 MiB more than the process has: the compile needs about 50 MB.
    const long size = status_kib("VmSize:");
    if (size < 0) return kSkip;
    const rlimit limit{rlim_t(size + 16 * 1024) * 1024, rlim_t(size + 16 * 1024) * 1024};
    if (setrlimit(RLIMIT_AS, &limit) != 0) return kSkip;
    Result<Module> module = Module::from_blob(*engine, sync_gas(), std::move(blob));
    std::printf("[ compile  ] under RLIMIT_AS = VmSize + 16 MiB: %s\n",
                module ? "the module was created" : (error_kind_name(module.error().kind()) + std::string(": ") +
                                                     module.error().message()).c_str());
    if (module) return 1;
    return module.error().kind() == ErrorKind::ResourceExhausted ? 0 : 3;
  });
  if (WIFEXITED(status) && WEXITSTATUS(status) == kSkip) GTEST_SKIP() << "cannot limit the address space here";
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << describe(status) << " (1: created anyway, 2: no engine, 3: another kind of error, 4: an exception)";
}

TEST(CompileMemory, TheCompileMemoryLimitIsAnErrorWhereverItIsReached) {
  if (!compiler_available()) GTEST_SKIP() << "the compiler does not run on this host";
  constexpr size_t kSize = size_t(1) << 20;  // tables of about 5 MiB, as much machine code again
  for (const uint64_t limit : {uint64_t(4) << 20, uint64_t(8) << 20}) {  // before the code, and while it grows
    Engine engine = unwrap(compiler_engine(limit));
    Result<Module> module = Module::from_blob(engine, sync_gas(), trap_blob(kSize));
    ASSERT_FALSE(module.ok()) << limit;
    EXPECT_EQ(module.error().kind(), ErrorKind::ResourceExhausted) << module.error().message();
    EXPECT_NE(module.error().message().find("compile_memory_limit"), std::string::npos) << module.error().message();
  }
  for (const uint64_t limit : {uint64_t(0), Config{}.compile_memory_limit}) {  // none, and the default
    Engine engine = unwrap(compiler_engine(limit));
    EXPECT_TRUE(Module::from_blob(engine, sync_gas(), trap_blob(kSize)).ok()) << limit;
  }
}

// The interpreter translates as it runs: a run that runs out of memory is an Error too (and the instance,
// whose translation may be half made, refuses to run again), never an exception that ends the host.
TEST(CompileMemory, AnInterpreterRunOutOfMemoryIsAnErrorAndTheHostLives) {
  if (kAddressSanitizer) GTEST_SKIP() << "AddressSanitizer reserves terabytes of address space: RLIMIT_AS cannot apply";
  const int status = in_child([] {
    Config config;
    config.backend = BackendKind::Interpreter;
    Engine engine = unwrap(Engine::create(config));
    // 4 MiB of one-byte fallthroughs, each a block with a charge op: about 64 MiB of translation.
    ProgramBlob blob = trap_blob(size_t(4) << 20);
    std::fill(blob.code_and_jump_table.code.begin(), blob.code_and_jump_table.code.end(),
              static_cast<uint8_t>(opcode_number(blob.isa, Opcode::fallthrough)));
    Module module = unwrap(Module::from_blob(engine, sync_gas(), std::move(blob)));
    RawInstance instance = unwrap(module.instantiate());  // its 4 GiB reservation is made here
    instance.set_gas(Gas(1) << 40);
    const long size = status_kib("VmSize:");
    if (size < 0) return kSkip;
    const rlimit limit{rlim_t(size + 16 * 1024) * 1024, rlim_t(size + 16 * 1024) * 1024};
    if (setrlimit(RLIMIT_AS, &limit) != 0) return kSkip;
    instance.set_next_program_counter(0);
    Result<Interrupt> ran = instance.run();
    std::printf("[ run      ] under RLIMIT_AS = VmSize + 16 MiB: %s\n",
                ran ? to_string(*ran).c_str()
                    : (error_kind_name(ran.error().kind()) + std::string(": ") + ran.error().message()).c_str());
    if (ran) return 1;
    if (ran.error().kind() != ErrorKind::ResourceExhausted) return 3;
    instance.set_next_program_counter(0);
    Result<Interrupt> again = instance.run();
    return !again && again.error().kind() == ErrorKind::ResourceExhausted ? 0 : 5;
  });
  if (WIFEXITED(status) && WEXITSTATUS(status) == kSkip) GTEST_SKIP() << "cannot limit the address space here";
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << describe(status) << " (1: it ran anyway, 3: another kind of error, 4: an exception, 5: it ran again)";
}

}  // namespace
}  // namespace polkavm::test
