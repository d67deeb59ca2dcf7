// What the host and the Linux sandbox's worker process agree on: the file descriptors the worker starts
// with, the fixed addresses it maps them at, and the control page through which requests and their results
// pass. Included by both sides; the worker is a separate static program, so this header stays free of the
// library's other headers (vm_ctx.hpp is self-contained).
//
// The protocol: the host fills in a request (command and arguments) while the worker waits, stores
// State::Request and wakes the worker if it sleeps; the worker carries the request out, stores State::Done and
// wakes the host if it sleeps. Each side spins briefly before it sleeps on the futex, so a round trip on an
// idle machine needs no system call. Nothing the worker writes is trusted by the host.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "compiler/vm_ctx.hpp"

namespace polkavm::detail::linux_sandbox {

// File descriptors the worker inherits (everything else is closed before it starts).
inline constexpr int kControlFd = 3;  // the control page (memfd, read-write)
inline constexpr int kMemoryFd = 4;   // guest memory (memfd of kGuestMemorySize bytes, read-write)
inline constexpr int kCodeFd = 5;     // machine code and jump table (memfd, opened read-only)
/// A Unix socket, used once at start-up: the worker sends the host its userfaultfd (SCM_RIGHTS), or, when
/// the kernel has none for it, a message without a descriptor holding the errno. Closed before setup ends.
inline constexpr int kSocketFd = 6;

// Where the worker maps them. Guest memory sits alone in a fixed range, so that no guest address (32-bit,
// relative to the gs base) reaches anything else in the worker.
inline constexpr uintptr_t kGuestMemoryAddress = 0x1000'0000'0000;
inline constexpr uint64_t kGuestMemorySize = (uint64_t(1) << 32) + 0x10000;  // 4 GiB plus the guard
inline constexpr uintptr_t kCodeAddress = 0x2000'0000'0000;                 // execute-only
inline constexpr uint64_t kMaxCodeSize = uint64_t(1) << 32;
inline constexpr uintptr_t kTableAddress = 0x2800'0000'0000;  // the dynamic jump table, read-only
inline constexpr uint64_t kMaxTableSize = uint64_t(1) << 32;
inline constexpr uintptr_t kControlAddress = 0x3000'0000'0000;

enum class State : uint32_t {
  Idle = 0,     // nobody asked for anything yet
  Request = 1,  // the host has posted a request; the worker owns the page
  Done = 2,     // the worker has finished the request (or its start-up); the host owns the page
};

enum class Command : uint32_t {
  None = 0,
  /// Apply the pending protection changes, then enter the code at ctx.target with the guest state in ctx.
  Run = 1,
  /// Apply the pending protection changes only.
  Protect = 2,
  /// Map [0, code_size) of kCodeFd at kCodeAddress (execute-only) and [table_offset, table_offset +
  /// table_size) at kTableAddress (read-only).
  MapCode = 3,
  /// Test builds of the worker only: run the hostile payload `test_hook` (an attacker's code after setup).
  TestHook = 5,
};

/// A change of the hardware protection of guest memory, in the worker's mapping: [begin, end) relative to
/// kGuestMemoryAddress, page-aligned; prot is PROT_NONE, PROT_READ or PROT_READ | PROT_WRITE.
struct ProtectOp {
  uint64_t begin, end;
  uint32_t prot;
  uint32_t reserved;
};
inline constexpr uint32_t kMaxProtectOps = 2048;

/// Laid out for the round trip of a run: the request line and the guest state are all that moves between
/// the cores on an ecalli (each cache line that changes hands costs tens to hundreds of nanoseconds), and the
/// host writes only the registers it changed. What changes rarely lives on other lines.
struct Control {
  // The request line.
  alignas(64) std::atomic<uint32_t> state;
  Command command;
  uint32_t protect_count;  // pending ProtectOps, applied (and reset to 0) by Run, Protect and MapCode
  int32_t error;           // 0, or the errno of the failed request
  uint64_t enter;          // Run: the code's entry function (a worker address)

  // Run: the guest state in and out. code_begin, code_end and fault_stub are set when the code is mapped;
  // the worker checks them on every run (and sets ctx.exit to Trap before each).
  alignas(64) compiler::VmCtx ctx;

  alignas(64) std::atomic<uint32_t> worker_sleeping;  // the worker waits in futex_wait on `state`
  alignas(64) std::atomic<uint32_t> host_sleeping;    // the host does

  alignas(64) uint64_t code_size, table_offset, table_size;  // MapCode
  uint64_t test_hook;                                          // TestHook
  char message[256];  // why the request or the start-up failed (NUL-terminated)
  ProtectOp protect[kMaxProtectOps];
};

/// How long each side spins on the control page before it sleeps on the futex, in time-stamp counter cycles
/// (about 20 to 70 µs at today's 1.5–5 GHz): long enough to cover a short guest run or host call, short enough
/// that an idle instance soon stops costing a core.
inline constexpr uint64_t kSpinCycles = 100'000;
/// How long the host then yields its core before it sleeps (about 1 to 3 ms; the worker does not yield: it
/// has nothing else to do, and a host busy elsewhere must not cost a core for long).
inline constexpr uint64_t kYieldCycles = 5'000'000;

inline constexpr size_t kControlSize = (sizeof(Control) + 4095) & ~size_t(4095);

static_assert(std::atomic<uint32_t>::is_always_lock_free, "the control page is shared between processes");

}  // namespace polkavm::detail::linux_sandbox
