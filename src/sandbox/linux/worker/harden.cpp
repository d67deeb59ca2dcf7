// The worker's self-isolation (see harden.hpp). Linux on x86-64 only, like the rest of the worker.
#include "sandbox/linux/worker/harden.hpp"

#include <errno.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <malloc.h>
#include <linux/futex.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <iterator>

#include "sandbox/linux/protocol.hpp"

namespace polkavm::detail::linux_sandbox::worker {

namespace {

char g_message[256];

// Formats "<what>: <strerror(err)> (errno <err>)" into the shared buffer and returns it, leaving errno = err
// for a caller that reports the number separately.
const char* fail(const char* what, int err = errno) {
  snprintf(g_message, sizeof g_message, "%s: %s (errno %d)", what, strerror(err), err);
  errno = err;
  return g_message;
}

}  // namespace

// ---- Filesystem ------------------------------------------------------------------------------------------

const char* isolate_filesystem() {
  // The mount namespace starts as a copy of the host's, with shared propagation where the host has it. Make
  // every mount private first: nothing done below may propagate back to the host (the kernel would refuse
  // some of it anyway), and pivot_root refuses to work under a shared parent.
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return fail("making / private");

  // The new root: a tiny tmpfs that stays empty. It has to be mounted on some existing directory of the old
  // tree; any one will do, as the old tree goes away below. Mounting over a directory hides nothing from the
  // host, only from this namespace.
  static constexpr const char* kMountPoints[] = {"/tmp", "/mnt", "/run", "/var/tmp", "/dev", "/proc"};
  const char* mount_point = nullptr;
  int mount_errno = ENOENT;
  for (const char* dir : kMountPoints) {
    if (mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=16k,nr_inodes=16,mode=0555") == 0) {
      mount_point = dir;
      break;
    }
    mount_errno = errno;
  }
  if (mount_point == nullptr) return fail("mounting a tmpfs as the new root", mount_errno);
  if (chdir(mount_point) != 0) return fail("entering the new root");

  // pivot_root(".", ".") stacks the old root on top of the new one at the same place; detaching "." then
  // removes the old root, and with it every host mount, from this namespace. (The copied host mounts are
  // locked against unmounting in a less privileged namespace; pivot_root moves the old root's lock to the new
  // root, which is what lets the old tree be detached as a whole.) glibc has no wrapper for pivot_root.
  if (syscall(SYS_pivot_root, ".", ".") != 0) return fail("pivot_root");
  if (umount2(".", MNT_DETACH) != 0) return fail("detaching the old root");
  if (chdir("/") != 0) return fail("entering /");

  // Make the new root read-only. MS_BIND with MS_REMOUNT changes the flags of this mount only, which is all
  // there is; with the capabilities gone later, nothing can make it writable again.
  if (mount(nullptr, "/", nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
            nullptr) != 0)
    return fail("remounting / read-only");
  return nullptr;
}

// ---- Privileges ------------------------------------------------------------------------------------------

const char* drop_privileges() {
  // Resource limits, soft and hard (lowering needs no privilege; raising again would need CAP_SYS_RESOURCE,
  // which goes below). Each closes a door the seccomp filter also closes; they still count if the filter has
  // a hole. Deliberately absent: RLIMIT_AS and RLIMIT_DATA (the worker maps over 4 GiB of guest memory and up
  // to several GiB of code), RLIMIT_STACK (the stack of the running worker), RLIMIT_SIGPENDING (the fault
  // handler relies on signals with their siginfo) and RLIMIT_CPU (a worker lives for many calls; the host
  // bounds running time itself).
  struct Limit {
    int resource;
    const char* name;
  };
  static constexpr Limit kZeroLimits[] = {
      {RLIMIT_NPROC, "RLIMIT_NPROC"},        // no fork or clone
      {RLIMIT_FSIZE, "RLIMIT_FSIZE"},        // no writing to files
      {RLIMIT_NOFILE, "RLIMIT_NOFILE"},      // no new file descriptors (the open ones stay usable)
      {RLIMIT_MEMLOCK, "RLIMIT_MEMLOCK"},    // no mlock
      {RLIMIT_CORE, "RLIMIT_CORE"},          // no core dumps
      {RLIMIT_MSGQUEUE, "RLIMIT_MSGQUEUE"},  // no POSIX message queues
      {RLIMIT_LOCKS, "RLIMIT_LOCKS"},        // no file locks or leases
      {RLIMIT_NICE, "RLIMIT_NICE"},          // no raising the scheduling priority
      {RLIMIT_RTPRIO, "RLIMIT_RTPRIO"},      // no real-time scheduling
  };
  for (const Limit& limit : kZeroLimits) {
    const rlimit zero = {0, 0};
    if (setrlimit(limit.resource, &zero) != 0) {
      const int err = errno;
      char what[64];
      snprintf(what, sizeof what, "setrlimit(%s, 0)", limit.name);
      return fail(what, err);
    }
  }

  // No execve can ever grant privileges again (setuid bits, file capabilities); also what lets an
  // unprivileged process install a seccomp filter.
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return fail("PR_SET_NO_NEW_PRIVS");

  // Securebits: uid 0 confers no capabilities on execve (NOROOT), changing uids neither grants nor clears any
  // (NO_SETUID_FIXUP), capabilities are not kept across a change of uid (KEEP_CAPS off), and no ambient
  // capability can be raised (NO_CAP_AMBIENT_RAISE); each bit locked so that it cannot be changed back. Needs
  // CAP_SETPCAP, so before the capabilities go.
  const unsigned long securebits = SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
                                   SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED |
                                   SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;
  if (prctl(PR_SET_SECUREBITS, securebits, 0, 0, 0) != 0) return fail("PR_SET_SECUREBITS");

  // The bounding set, also needing CAP_SETPCAP. The kernel may know more capabilities than our headers
  // (CAP_LAST_CAP), or fewer: drop upwards until it says EINVAL, which marks the first one it does not know.
  for (unsigned long cap = 0; cap < 64; ++cap) {
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0) continue;
    const int err = errno;
    if (err == EINVAL && cap > 0) break;
    char what[64];
    snprintf(what, sizeof what, "PR_CAPBSET_DROP(%lu)", cap);
    return fail(what, err);
  }

  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0) return fail("clearing ambient capabilities");

  // Effective, permitted and inheritable, all empty. Raw capset: glibc has no wrapper and libcap is not needed
  // for this one call. Version 3 takes two data words (capabilities 0-31 and 32-63).
  __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (syscall(SYS_capset, &header, data) != 0) return fail("capset");
  // Read them back: a kernel that accepted the call but kept something would be a surprise worth stopping at.
  if (syscall(SYS_capget, &header, data) != 0) return fail("capget");
  for (const __user_cap_data_struct& word : data) {
    if (word.effective != 0 || word.permitted != 0 || word.inheritable != 0)
      return fail("capabilities remain after capset", EPERM);
  }

  // Not dumpable: no core dump, and ptrace or /proc access to the worker needs CAP_SYS_PTRACE over its user
  // namespace, not merely its (outer) uid, which every worker of the host shares. Set last, as some credential
  // changes reset it.
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) return fail("PR_SET_DUMPABLE");
  return nullptr;
}

