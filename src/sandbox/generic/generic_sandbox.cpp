// The generic sandbox: compiled code runs in this process, on the calling thread. Guest memory is a private
// 4 GiB reservation reached through the gs base; guest memory faults arrive as SIGSEGV/SIGBUS in a handler
// that redirects them to the code's fault stub. Experimental (Config::allow_experimental), as in the
// reference: whatever a bug in the generated code can do, it does to the host.
#include <asm/prctl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <random>

#include <fmt/format.h>

#include "sandbox/sandbox.hpp"

// Reads the 8 bytes at gs:-8 into *out and returns 1, or returns 0 when the read faults (the fault handler
// resumes at ..._fault, and only for a fault at the read itself). See set_guest_memory_base.
extern "C" {
int polkavm_generic_read_gs_cookie(uint64_t* out);
extern const char polkavm_generic_read_gs_cookie_fault[];
}
asm(R"(
  .pushsection .text
  .p2align 4
  .globl polkavm_generic_read_gs_cookie
  .hidden polkavm_generic_read_gs_cookie
  .type polkavm_generic_read_gs_cookie, @function
polkavm_generic_read_gs_cookie:
  movq %gs:-8, %rax
  movq %rax, (%rdi)
  movl $1, %eax
  ret
  .globl polkavm_generic_read_gs_cookie_fault
  .hidden polkavm_generic_read_gs_cookie_fault
polkavm_generic_read_gs_cookie_fault:
  xorl %eax, %eax
  ret
  .size polkavm_generic_read_gs_cookie, .-polkavm_generic_read_gs_cookie
  .popsection
)");

