// The Linux sandbox's worker: a small static program the host starts from a sealed memfd in new namespaces
// (see linux_sandbox.cpp). It maps the shared memory at fixed addresses, isolates itself (an empty
// read-only root, no capabilities, rlimits, a seccomp allow-list), reports that it is ready, and then
// serves the host's requests from the control page: run compiled code until it exits, change guest memory
// protection, map new code. Guest memory faults are caught here and reported as an exit of the code.
//
// argv[1] is "1" for full isolation, "0" without namespaces-dependent set-up and seccomp (debugging only).
#include <asm/prctl.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <linux/userfaultfd.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include <x86intrin.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "sandbox/linux/protocol.hpp"
#include "sandbox/linux/worker/harden.hpp"
#if defined(POLKAVM_WORKER_TEST_HOOKS)
#include "sandbox/linux/worker/test_hooks.hpp"
#endif

using namespace polkavm::detail::linux_sandbox;
using polkavm::detail::compiler::Exit;
using polkavm::detail::compiler::VmCtx;

namespace {

Control* const g_control = reinterpret_cast<Control*>(kControlAddress);

long futex(std::atomic<uint32_t>* word, int op, uint32_t value) {
  return syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), op, value, nullptr, nullptr, 0);
}

/// Hands the control page back to the host.
void finish() {
  g_control->state.store(static_cast<uint32_t>(State::Done), std::memory_order_seq_cst);
  if (g_control->host_sleeping.load(std::memory_order_seq_cst)) futex(&g_control->state, FUTEX_WAKE, 1);
}

/// Start-up failed: says why (the host reads it after our exit) and exits.
[[noreturn]] void die(const char* what) {
  if (g_control) {
    std::snprintf(g_control->message, sizeof(g_control->message), "%s", what);
    g_control->error = errno ? errno : EINVAL;
  }
  syscall(SYS_exit_group, 1);
  __builtin_unreachable();
}

/// A request failed: the host gets the errno and the reason.
void fail(const char* what) {
  g_control->error = errno ? errno : EINVAL;
  std::snprintf(g_control->message, sizeof(g_control->message), "%s", what);
}

void wait_for_request() {
  constexpr uint32_t kRequest = static_cast<uint32_t>(State::Request);
  // Spin first, for about as long as a host takes to answer an ecalli (kSpinCycles of the time-stamp
  // counter, some tens of microseconds), then sleep: a host busy elsewhere must not cost a core.
  const uint64_t deadline = __rdtsc() + kSpinCycles;
  do {
    for (int i = 0; i < 16; ++i) {
      if (g_control->state.load(std::memory_order_acquire) == kRequest) return;
      __builtin_ia32_pause();
    }
  } while (__rdtsc() < deadline);
  g_control->worker_sleeping.store(1, std::memory_order_seq_cst);
  for (;;) {
    const uint32_t state = g_control->state.load(std::memory_order_seq_cst);
    if (state == kRequest) break;
    futex(&g_control->state, FUTEX_WAIT, state);
  }
  g_control->worker_sleeping.store(0, std::memory_order_relaxed);
}

bool apply_protections() {
  const uint32_t count = g_control->protect_count;
  if (count == 0) return true;
  g_control->protect_count = 0;
  if (count > kMaxProtectOps) {
    errno = EINVAL;
    fail("too many protection changes");
    return false;
  }
  for (uint32_t i = 0; i < count; ++i) {
    const ProtectOp op = g_control->protect[i];
    const int prot = static_cast<int>(op.prot);
    if (op.begin >= op.end || op.end > kGuestMemorySize || (op.begin | op.end) % 4096 != 0 ||
        (prot & ~(PROT_READ | PROT_WRITE)) != 0) {
      errno = EINVAL;
      fail("invalid protection change");
      return false;
    }
    if (mprotect(reinterpret_cast<void*>(kGuestMemoryAddress + op.begin), op.end - op.begin, prot) != 0) {
      fail("mprotect of guest memory failed");
      return false;
    }
  }
  return true;
}

