// Config::core_pinning: where the Linux sandbox puts a host thread and the worker it drives.
//
// A host thread and its worker hand every ecalli to each other through shared memory, so they are fastest
// on two cores that share a cache and never move. When an instance takes a worker, the host thread is pinned
// where it runs (to that core, or to the cores sharing its last-level cache), and the worker to a core of
// its own: an idle hyperthread of the host's core, else an idle core sharing its last-level cache, else the
// least loaded other core. The placements are counted process-wide, so that instances spread out. When the
// last pinned instance of a thread goes, the thread gets its own affinity back; a worker gets the process's
// affinity back before it is reused. (The reference also moves a host thread to an idle CCX; we leave the
// host thread where the kernel put it.) The kernel may refuse a placement later (a cpuset changed): the
// instance then runs unpinned.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "polkavm/config.hpp"

namespace polkavm::detail::linux_sandbox {

struct ThreadPin;

/// One instance's placement, held while it has its worker. Movable; may be dropped on any thread.
class CorePin {
 public:
  /// Pins the calling thread (unless it is pinned already) and the worker `worker_pid`.
  static CorePin place(CorePinning mode, int worker_pid);
  CorePin() = default;
  CorePin(CorePin&& other) noexcept;
  CorePin& operator=(CorePin&& other) noexcept;
  ~CorePin();

  int host_core() const { return host_core_; }
  int worker_core() const { return worker_core_; }

 private:
  void release();
  std::shared_ptr<ThreadPin> thread_;
  int worker_pid_ = -1;
  int host_core_ = -1;
  int worker_core_ = -1;
};

/// Why pinning cannot work in this process, or nothing (probed once).
std::optional<std::string> core_pinning_unsupported_reason();

}  // namespace polkavm::detail::linux_sandbox
