// The Linux sandbox, host side: worker processes, their pool, and the probe that tells whether this kernel
// can run them.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "polkavm/error.hpp"

namespace polkavm::detail {
struct EngineState;
class Sandbox;
}  // namespace polkavm::detail

namespace polkavm::detail::linux_sandbox {

class Worker;

/// Idle workers of one engine, ready for the next instance. Thread-safe.
class WorkerPool {
 public:
  /// Keeps at most `capacity` idle workers; `sandboxing` false starts them without namespaces or seccomp.
  WorkerPool(uint32_t capacity, bool sandboxing);
  ~WorkerPool();
  /// An idle worker, or a new one.
  Result<std::unique_ptr<Worker>> acquire();
  /// Takes back a worker whose instance is gone: reset and kept if it is healthy and there is room.
  void release(std::unique_ptr<Worker> worker);

 private:
  uint32_t capacity_;
  bool sandboxing_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<Worker>> idle_;
};

std::shared_ptr<WorkerPool> make_worker_pool(uint32_t capacity, bool sandboxing);

/// Why Config::core_pinning cannot work here (the kernel refuses to set a thread's affinity), or nothing.
std::optional<std::string> core_pinning_unsupported_reason();

/// Why this process cannot run the Linux sandbox (with its namespaces and seccomp filter), or nothing.
/// Probed once, by starting a worker.
std::optional<std::string> unsupported_reason();

/// The sandbox of one instance, holding a worker from `engine`'s pool.
std::unique_ptr<Sandbox> make_sandbox(const EngineState& engine);

/// Tests only: the worker program to start instead of the one built into the library (a build with the
/// hostile test payloads). Must be called before the first worker starts.
void set_worker_image_for_testing(std::span<const uint8_t> image);

/// The process id of a worker (tests: to signal it).
int worker_pid(const Sandbox& sandbox);
/// Whether the instance's guest memory is paged on demand through the worker's userfaultfd (tests).
bool pages_on_demand(const Sandbox& sandbox);
/// Tests only: makes the worker run hostile payload `hook` (a worker test build) and waits for the result.
Result<void> run_test_hook(Sandbox& sandbox, uint64_t hook);

}  // namespace polkavm::detail::linux_sandbox
