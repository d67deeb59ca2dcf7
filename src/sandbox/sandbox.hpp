// Sandboxes: where an instance's compiled code runs. The compiler backend (src/compiler/backend.cpp) keeps
// the architecture-neutral part (where to resume, what an exit means, sbrk, memset, gas) and asks its
// sandbox only to provide guest memory and to run the code from one native offset until the code exits.
//
// - generic/: in this process, on the calling thread (gs base, a SIGSEGV handler). Experimental, as in the
//   reference: a bug in the generated code is a bug in the host.
// - linux/: in a worker process of its own, namespaced and seccomp-filtered, which shares only guest
//   memory, the code and a control page with the host.
#pragma once

#include <cstdint>
#include <memory>

#include "compiler/compiler.hpp"
#include "polkavm/error.hpp"
#include "runtime/guest_memory.hpp"

namespace polkavm::detail {

class Sandbox {
 public:
  virtual ~Sandbox() = default;
  /// The backing of the instance's guest memory (called once, before any run); `dynamic_paging`: the
  /// instance's pages are mapped on demand by its host.
  virtual Result<std::unique_ptr<MemoryBacking>> make_memory_backing(bool dynamic_paging) = 0;
  /// Runs `code` from native offset `target`, with the guest registers and gas in `ctx`, until the code
  /// exits. On return, ctx holds the registers, gas, exit and its argument; after Exit::Fault, fault_rip is
  /// the native offset in `code` and fault_address the faulting address minus guest memory's base. An Error
  /// means the sandbox is broken (a dead or misbehaving worker): the instance cannot run any more.
  virtual Result<void> execute(const compiler::CompiledCode& code, compiler::VmCtx& ctx, uint32_t target) = 0;
  /// What the sandbox reported made no sense: it must not serve another instance.
  virtual void abandon() {}
};

/// Runs compiled code in this process.
std::unique_ptr<Sandbox> make_generic_sandbox();
/// Runs compiled code in a worker process from `engine`'s pool (src/sandbox/linux/).
std::unique_ptr<Sandbox> make_linux_sandbox(const EngineState& engine);

}  // namespace polkavm::detail
