// Hostile payloads for testing the worker's isolation, compiled only into a test build of the worker. Each
// does what an attacker who controls the worker after set-up would try first. In a correctly hardened worker
// every one of them is killed by the seccomp filter at its first system call; run_test_hook returning at
// all means the payload survived, and last_result then says how its (last) call went.
#pragma once

#include <cstdint>

namespace polkavm::detail::linux_sandbox::worker {

enum class TestHook : uint64_t {
  OpenHostFile = 1,     // open("/etc/passwd", O_RDONLY)
  Connect = 2,          // socket(AF_INET, SOCK_STREAM) and connect to 127.0.0.1:22
  Fork = 3,             // fork
  Exec = 4,             // execve("/bin/sh")
  Ptrace = 5,           // ptrace(PTRACE_ATTACH, 1)
  KillOthers = 6,       // kill(1, SIGKILL), then kill(-1, SIGKILL)
  WriteFds = 7,         // write to each of the fds 0 to 10
  MapRwx = 8,           // an anonymous read-write-execute mapping
  OpenProcMem = 9,      // open("/proc/1/mem", O_RDWR)
  Setuid = 10,          // setuid(0)
  StackExec = 11,       // mprotect of the worker's own stack to read-write-execute
  MapCodeWritable = 12, // the code fd at kCodeAddress, but as a private read-write-execute copy
  MapMemoryExec = 13,   // guest memory's fd (closed by then in the worker) executable at kCodeAddress
  X32Syscall = 14,      // an allowed call (clock_gettime) through the x32 ABI
  I386Syscall = 15,     // int 0x80 with a number that is "exit" on x86-64 (but umask on i386)
  MapAnonymous = 16,    // memory at the code address, anonymous (the fd and offset pass the filter's checks)
  FutexRequeue = 17,    // a futex operation other than wait and wake (requeue, on the control page)
};

/// What the last call of the last payload returned: its result (INT32_MAX if larger, as for an address), or
/// -errno if it failed.
extern int last_result;

/// Runs payload `id` (a TestHook). Returns only if the payload survived; an unknown id sets last_result to
/// -ENOSYS.
void run_test_hook(uint64_t id);

}  // namespace polkavm::detail::linux_sandbox::worker