bool map_code() {
  const Control& c = *g_control;
  if (c.code_size == 0 || c.code_size > kMaxCodeSize || c.table_size > kMaxTableSize || c.table_offset % 4096 != 0 ||
      c.table_offset < c.code_size) {
    errno = EINVAL;
    fail("invalid code mapping");
    return false;
  }
  // Earlier, larger code must not stay mapped past the end of the new one: each mapping covers at least what
  // the previous one did (pages past the end of the file fault instead of executing stale bytes).
  static uint64_t code_length = 0, table_length = 0;
  const uint64_t new_code_length = c.code_size > code_length ? c.code_size : code_length;
  const uint64_t table_size = c.table_size ? c.table_size : 1;
  const uint64_t new_table_length = table_size > table_length ? table_size : table_length;
  if (mmap(reinterpret_cast<void*>(kCodeAddress), new_code_length, PROT_EXEC, MAP_SHARED | MAP_FIXED, kCodeFd, 0) ==
      MAP_FAILED) {
    fail("mapping the code failed");
    return false;
  }
  code_length = new_code_length;
  if (mmap(reinterpret_cast<void*>(kTableAddress), new_table_length, PROT_READ, MAP_SHARED | MAP_FIXED, kCodeFd,
           static_cast<off_t>(c.table_offset)) == MAP_FAILED) {
    fail("mapping the jump table failed");
    return false;
  }
  table_length = new_table_length;
  return true;
}

/// Guest code faulted on guest memory: leave through the code's fault stub, which saves the guest state and
/// returns from the entry function. Any other fault is a bug in this program (or an attack): die.
void on_fault(int signal, siginfo_t* info, void* context) {
  auto* uc = static_cast<ucontext_t*>(context);
  VmCtx& ctx = g_control->ctx;
  const uintptr_t rip = static_cast<uintptr_t>(uc->uc_mcontext.gregs[REG_RIP]);
  if ((signal != SIGSEGV && signal != SIGBUS) || rip < ctx.code_begin || rip >= ctx.code_end) {
    syscall(SYS_exit_group, 128 + signal);
  }
  ctx.exit = Exit::Fault;
  ctx.fault_rip = rip;
  ctx.fault_address = reinterpret_cast<uintptr_t>(info->si_addr);
  uc->uc_mcontext.gregs[REG_RIP] = static_cast<greg_t>(ctx.fault_stub);
}

void run() {
  VmCtx& ctx = g_control->ctx;
  if (ctx.code_begin != kCodeAddress || ctx.fault_stub < ctx.code_begin || ctx.fault_stub >= ctx.code_end ||
      ctx.target < ctx.code_begin || ctx.target >= ctx.code_end || g_control->enter < ctx.code_begin ||
      g_control->enter >= ctx.code_end) {
    errno = EINVAL;
    fail("invalid entry");
    return;
  }
  ctx.exit = Exit::Trap;
  reinterpret_cast<void (*)(VmCtx*)>(g_control->enter)(&ctx);
}

/// Dynamic paging without privilege: a userfaultfd for user-mode faults only (Linux 5.11; the reference's
/// kind needs vm.unprivileged_userfaultfd = 1) in SIGBUS mode. The host registers guest memory with it while
/// an instance pages on demand; then an access to a page absent from the memfd raises SIGBUS here (reported
/// as a fault, like any other) instead of allocating the page. This process makes no call on it after setup:
/// the host does, through the descriptor sent to it now. Without one, the host falls back to protections.
void share_userfaultfd() {
  int error = 0;
  int uffd = static_cast<int>(syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY));
  if (uffd < 0) {
    error = errno;
  } else {
    uffdio_api api{};
    api.api = UFFD_API;
    api.features = UFFD_FEATURE_SIGBUS | UFFD_FEATURE_MISSING_SHMEM;
    if (ioctl(uffd, UFFDIO_API, &api) != 0) {
      error = errno;
      close(uffd);
      uffd = -1;
    }
  }
  iovec data{&error, sizeof(error)};
  alignas(cmsghdr) char buffer[CMSG_SPACE(sizeof(int))] = {};
  msghdr message{};
  message.msg_iov = &data;
  message.msg_iovlen = 1;
  if (uffd >= 0) {
    message.msg_control = buffer;
    message.msg_controllen = sizeof(buffer);
    cmsghdr* header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(header), &uffd, sizeof(int));
  }
  if (sendmsg(kSocketFd, &message, MSG_NOSIGNAL) != static_cast<ssize_t>(sizeof(error))) die("cannot send the userfaultfd");
  close(kSocketFd);
  // Our copy stays open: closing the last descriptor would unregister guest memory.
}