namespace polkavm::detail {
namespace {

using compiler::CompiledCode;
using compiler::Exit;
using compiler::VmCtx;

// ------------------------------------------------------------------------------------------------
// Signals

/// The VmCtx of the guest code running on this thread, if any.
thread_local VmCtx* t_running = nullptr;

/// Where faults outside guest code go: the handlers we replaced. SIGSEGV's is replaced again when the host
/// installs a handler of its own after ours (see ensure_signal_handlers), so it lives in two slots: a new one
/// is written to the slot not in use, then published.
struct sigaction g_previous_segv[2], g_previous_bus;
std::atomic<int> g_previous_segv_slot{0};
std::mutex g_handlers_mutex;
/// Set while this thread runs a previous handler: one that chains back to us must not loop.
thread_local bool t_chaining = false;

void chain(int signal, siginfo_t* info, void* context) {
  const struct sigaction& previous =
      signal == SIGBUS ? g_previous_bus : g_previous_segv[g_previous_segv_slot.load(std::memory_order_acquire)];
  const bool calls = (previous.sa_flags & SA_SIGINFO) || (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN);
  if (calls && !t_chaining) {
    t_chaining = true;
    if (previous.sa_flags & SA_SIGINFO) previous.sa_sigaction(signal, info, context);
    else previous.sa_handler(signal);
    t_chaining = false;
    return;
  }
  // Default action: let the fault happen again without us.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  sigaction(signal, &dfl, nullptr);
}

void on_fault(int signal, siginfo_t* info, void* context) {
  auto* uc = static_cast<ucontext_t*>(context);
  VmCtx* ctx = t_running;
  const uintptr_t rip = static_cast<uintptr_t>(uc->uc_mcontext.gregs[REG_RIP]);
  if (rip == reinterpret_cast<uintptr_t>(&polkavm_generic_read_gs_cookie)) {  // gs points nowhere readable
    uc->uc_mcontext.gregs[REG_RIP] = reinterpret_cast<greg_t>(polkavm_generic_read_gs_cookie_fault);
    return;
  }
  if (ctx == nullptr || rip < ctx->code_begin || rip >= ctx->code_end) {
    chain(signal, info, context);
    return;
  }
  // Guest code faulted on guest memory: leave through the fault stub, which saves the guest state.
  ctx->exit = Exit::Fault;
  ctx->fault_rip = rip;
  ctx->fault_address = reinterpret_cast<uintptr_t>(info->si_addr);
  uc->uc_mcontext.gregs[REG_RIP] = static_cast<greg_t>(ctx->fault_stub);
}

struct sigaction our_action() {
  struct sigaction action {};
  action.sa_sigaction = on_fault;
  action.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&action.sa_mask);
  return action;
}

bool is_ours(const struct sigaction& action) {
  return (action.sa_flags & SA_SIGINFO) && action.sa_sigaction == on_fault;
}

/// Our SIGSEGV handler must be in place whenever guest code runs, or a guest fault would reach the host's
/// handler (or none) and end the process. It is installed on the first entry, and every entry checks it is
/// still there (one system call): a handler installed since, by a host that did not chain to ours, is
/// replaced by ours again and becomes the one that faults outside guest code go to. (Guest code raises no
/// SIGBUS here: its memory is private and anonymous. That handler is installed once, for completeness.)
bool ensure_signal_handlers() {
  static std::once_flag once;
  std::call_once(once, [] {
    const struct sigaction action = our_action();
    sigaction(SIGBUS, &action, &g_previous_bus);
  });
  struct sigaction current {};
  if (sigaction(SIGSEGV, nullptr, &current) != 0) return false;
  if (is_ours(current)) return true;
  std::lock_guard lock(g_handlers_mutex);
  const struct sigaction action = our_action();
  const int spare = 1 - g_previous_segv_slot.load(std::memory_order_relaxed);
  if (sigaction(SIGSEGV, &action, &g_previous_segv[spare]) != 0) return false;
  if (!is_ours(g_previous_segv[spare])) g_previous_segv_slot.store(spare, std::memory_order_release);
  return true;
}

// ------------------------------------------------------------------------------------------------
// The gs base: generated code addresses guest memory as gs:[address].

/// Each instance's cookie: the base address of its guest memory mixed with a secret of this process, kept
/// in a read-only page just below guest memory, where no guest address reaches (guest addresses are 32-bit
/// offsets from the base).
uint64_t gs_cookie(const uint8_t* base) {
  static const uint64_t secret = [] {
    std::random_device random;
    return (uint64_t(random()) << 32) ^ random() ^ 0x9E3779B97F4A7C15ull;
  }();
  return reinterpret_cast<uintptr_t>(base) ^ secret;
}

/// Points this thread's gs base at `base` (glibc leaves gs unused on x86-64; fs holds the TLS), checked on
/// every entry, so that anything else on this thread that moved gs (another runtime, another copy of this
/// library) cannot point compiled code at foreign memory. With FSGSBASE the write costs a few cycles and is
/// made every time. Without it the write is a system call (about 10 µs under some hypervisors), so gs:-8 is
/// read first: it holds this instance's cookie exactly when gs is already `base` (a read that faults means
/// it is not).
bool set_guest_memory_base(uint8_t* base) {
  constexpr unsigned long kHwcap2FsGsBase = 1ul << 1;  // HWCAP2_FSGSBASE: the kernel allows wrgsbase
  const auto value = reinterpret_cast<uintptr_t>(base);
  static const bool has_wrgsbase = (getauxval(AT_HWCAP2) & kHwcap2FsGsBase) != 0;
  if (has_wrgsbase) {
    asm volatile("wrgsbase %0" : : "r"(value) : "memory");
    return true;
  }
  uint64_t seen = 0;
  if (polkavm_generic_read_gs_cookie(&seen) && seen == gs_cookie(base)) return true;
  return syscall(SYS_arch_prctl, ARCH_SET_GS, value) == 0;
}

/// Enters generated code. Clang's -fsanitize=function checks an indirect call by reading a signature just
/// before the callee's first byte, which for generated code may be an unmapped page: exempt this one call.
#if defined(__clang__)
__attribute__((no_sanitize("function")))
#endif
void enter_guest(uintptr_t entry, VmCtx* ctx) {
  reinterpret_cast<void (*)(VmCtx*)>(entry)(ctx);
}

class GenericSandbox final : public Sandbox {
 public:
  Result<std::unique_ptr<MemoryBacking>> make_memory_backing(bool) override {
    Result<std::unique_ptr<PrivateBacking>> acquired = PrivateBacking::acquire();
    if (!acquired) return acquired.error();
    std::unique_ptr<PrivateBacking> backing = std::move(acquired).value();
    uint8_t* base = backing->base();
    // The cookie depends on the base only: a recycled reservation has it already.
    if (!backing->header_prepared()) {
      uint8_t* page = base - PrivateBacking::kHeaderSize;
      const uint64_t cookie = gs_cookie(base);
      if (mprotect(page, PrivateBacking::kHeaderSize, PROT_READ | PROT_WRITE) != 0)
        return Error(fmt::format("cannot map the gs cookie page (errno {})", errno), ErrorKind::ResourceExhausted);
      std::memcpy(base - sizeof(cookie), &cookie, sizeof(cookie));
      if (mprotect(page, PrivateBacking::kHeaderSize, PROT_READ) != 0)
        return Error(fmt::format("cannot protect the gs cookie page (errno {})", errno), ErrorKind::ResourceExhausted);
      backing->set_header_prepared();
    }
    memory_base_ = base;
    return std::unique_ptr<MemoryBacking>(std::move(backing));
  }

  Result<void> execute(const CompiledCode& code, VmCtx& ctx, uint32_t target) override {
    if (!ensure_signal_handlers())
      return Error(fmt::format("cannot install the SIGSEGV handler for guest memory faults (errno {})", errno));
    if (!set_guest_memory_base(memory_base_))
      return Error(fmt::format("cannot set the gs base for guest memory (errno {})", errno));
    ctx.djump_table = code.djump_table();
    ctx.code_begin = code.base();
    ctx.code_end = code.base() + code.size();
    ctx.fault_stub = code.base() + code.fault_stub_offset();
    ctx.target = code.base() + target;
    t_running = &ctx;
    enter_guest(code.base() + code.enter_offset(), &ctx);
    t_running = nullptr;
    if (ctx.exit == Exit::Fault) {
      ctx.fault_rip -= code.base();
      ctx.fault_address -= reinterpret_cast<uintptr_t>(memory_base_);
    }
    return {};
  }

 private:
  uint8_t* memory_base_ = nullptr;
};

}  // namespace

std::unique_ptr<Sandbox> make_generic_sandbox() { return std::make_unique<GenericSandbox>(); }

}  // namespace polkavm::detail
