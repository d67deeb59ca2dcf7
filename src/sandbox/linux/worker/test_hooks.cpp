// Hostile payloads for testing the worker's isolation (see test_hooks.hpp). Every call goes through raw
// syscall() (or the instruction itself), so that no library wrapper substitutes another call or checks
// anything first: what the filter sees is exactly what an attacker would issue.
#include "sandbox/linux/worker/test_hooks.hpp"

#include <arpa/inet.h>
#include <asm/unistd.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <climits>
#include <cstdint>

#include "sandbox/linux/protocol.hpp"

namespace polkavm::detail::linux_sandbox::worker {

int last_result = 0;

namespace {

// Records the result of a syscall() call: -errno on failure, else the result (saturated to INT_MAX).
void record(long result) {
  if (result == -1)
    last_result = -errno;
  else
    last_result = result > INT_MAX ? INT_MAX : static_cast<int>(result);
}

void open_host_file() { record(syscall(SYS_open, "/etc/passwd", O_RDONLY)); }

void connect_out() {
  const long fd = syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
  record(fd);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(22);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  // Even if socket() failed, try connect(): the filter must stop that too.
  record(syscall(SYS_connect, fd, &address, sizeof address));
}

void fork_child() {
  const long pid = syscall(SYS_fork);
  if (pid == 0) syscall(SYS_exit, 0);  // the child of a successful fork must not go on as a second worker
  record(pid);
}

void exec_shell() {
  char arg0[] = "/bin/sh", arg1[] = "-c", arg2[] = "exit 0";
  char* const argv[] = {arg0, arg1, arg2, nullptr};
  char* const envp[] = {nullptr};
  record(syscall(SYS_execve, arg0, argv, envp));
}

// Inside its PID namespace the worker is process 1, and the host has no process ID at all: pid 1 is the
// worker itself and -1 means every other process of the namespace (there are none). Still, the attempts must
// not get as far as the kernel's answer.
void ptrace_init() { record(syscall(SYS_ptrace, PTRACE_ATTACH, 1, 0, 0)); }

void kill_others() {
  record(syscall(SYS_kill, 1, SIGKILL));
  record(syscall(SYS_kill, -1, SIGKILL));
}

// The worker closes everything but the code's descriptor; a descriptor of the host's leaking in would show
// here.
void write_fds() {
  static const char kText[] = "written from the sandbox\n";
  for (int fd = 0; fd <= 10; ++fd) record(syscall(SYS_write, fd, kText, sizeof kText - 1));
}

void map_rwx() {
  record(syscall(SYS_mmap, nullptr, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
}

void open_proc_mem() { record(syscall(SYS_open, "/proc/1/mem", O_RDWR)); }

void set_uid() { record(syscall(SYS_setuid, 0)); }

void stack_exec() {
  volatile char on_stack = 0;
  const uintptr_t page = reinterpret_cast<uintptr_t>(&on_stack) & ~uintptr_t(4095);
  record(syscall(SYS_mprotect, page, 4096, PROT_READ | PROT_WRITE | PROT_EXEC));
}

// The right descriptor at the right address, but as a writable and executable private copy: code an
// attacker could rewrite and run.
void map_code_writable() {
  record(syscall(SYS_mmap, kCodeAddress, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_FIXED,
                 kCodeFd, 0));
}

// Guest memory (writable by the guest) mapped executable where the code goes. The worker has closed this
// descriptor by now, so past the filter the kernel would say EBADF; the filter must not let it get there.
void map_memory_exec() {
  record(syscall(SYS_mmap, kCodeAddress, 4096, PROT_EXEC, MAP_SHARED | MAP_FIXED, kMemoryFd, 0));
}

// clock_gettime is allowed, but only through the native ABI: the same call with the x32 bit set must die.
void x32_syscall() {
  struct timespec now;
  record(syscall(__X32_SYSCALL_BIT | SYS_clock_gettime, CLOCK_MONOTONIC, &now));
}

// The i386 ABI through int 0x80. Number 60 is umask there but exit on x86-64, so a filter that ignored the
// architecture would let this through as "exit" and the kernel would run umask(0).
void i386_syscall() {
  long result;
  asm volatile("int $0x80" : "=a"(result) : "a"(60L), "b"(0L) : "memory", "r8", "r9", "r10", "r11");
  if (result < 0 && result > -4096) {
    errno = static_cast<int>(-result);
    result = -1;
  }
  record(result);
}

void map_anonymous() {
  // Everything the filter checks for the code mapping, except MAP_ANONYMOUS in the flags: memory without limit.
  record(syscall(SYS_mmap, kCodeAddress, uint64_t(1) << 30, PROT_EXEC, MAP_SHARED | MAP_FIXED | MAP_ANONYMOUS, kCodeFd, 0));
}

void futex_requeue() {
  record(syscall(SYS_futex, reinterpret_cast<uint32_t*>(kControlAddress), FUTEX_CMP_REQUEUE, 1, 1,
                 reinterpret_cast<uint32_t*>(kControlAddress + 64), 0));
}

}  // namespace

void run_test_hook(uint64_t id) {
  switch (static_cast<TestHook>(id)) {
    case TestHook::OpenHostFile: open_host_file(); break;
    case TestHook::Connect: connect_out(); break;
    case TestHook::Fork: fork_child(); break;
    case TestHook::Exec: exec_shell(); break;
    case TestHook::Ptrace: ptrace_init(); break;
    case TestHook::KillOthers: kill_others(); break;
    case TestHook::WriteFds: write_fds(); break;
    case TestHook::MapRwx: map_rwx(); break;
    case TestHook::OpenProcMem: open_proc_mem(); break;
    case TestHook::Setuid: set_uid(); break;
    case TestHook::StackExec: stack_exec(); break;
    case TestHook::MapCodeWritable: map_code_writable(); break;
    case TestHook::MapMemoryExec: map_memory_exec(); break;
    case TestHook::X32Syscall: x32_syscall(); break;
    case TestHook::I386Syscall: i386_syscall(); break;
    case TestHook::MapAnonymous: map_anonymous(); break;
    case TestHook::FutexRequeue: futex_requeue(); break;
    default: last_result = -ENOSYS; break;
  }
}

}  // namespace polkavm::detail::linux_sandbox::worker