void* map_fixed(uintptr_t address, size_t size, int prot, int flags, int fd) {
  return mmap(reinterpret_cast<void*>(address), size, prot, flags | MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0);
}

}  // namespace

int main(int argc, char** argv) {
  const bool sandboxing = argc > 1 && argv[1][0] == '1';
  if (map_fixed(kControlAddress, kControlSize, PROT_READ | PROT_WRITE, 0, kControlFd) != reinterpret_cast<void*>(kControlAddress))
    syscall(SYS_exit_group, 2);  // nowhere to say why
  if (map_fixed(kGuestMemoryAddress, kGuestMemorySize, PROT_NONE, MAP_NORESERVE, kMemoryFd) !=
      reinterpret_cast<void*>(kGuestMemoryAddress))
    die("cannot map guest memory");
  close(kControlFd);
  close(kMemoryFd);
  share_userfaultfd();
  // Generated code reaches guest memory as gs:[address]; nothing else in this program uses gs.
  if (syscall(SYS_arch_prctl, ARCH_SET_GS, kGuestMemoryAddress) != 0) die("cannot set the gs base");

  // The host's spawner thread blocks every signal and the child clears the mask; be sure of it.
  sigset_t no_signals;
  sigemptyset(&no_signals);
  if (sigprocmask(SIG_SETMASK, &no_signals, nullptr) != 0) die("sigprocmask failed");
  static uint8_t signal_stack[64 * 1024];
  stack_t ss{};
  ss.ss_sp = signal_stack;
  ss.ss_size = sizeof(signal_stack);
  if (sigaltstack(&ss, nullptr) != 0) die("sigaltstack failed");
  struct sigaction action {};
  action.sa_sigaction = on_fault;
  action.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&action.sa_mask);
  for (int signal : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP})
    if (sigaction(signal, &action, nullptr) != 0) die("sigaction failed");

  namespace worker = polkavm::detail::linux_sandbox::worker;
  if (sandboxing) {
    if (const char* error = worker::isolate_filesystem()) die(error);
    if (const char* error = worker::drop_privileges()) die(error);
  }
  // Only the code's descriptor and the userfaultfd stay open.
  for (int fd = 0; fd < 3; ++fd) close(fd);
  if (sandboxing) {
    // The parent-death signal again, now that the credentials are final.
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) die("PR_SET_PDEATHSIG failed");
    if (const char* error = worker::install_seccomp_filter()) die(error);
  }
  finish();

  for (;;) {
    wait_for_request();
    // The host spins on the request line meanwhile: it is written once, by finish(), unless a request fails.
    if (g_control->error != 0) g_control->error = 0;
    switch (g_control->command) {
      case Command::Run:
        if (apply_protections()) run();
        break;
      case Command::Protect: apply_protections(); break;
      case Command::MapCode:
        if (apply_protections()) map_code();
        break;
      case Command::TestHook:
#if defined(POLKAVM_WORKER_TEST_HOOKS)
        worker::run_test_hook(g_control->test_hook);
        break;
#endif
      default:
        errno = EINVAL;
        fail("unknown request");
        break;
    }
    finish();
  }
}