// ---- System calls ----------------------------------------------------------------------------------------

namespace {

struct Syscall {
  const char* name;
  int nr;
};
#define POLKAVM_SYSCALL(name) \
  Syscall { #name, SCMP_SYS(name) }

// Allowed with any arguments.
constexpr Syscall kAnyArguments[] = {
    POLKAVM_SYSCALL(rt_sigreturn),     // returning from the fault handler
    POLKAVM_SYSCALL(restart_syscall),  // see below
    POLKAVM_SYSCALL(clock_gettime),    // normally a vDSO call; the vDSO falls back to the syscall
    POLKAVM_SYSCALL(exit),
    POLKAVM_SYSCALL(exit_group),
};
// restart_syscall: when a stop (SIGSTOP, a debugger attaching) interrupts a futex wait that has a timeout, the
// kernel resumes the wait through restart_syscall, which the filter sees as a call of its own. The worker's
// waits have no timeout today (those restart as futex), but a worker someone merely stopped must not die. It
// only continues the interrupted (allowed) call.

// Allowed only with the arguments install_seccomp_filter() checks.
constexpr Syscall kRestricted[] = {
    POLKAVM_SYSCALL(futex),  // the control page protocol: FUTEX_WAIT and FUTEX_WAKE only
    POLKAVM_SYSCALL(mprotect),
    POLKAVM_SYSCALL(mmap),
};
#undef POLKAVM_SYSCALL

constexpr auto kAllowedNames = [] {
  std::array<const char*, std::size(kAnyArguments) + std::size(kRestricted) + 1> names{};
  size_t n = 0;
  for (const Syscall& s : kAnyArguments) names[n++] = s.name;
  for (const Syscall& s : kRestricted) names[n++] = s.name;
  names[n] = nullptr;
  return names;
}();

scmp_arg_cmp arg(unsigned index, scmp_compare op, uint64_t a, uint64_t b = 0) {
  return scmp_arg_cmp{index, op, a, b};
}

// Owns the filter context until it is loaded (see install_seccomp_filter for why not after).
struct FilterContext {
  scmp_filter_ctx ctx;
  ~FilterContext() {
    if (ctx != nullptr) seccomp_release(ctx);
  }
};

// libseccomp returns a negative errno.
const char* fail_seccomp(const char* what, int rc) { return fail(what, -rc); }

}  // namespace

const char* const* seccomp_allowed_names() { return kAllowedNames.data(); }

const char* install_seccomp_filter() {
  // Without no_new_privs the kernel accepts a filter only from a process with CAP_SYS_ADMIN; insist on it
  // here rather than let libseccomp set it quietly (SCMP_FLTATR_CTL_NNP is turned off below): a caller that
  // skipped drop_privileges() should fail, not run half-hardened.
  if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1) return fail("no_new_privs is not set", EPERM);

