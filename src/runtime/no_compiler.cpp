// A build without the compiler backend (POLKAVM_ENABLE_COMPILER=OFF; top-level CMakeLists.txt): this file
// replaces src/compiler/ and src/sandbox/ (the sandboxes only run compiled code). The engine asks
// compiler_unsupported_reason() first, so it refuses BackendKind::Compiler with that reason
// (ErrorKind::Unsupported), Auto picks the interpreter, and nothing below is reached but the reason and the
// test hooks' answers (compile_in_parts_from among them).
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "compiler/compiler.hpp"
#include "runtime/backend.hpp"
#include "sandbox/linux/linux_sandbox.hpp"

namespace polkavm::detail {

namespace {
const char kNoCompiler[] = "this build of polkavm has no compiler (POLKAVM_ENABLE_COMPILER=OFF)";
Error no_compiler() { return Error(kNoCompiler, ErrorKind::Unsupported); }
}  // namespace

std::optional<std::string> compiler_unsupported_reason() { return std::string(kNoCompiler); }
Result<void> compile_module(ModuleState&) { return no_compiler(); }
Result<std::unique_ptr<InstanceBackend>> make_compiler(std::shared_ptr<const ModuleState>) { return no_compiler(); }

namespace compiler {
uint32_t compile_in_parts_from() { return UINT32_MAX; }
void set_compile_in_parts_from(uint32_t) {}
}  // namespace compiler

namespace linux_sandbox {

std::optional<std::string> unsupported_reason() { return std::string(kNoCompiler); }
std::shared_ptr<WorkerPool> make_worker_pool(uint32_t, bool) { return nullptr; }
std::optional<std::string> core_pinning_unsupported_reason() { return std::string(kNoCompiler); }

// The tests' hooks (there is never a worker).
void set_worker_image_for_testing(std::span<const uint8_t>) {}
int worker_pid(const Sandbox&) { return -1; }
bool pages_on_demand(const Sandbox&) { return false; }
Result<void> run_test_hook(Sandbox&, uint64_t) { return no_compiler(); }

}  // namespace linux_sandbox

}  // namespace polkavm::detail