  // Any system call not allowed below kills the whole worker (all threads) at once. After setup the worker
  // makes only these calls, so anything else means its code is broken or an attacker controls it. Failing the
  // call with an errno instead would let an attacker probe the filter and the kernel at leisure; killing
  // gives away nothing but the fact, and the host reports the dead worker as an error.
  FilterContext filter{seccomp_init(SCMP_ACT_KILL_PROCESS)};
  if (filter.ctx == nullptr) return fail("seccomp_init", ENOMEM);
  scmp_filter_ctx ctx = filter.ctx;

  int rc;
  // The filter holds the native architecture (x86-64) only. A call through another ABI (i386 via int 0x80)
  // gets the "bad architecture" action; so does an x32 call (x86-64's audit architecture with
  // __X32_SYSCALL_BIT set in the number), for which libseccomp emits its own check when x32 is not in the
  // filter. Both kill.
  if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS)) != 0)
    return fail_seccomp("seccomp_attr_set(SCMP_FLTATR_ACT_BADARCH)", rc);
  if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0)) != 0)  // checked above instead
    return fail_seccomp("seccomp_attr_set(SCMP_FLTATR_CTL_NNP)", rc);
  if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_API_SYSRAWRC, 1)) != 0)  // the kernel's errno, not ECANCELED
    return fail_seccomp("seccomp_attr_set(SCMP_FLTATR_API_SYSRAWRC)", rc);

  for (const Syscall& s : kAnyArguments) {
    if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, s.nr, 0)) != 0) return fail_seccomp(s.name, rc);
  }

  // futex: the control page protocol waits and wakes (shared, not private: the page is in two processes).
  // Nothing else: the priority-inheritance and requeue operations have been a rich source of kernel bugs.
  for (int op : {FUTEX_WAIT, FUTEX_WAKE}) {
    const scmp_arg_cmp futex_op[] = {arg(1, SCMP_CMP_EQ, static_cast<uint64_t>(op))};
    if ((rc = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, SCMP_SYS(futex), 1, futex_op)) != 0)
      return fail_seccomp("futex rule", rc);
  }

  // mprotect: guest memory protection changes (PROT_NONE, PROT_READ, PROT_READ | PROT_WRITE); never anything
  // executable, so no page the guest (or an attacker) could write ever becomes code.
  const scmp_arg_cmp mprotect_no_exec[] = {arg(2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0)};
  if ((rc = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1, mprotect_no_exec)) != 0)
    return fail_seccomp("mprotect rule", rc);

  // mmap: only the MapCode request, which maps kCodeFd (a read-only descriptor, so no writable shared mapping
  // of it can exist) execute-only at kCodeAddress and read-only at kTableAddress, both MAP_SHARED | MAP_FIXED.
  // Pinning fd, protection and address means no other file (guest memory above all) can be mapped
  // executable, and the code cannot be placed over anything else of the worker. The flags are exactly
  // MAP_SHARED | MAP_FIXED (MAP_ANONYMOUS would ignore the fd and allocate memory; MAP_HUGETLB would drain the
  // huge-page pool), and the length and offset stay within the protocol's limits. The arguments compare as
  // 64-bit values: garbage in the upper half of the fd, which the kernel would ignore, fails the rule and kills.
  const scmp_arg_cmp mmap_code[] = {
      arg(0, SCMP_CMP_EQ, kCodeAddress),  arg(1, SCMP_CMP_LE, kMaxCodeSize),
      arg(2, SCMP_CMP_EQ, PROT_EXEC),     arg(3, SCMP_CMP_EQ, MAP_SHARED | MAP_FIXED),
      arg(4, SCMP_CMP_EQ, kCodeFd),       arg(5, SCMP_CMP_EQ, 0),
  };
  const scmp_arg_cmp mmap_table[] = {
      arg(0, SCMP_CMP_EQ, kTableAddress), arg(1, SCMP_CMP_LE, kMaxTableSize),
      arg(2, SCMP_CMP_EQ, PROT_READ),     arg(3, SCMP_CMP_EQ, MAP_SHARED | MAP_FIXED),
      arg(4, SCMP_CMP_EQ, kCodeFd),       arg(5, SCMP_CMP_LE, kMaxCodeSize),
  };
  if ((rc = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), std::size(mmap_code), mmap_code)) != 0)
    return fail_seccomp("mmap rule (code)", rc);
  if ((rc = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), std::size(mmap_table), mmap_table)) != 0)
    return fail_seccomp("mmap rule (table)", rc);

  // seccomp_load frees its generated program after the kernel has taken it, and releasing the context would
  // free much more. free() may hand memory back with brk or munmap, which the filter then kills. libseccomp's
  // allocations are far below the mmap threshold, so only trimming the heap top (brk) could happen; turn it
  // off. The heap cannot grow after this point either, so the worker must not allocate afterwards anyway.
  if (mallopt(M_TRIM_THRESHOLD, -1) != 1) return fail("mallopt(M_TRIM_THRESHOLD)", EINVAL);
  if ((rc = seccomp_load(ctx)) != 0) return fail_seccomp("seccomp_load", rc);
  // Loaded: keep the context (a few KiB, for the rest of the worker's life) instead of freeing it under the
  // filter.
  filter.ctx = nullptr;
  return nullptr;
}

}  // namespace polkavm::detail::linux_sandbox::worker
