// The Linux sandbox, host side. Each instance of compiled code runs in a worker process of its own: a small
// static program embedded in the library (worker/main.cpp), started from a sealed memfd in new user, PID,
// mount, network, IPC, UTS and cgroup namespaces. The worker shares three memfds with the host: guest memory
// (mapped read-write on both sides), the machine code (written by the host, mapped execute-only by the
// worker) and a control page. Requests pass through the control page (protocol.hpp).
#include "sandbox/linux/linux_sandbox.hpp"

#include <fcntl.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <thread>

#include <fmt/format.h>

#include "runtime/backend.hpp"
#include "sandbox/linux/core_pinning.hpp"
#include "sandbox/linux/protocol.hpp"
#include "sandbox/sandbox.hpp"

// The worker program, embedded by worker_image.S.
extern "C" const uint8_t polkavm_worker_image[];
extern "C" const uint8_t polkavm_worker_image_end[];

namespace polkavm::detail {

std::unique_ptr<Sandbox> make_linux_sandbox(const EngineState& engine) { return linux_sandbox::make_sandbox(engine); }

namespace linux_sandbox {
namespace {

using compiler::CompiledCode;
using compiler::Exit;
using compiler::VmCtx;

constexpr uint64_t align_page(uint64_t n) { return (n + 4095) & ~uint64_t(4095); }

/// Text the worker wrote, as printable ASCII (it may write anything).
std::string worker_text(const char* text, size_t capacity) {
  std::string out(text, strnlen(text, capacity));
  for (char& c : out)
    if (c < 0x20 || c > 0x7e) c = '?';
  return out;
}

std::string errno_text(int error) { return fmt::format("{} (errno {})", std::strerror(error), error); }

long futex(std::atomic<uint32_t>* word, int op, uint32_t value, const timespec* timeout = nullptr) {
  return syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), op, value, timeout, nullptr, 0);
}

/// A cheap clock for bounding spins: the time-stamp counter.
inline uint64_t spin_clock() {
#if defined(__x86_64__)
  return __rdtsc();
#else
  return static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
#endif
}

inline void cpu_relax() {
#if defined(__x86_64__)
  _mm_pause();
#endif
}

// ------------------------------------------------------------------------------------------------
// The worker's executable: a sealed memfd holding the embedded image.

std::span<const uint8_t> g_image_override;

struct Executable {
  int fd = -1;
  std::string error;
};

const Executable& executable() {
  static const Executable exe = [] {
    Executable e;
    std::span<const uint8_t> image = g_image_override.empty()
                                         ? std::span<const uint8_t>(polkavm_worker_image, polkavm_worker_image_end)
                                         : g_image_override;
    constexpr unsigned kMfdExec = 0x10;  // MFD_EXEC (Linux 6.3): executable even where memfds default to noexec
    int fd = static_cast<int>(syscall(SYS_memfd_create, "polkavm-worker", MFD_CLOEXEC | MFD_ALLOW_SEALING | kMfdExec));
    if (fd < 0 && errno == EINVAL) fd = static_cast<int>(syscall(SYS_memfd_create, "polkavm-worker", MFD_CLOEXEC | MFD_ALLOW_SEALING));
    if (fd < 0) {
      e.error = "cannot create a memfd for the sandbox worker: " + errno_text(errno);
      return e;
    }
    for (size_t done = 0; done < image.size();) {
      ssize_t n = write(fd, image.data() + done, image.size() - done);
      if (n <= 0) {
        e.error = "cannot write the sandbox worker: " + errno_text(errno);
        close(fd);
        return e;
      }
      done += static_cast<size_t>(n);
    }
    // Sealed: nobody (not even this process) can change the program workers start from.
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) != 0) {
      e.error = "cannot seal the sandbox worker's memfd: " + errno_text(errno);
      close(fd);
      return e;
    }
    e.fd = fd;
    return e;
  }();
  return exe;
}

// ------------------------------------------------------------------------------------------------
// Starting a worker. The child gets the parent-death signal, which the kernel ties to the parent *thread*:
// workers are therefore started from one thread that lives as long as the process, never from a caller's
// thread that may end while its workers are still in use.

class Spawner {
 public:
  static Spawner& get() {
    static Spawner* spawner = new Spawner();  // never destroyed: its thread runs until the process ends
    return *spawner;
  }
  /// Runs `job` on the spawner thread and waits for it.
  void run(const std::function<void()>& job) {
    std::lock_guard caller(call_mutex_);
    std::unique_lock lock(mutex_);
    job_ = &job;
    done_ = false;
    cv_.notify_all();
    cv_.wait(lock, [&] { return done_; });
  }

 private:
  Spawner() {
    // The thread takes no signals meant for the host; its children start from an empty mask (child_main).
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &previous);
    std::thread([this] {
      std::unique_lock lock(mutex_);
      for (;;) {
        cv_.wait(lock, [&] { return job_ != nullptr; });
        (*job_)();
        job_ = nullptr;
        done_ = true;
        cv_.notify_all();
      }
    }).detach();
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  }
  std::mutex call_mutex_, mutex_;
  std::condition_variable cv_;
  const std::function<void()>* job_ = nullptr;
  bool done_ = false;
};

/// What the child needs between clone and exec, prepared by the parent: the child of a multi-threaded
/// process may only make system calls.
struct ChildSetup {
  bool sandboxing;
  int exe_fd, control_fd, memory_fd, code_fd, socket_fd;
  char uid_map[48], gid_map[48];
  char* argv[3];
  char* envp[1];
};

[[noreturn]] void child_exit() {
  syscall(SYS_exit_group, 127);
  __builtin_unreachable();
}

bool child_write_file(const char* path, const char* text) {
  const int fd = static_cast<int>(syscall(SYS_openat, AT_FDCWD, path, O_WRONLY | O_CLOEXEC));
  if (fd < 0) return false;
  const size_t length = std::strlen(text);
  const bool ok = syscall(SYS_write, fd, text, length) == static_cast<long>(length);
  syscall(SYS_close, fd);
  return ok;
}

/// Between clone and exec, in the child: raw system calls only.
[[noreturn]] void child_main(const ChildSetup& setup) {
  if (syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) child_exit();
  if (setup.sandboxing) {
    // Root inside the new user namespace, mapped to our own ids outside it; no supplementary groups.
    if (!child_write_file("/proc/self/setgroups", "deny") || !child_write_file("/proc/self/uid_map", setup.uid_map) ||
        !child_write_file("/proc/self/gid_map", setup.gid_map))
      child_exit();
  }
  // The protocol's descriptors at their fixed numbers (first out of the way, as they may overlap), the
  // program at kExecFd; everything else closed.
  constexpr int kExecFd = kSocketFd + 1;
  const int sources[5] = {setup.control_fd, setup.memory_fd, setup.code_fd, setup.socket_fd, setup.exe_fd};
  const int targets[5] = {kControlFd, kMemoryFd, kCodeFd, kSocketFd, kExecFd};
  int moved[5];
  for (int i = 0; i < 5; ++i)
    if ((moved[i] = static_cast<int>(syscall(SYS_fcntl, sources[i], F_DUPFD_CLOEXEC, 100))) < 0) child_exit();
  for (int i = 0; i < 5; ++i)
    if (syscall(SYS_dup3, moved[i], targets[i], targets[i] == kExecFd ? O_CLOEXEC : 0) < 0) child_exit();
  // Never start with a host descriptor open.
  if (syscall(SYS_close_range, static_cast<unsigned>(kExecFd + 1), ~0u, 0u) != 0) child_exit();
  // The spawner thread blocks every signal; the worker needs SIGSEGV and SIGBUS (the mask survives exec).
  const uint64_t empty_mask = 0;
  if (syscall(SYS_rt_sigprocmask, SIG_SETMASK, &empty_mask, nullptr, sizeof(empty_mask)) != 0) child_exit();
  syscall(SYS_execveat, kExecFd, "", setup.argv, setup.envp, AT_EMPTY_PATH);
  child_exit();
}

}  // namespace

// ------------------------------------------------------------------------------------------------
// Worker

class Worker {
 public:
  static Result<std::unique_ptr<Worker>> start(bool sandboxing);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  Control& control() { return *control_; }
  uint8_t* memory() const { return memory_; }
  int pid() const { return pid_; }
  bool healthy() const { return !broken_; }
  /// Never reused (it reported something impossible: it may be compromised).
  void abandon() { broken_ = true; }
  /// Whether the process still runs (reaped otherwise).
  bool alive() { return !broken_ && check_alive().ok(); }

  /// Posts `command` (its arguments already in the control page) and waits for the worker to finish it.
  Result<void> request(Command command);
  /// Queues a protection change of guest memory for the worker (sent with the next request).
  bool queue_protect(uint64_t begin, uint64_t end, int prot);
  /// Drops guest memory's contents in [begin, end).
  bool discard(uint64_t begin, uint64_t end) {
    return fallocate(memory_fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(begin),
                     static_cast<off_t>(end - begin)) == 0;
  }
  /// Makes the worker hold `code` (nothing to do if it does already).
  Result<void> map_code(const CompiledCode& code);
  /// Guest memory back to all zeroes and inaccessible, for the next instance.
  bool reset_memory();

  /// Whether the kernel gave the worker a userfaultfd (on-demand paging without protection changes).
  bool has_userfaultfd() const { return uffd_ >= 0; }
  bool pages_on_demand() const { return on_demand_; }
  /// On-demand paging for this instance: the worker's 4 GiB of guest memory is registered with the
  /// userfaultfd and made readable and writable, so that a page is accessible exactly when it is present in
  /// the memfd (an absent one raises SIGBUS in the worker). Undone by reset_memory.
  Result<void> start_on_demand_paging();
  /// Allocates [begin, end) of guest memory (zeroed where it was absent), so that the worker can reach it.
  bool populate(uint64_t begin, uint64_t end) {
    return fallocate(memory_fd_, FALLOC_FL_KEEP_SIZE, static_cast<off_t>(begin), static_cast<off_t>(end - begin)) == 0;
  }

 private:
  Worker() = default;
  /// Waits for State::Done. `timeout`: how long a live worker may take (start-up); none for requests, which
  /// may run guest code for as long as it runs.
  Result<void> wait(std::optional<std::chrono::milliseconds> timeout = std::nullopt);
  /// Whether the worker still runs; reaps it and says why not otherwise.
  Result<void> check_alive();
  /// Takes the worker's userfaultfd from the start-up socket (or notes why there is none).
  void receive_userfaultfd(int socket);
  Error fail(std::string message) {
    broken_ = true;
    return Error(std::move(message), ErrorKind::Sandbox);
  }

  int pid_ = -1;
  bool reaped_ = false;
  bool broken_ = false;
  int memory_fd_ = -1, code_fd_ = -1;
  int uffd_ = -1;                 // the worker's userfaultfd (it acts on the worker's memory), or none
  bool on_demand_ = false;        // guest memory is registered with it
  std::string uffd_unavailable_;  // why there is none
  Control* control_ = nullptr;
  uint8_t* memory_ = nullptr;
  uint64_t code_id_ = 0;  // the CompiledCode the worker holds
  uint32_t pending_protects_ = 0;  // ProtectOps written to the page for the next request
};

Result<std::unique_ptr<Worker>> Worker::start(bool sandboxing) {
  const Executable& exe = executable();
  if (exe.fd < 0) return Error(exe.error);
  std::unique_ptr<Worker> worker(new Worker());
  auto make_memfd = [](const char* name, uint64_t size) {
    int fd = static_cast<int>(syscall(SYS_memfd_create, name, MFD_CLOEXEC));
    if (fd >= 0 && ftruncate(fd, static_cast<off_t>(size)) != 0) {
      close(fd);
      fd = -1;
    }
    return fd;
  };
  worker->memory_fd_ = make_memfd("polkavm-guest-memory", kGuestMemorySize);
  worker->code_fd_ = make_memfd("polkavm-code", 0);
  const int control_fd = make_memfd("polkavm-control", kControlSize);
  if (worker->memory_fd_ < 0 || worker->code_fd_ < 0 || control_fd < 0) {
    const int error = errno;
    if (control_fd >= 0) close(control_fd);
    return Error("cannot create the sandbox's shared memory: " + errno_text(error), ErrorKind::Sandbox);
  }
  int sockets[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sockets) != 0) {
    const int error = errno;
    close(control_fd);
    return Error("cannot create the sandbox's start-up socket: " + errno_text(error), ErrorKind::Sandbox);
  }
  struct Closer {
    int fd;
    ~Closer() { close(fd); }
  } host_socket{sockets[0]}, worker_socket{sockets[1]};
  void* control = mmap(nullptr, kControlSize, PROT_READ | PROT_WRITE, MAP_SHARED, control_fd, 0);
  void* memory = mmap(nullptr, kGuestMemorySize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE,
                      worker->memory_fd_, 0);
  if (control == MAP_FAILED || memory == MAP_FAILED) {
    const int error = errno;
    if (control != MAP_FAILED) munmap(control, kControlSize);
    if (memory != MAP_FAILED) munmap(memory, kGuestMemorySize);
    close(control_fd);
    return Error("cannot map the sandbox's shared memory: " + errno_text(error), ErrorKind::Sandbox);
  }
  worker->control_ = new (control) Control();
  worker->memory_ = static_cast<uint8_t*>(memory);

  // The worker gets the code read-only: it can map it executable but never write it.
  const std::string code_path = fmt::format("/proc/self/fd/{}", worker->code_fd_);
  const int code_ro = open(code_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (code_ro < 0 || (fcntl(code_ro, F_GETFL) & O_ACCMODE) != O_RDONLY) {
    // Without a read-only descriptor the worker could make its code writable: no worker at all.
    const int error = errno;
    if (code_ro >= 0) close(code_ro);
    close(control_fd);
    return Error("cannot open the sandbox's code read-only (is /proc mounted?): " + errno_text(error), ErrorKind::Sandbox);
  }

  ChildSetup setup{};
  setup.sandboxing = sandboxing;
  setup.exe_fd = exe.fd;
  setup.control_fd = control_fd;
  setup.memory_fd = worker->memory_fd_;
  setup.code_fd = code_ro;
  setup.socket_fd = worker_socket.fd;
  fmt::format_to_n(setup.uid_map, sizeof(setup.uid_map) - 1, "0 {} 1", geteuid());
  fmt::format_to_n(setup.gid_map, sizeof(setup.gid_map) - 1, "0 {} 1", getegid());
  static char arg0[] = "polkavm-worker", on[] = "1", off[] = "0";
  setup.argv[0] = arg0;
  setup.argv[1] = sandboxing ? on : off;
  setup.argv[2] = nullptr;
  setup.envp[0] = nullptr;

  // No exit signal: the host's SIGCHLD handling (if any) never sees our workers; we reap them with __WALL.
  const unsigned long flags = sandboxing ? CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC |
                                               CLONE_NEWUTS | CLONE_NEWCGROUP
                                         : 0;
  long pid = -1;
  int clone_error = 0;
  Spawner::get().run([&] {
    pid = syscall(SYS_clone, flags, nullptr, nullptr, nullptr, nullptr);
    if (pid == 0) child_main(setup);
    clone_error = errno;
  });
  close(control_fd);
  close(code_ro);
  if (pid < 0) {
    const char* hint = clone_error == EPERM || clone_error == ENOSPC || clone_error == EINVAL || clone_error == EUSERS
                           ? "; unprivileged user namespaces may be disabled (sysctls user.max_user_namespaces, "
                             "kernel.unprivileged_userns_clone, kernel.apparmor_restrict_unprivileged_userns)"
                           : "";
    return Error(fmt::format("cannot start the sandbox worker: clone failed: {}{}", errno_text(clone_error), hint), ErrorKind::Sandbox);
  }
  worker->pid_ = static_cast<int>(pid);
  // Start-up ends with the worker reporting Done (or an error and its exit).
  if (Result<void> ready = worker->wait(std::chrono::seconds(10)); !ready)
    return Error("the sandbox worker failed to start: " + ready.error().message(), ErrorKind::Sandbox);
  worker->receive_userfaultfd(host_socket.fd);
  return worker;
}

void Worker::receive_userfaultfd(int socket) {
  int error = 0;
  iovec data{&error, sizeof(error)};
  alignas(cmsghdr) char buffer[CMSG_SPACE(sizeof(int))] = {};
  msghdr message{};
  message.msg_iov = &data;
  message.msg_iovlen = 1;
  message.msg_control = buffer;
  message.msg_controllen = sizeof(buffer);
  // The worker sent it before it reported ready.
  if (recvmsg(socket, &message, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) != static_cast<ssize_t>(sizeof(error))) {
    uffd_unavailable_ = "the worker sent no userfaultfd";
    return;
  }
  const cmsghdr* header = CMSG_FIRSTHDR(&message);
  if (header == nullptr || header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS ||
      header->cmsg_len != CMSG_LEN(sizeof(int))) {
    uffd_unavailable_ = "the kernel gives the worker no userfaultfd: " + errno_text(error);
    return;
  }
  int fd = -1;
  std::memcpy(&fd, CMSG_DATA(header), sizeof(int));
  // Only a userfaultfd is kept (the registration below would fail on anything else anyway).
  char target[64] = {};
  const std::string link = fmt::format("/proc/self/fd/{}", fd);
  if (readlink(link.c_str(), target, sizeof(target) - 1) < 0 || std::string_view(target) != "anon_inode:[userfaultfd]") {
    close(fd);
    uffd_unavailable_ = "the worker sent something other than a userfaultfd";
    return;
  }
  uffd_ = fd;
}

Result<void> Worker::start_on_demand_paging() {
  if (uffd_ < 0) return Error("on-demand paging in the sandbox needs a userfaultfd: " + uffd_unavailable_, ErrorKind::Sandbox);
  uffdio_register reg{};
  reg.range.start = kGuestMemoryAddress;
  reg.range.len = uint64_t(1) << 32;  // not the guard past it, which stays inaccessible
  reg.mode = UFFDIO_REGISTER_MODE_MISSING;
  if (ioctl(uffd_, UFFDIO_REGISTER, &reg) != 0)
    return fail("cannot register the sandbox's guest memory with its userfaultfd: " + errno_text(errno));
  on_demand_ = true;
  if (!queue_protect(0, reg.range.len, PROT_READ | PROT_WRITE))
    return fail("cannot make the sandbox's guest memory accessible");
  return {};
}

Worker::~Worker() {
  if (pid_ > 0 && !reaped_) {
    kill(pid_, SIGKILL);
    int status = 0;
    while (waitpid(pid_, &status, __WALL) < 0 && errno == EINTR) {
    }
  }
  if (control_) munmap(control_, kControlSize);
  if (memory_) munmap(memory_, kGuestMemorySize);
  if (memory_fd_ >= 0) close(memory_fd_);
  if (code_fd_ >= 0) close(code_fd_);
  if (uffd_ >= 0) close(uffd_);
}

Result<void> Worker::check_alive() {
  int status = 0;
  const pid_t r = waitpid(pid_, &status, WNOHANG | WUNTRACED | __WALL);
  if (r == 0) return {};
  if (r < 0) return fail("cannot check on the sandbox worker: " + errno_text(errno));
  if (WIFSTOPPED(status)) {
    // A stopped worker would hang us: it is discarded.
    const int sig = WSTOPSIG(status);
    kill(pid_, SIGKILL);
    waitpid(pid_, &status, __WALL);
    reaped_ = true;
    return fail(fmt::format("the sandbox worker was stopped (signal {}) and has been killed", sig));
  }
  reaped_ = true;
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    return fail(fmt::format("the sandbox worker was killed by signal {} (SIG{}){}", sig, sigabbrev_np(sig) ? sigabbrev_np(sig) : "?",
                            sig == SIGSYS ? ": it made a system call its seccomp filter forbids" : ""));
  }
  const std::string message = worker_text(control_->message, sizeof(control_->message));
  return fail(fmt::format("the sandbox worker exited with status {}{}{}", WEXITSTATUS(status),
                          message.empty() ? "" : ": ", message));
}

Result<void> Worker::request(Command command) {
  if (broken_) return Error("the sandbox worker is broken", ErrorKind::Sandbox);
  // The worker spins on the request line: each field is written only when it changes, so that the line
  // crosses to the worker's core once, with the state. The count lives here, not in the page: the worker
  // may write anything there. The requests that apply protection changes take them; the others leave them
  // pending.
  const bool applies = command == Command::Run || command == Command::Protect || command == Command::MapCode;
  const uint32_t protect_count = applies ? pending_protects_ : 0;
  if (applies) pending_protects_ = 0;
  if (control_->command != command) control_->command = command;
  if (control_->error != 0) control_->error = 0;
  if (control_->protect_count != protect_count) control_->protect_count = protect_count;
  control_->state.store(static_cast<uint32_t>(State::Request), std::memory_order_seq_cst);
  if (control_->worker_sleeping.load(std::memory_order_seq_cst)) futex(&control_->state, FUTEX_WAKE, 1);
  if (Result<void> done = wait(); !done) return done;
  if (const int error = control_->error; error != 0)
    return fail(fmt::format("the sandbox worker failed: {} ({})", worker_text(control_->message, sizeof(control_->message)),
                            errno_text(error)));
  return {};
}

Result<void> Worker::wait(std::optional<std::chrono::milliseconds> timeout) {
  // Read only when there is a timeout: on the ecalli path the clock costs more than the answer often does.
  const auto give_up = timeout ? std::chrono::steady_clock::now() + *timeout : std::chrono::steady_clock::time_point();
  constexpr uint32_t kDone = static_cast<uint32_t>(State::Done);
  auto done = [&] { return control_->state.load(std::memory_order_acquire) == kDone; };
  // Spin first: a short guest run (up to the next ecalli) needs no system call.
  const uint64_t spun = spin_clock() + kSpinCycles;
  do {
    for (int i = 0; i < 16; ++i) {
      if (done()) return {};
      cpu_relax();
    }
  } while (spin_clock() < spun);
  // Then yield the core to whoever else wants it, for a while: a guest run of a millisecond or two (a game
  // frame) ends without the wake-up of a sleeping thread, which costs tens of microseconds on a virtual
  // machine whose idle core has halted. (Not while a worker starts: that takes milliseconds anyway.)
  const uint64_t yielded = spin_clock() + (timeout ? 0 : kYieldCycles);
  while (spin_clock() < yielded) {
    if (done()) return {};
    sched_yield();
  }
  // Then sleep, waking every 10 ms to see whether the worker is still there.
  control_->host_sleeping.store(1, std::memory_order_seq_cst);
  Result<void> result;
  for (;;) {
    const uint32_t state = control_->state.load(std::memory_order_seq_cst);
    if (state == kDone) break;
    const timespec poll{0, 10'000'000};
    futex(&control_->state, FUTEX_WAIT, state, &poll);
    if (done()) break;
    if (Result<void> alive = check_alive(); !alive) {
      result = alive;
      break;
    }
    if (timeout && std::chrono::steady_clock::now() > give_up) {
      result = fail(fmt::format("the sandbox worker did not answer within {} ms", timeout->count()));
      break;
    }
  }
  control_->host_sleeping.store(0, std::memory_order_relaxed);
  return result;
}

bool Worker::queue_protect(uint64_t begin, uint64_t end, int prot) {
  if (broken_) return false;
  if (pending_protects_ == kMaxProtectOps && !request(Command::Protect)) return false;
  control_->protect[pending_protects_++] = ProtectOp{begin, end, static_cast<uint32_t>(prot), 0};
  return true;
}

Result<void> Worker::map_code(const CompiledCode& code) {
  if (code_id_ == code.id()) return {};
  const std::vector<uintptr_t> table = code.djump_table(kCodeAddress);
  // The table lives far past any code, so that a code mapping (which may be longer than this code, see the
  // worker's map_code) never covers it; the memfd is sparse in between.
  const uint64_t table_offset = kMaxCodeSize;
  const uint64_t table_bytes = table.size() * sizeof(uintptr_t);
  if (code.size() > kMaxCodeSize || table_bytes > kMaxTableSize)
    return Error(fmt::format("the module's machine code is too large for the sandbox ({} bytes)", code.size()), ErrorKind::Sandbox);
  auto write_all = [&](const void* data, uint64_t size, uint64_t offset) {
    const auto* bytes = static_cast<const uint8_t*>(data);
    for (uint64_t done = 0; done < size;) {
      const ssize_t n = pwrite(code_fd_, bytes + done, size - done, static_cast<off_t>(offset + done));
      if (n <= 0) return false;
      done += static_cast<uint64_t>(n);
    }
    return true;
  };
  code_id_ = 0;
  if (ftruncate(code_fd_, static_cast<off_t>(table_offset + align_page(table_bytes))) != 0 ||
      !write_all(reinterpret_cast<const void*>(code.base()), code.size(), 0) ||
      !write_all(table.data(), table_bytes, table_offset))
    return Error("cannot write machine code for the sandbox: " + errno_text(errno), ErrorKind::Sandbox);
  Control& c = *control_;
  c.code_size = code.size();
  c.table_offset = table_offset;
  c.table_size = table_bytes;
  if (Result<void> mapped = request(Command::MapCode); !mapped) return mapped;
  code_id_ = code.id();
  return {};
}

bool Worker::reset_memory() {
  if (broken_) return false;
  if (on_demand_) {
    uffdio_range range{kGuestMemoryAddress, uint64_t(1) << 32};
    if (ioctl(uffd_, UFFDIO_UNREGISTER, &range) != 0) return false;
    on_demand_ = false;
  }
  if (!discard(0, kGuestMemorySize)) return false;
  // One change makes everything inaccessible again; it reaches the worker with the next request.
  control_->protect[0] = ProtectOp{0, kGuestMemorySize, PROT_NONE, 0};
  pending_protects_ = 1;
  return true;
}

// ------------------------------------------------------------------------------------------------
// Pool

namespace {

/// Healthy idle workers that no engine holds: the probe's, and those of engines that ended. A new engine's
/// pool starts from them, so a process that creates engines one after another starts few workers. Wiped
/// workers hold nothing of their earlier instances.
class SpareWorkers {
 public:
  static SpareWorkers& get() {
    static SpareWorkers* spares = new SpareWorkers();  // never destroyed: workers end with the process
    return *spares;
  }
  void put(std::unique_ptr<Worker> worker, bool sandboxing) {
    std::lock_guard lock(mutex_);
    auto& list = sandboxing ? sandboxed_ : unsandboxed_;
    if (list.size() < kCapacity) list.push_back(std::move(worker));
  }
  std::unique_ptr<Worker> take(bool sandboxing) {
    std::lock_guard lock(mutex_);
    auto& list = sandboxing ? sandboxed_ : unsandboxed_;
    if (list.empty()) return nullptr;
    std::unique_ptr<Worker> worker = std::move(list.back());
    list.pop_back();
    return worker;
  }

 private:
  static constexpr size_t kCapacity = 4;
  std::mutex mutex_;
  std::vector<std::unique_ptr<Worker>> sandboxed_, unsandboxed_;
};

}  // namespace

WorkerPool::WorkerPool(uint32_t capacity, bool sandboxing) : capacity_(capacity), sandboxing_(sandboxing) {}

WorkerPool::~WorkerPool() {
  for (std::unique_ptr<Worker>& worker : idle_) SpareWorkers::get().put(std::move(worker), sandboxing_);
}

std::shared_ptr<WorkerPool> make_worker_pool(uint32_t capacity, bool sandboxing) {
  return std::make_shared<WorkerPool>(capacity, sandboxing);
}

Result<std::unique_ptr<Worker>> WorkerPool::acquire() {
  for (;;) {
    std::unique_ptr<Worker> worker;
    {
      std::lock_guard lock(mutex_);
      if (idle_.empty()) break;
      worker = std::move(idle_.back());
      idle_.pop_back();
    }
    // An idle worker may have died meanwhile (killed from outside): it is discarded.
    if (worker->alive()) return worker;
  }
  while (std::unique_ptr<Worker> spare = SpareWorkers::get().take(sandboxing_))
    if (spare->alive()) return spare;
  return Worker::start(sandboxing_);
}

void WorkerPool::release(std::unique_ptr<Worker> worker) {
  if (!worker || !worker->healthy() || !worker->reset_memory()) return;  // a broken worker is discarded
  std::lock_guard lock(mutex_);
  if (idle_.size() < capacity_) idle_.push_back(std::move(worker));
}

// ------------------------------------------------------------------------------------------------
// The sandbox of one instance

namespace {

/// Guest memory in the worker's memfd: the host writes it directly; protection changes go to the worker.
/// With on-demand paging, a page's presence in the memfd is what makes it accessible to the guest (the
/// worker's mapping is readable and writable throughout and registered with its userfaultfd): mapping a page
/// allocates it, and unmapping it (a discard, which GuestMemory always does first) punches it out again.
class WorkerBacking final : public MemoryBacking {
 public:
  WorkerBacking(Worker& worker, bool on_demand) : worker_(worker), on_demand_(on_demand) { base_ = worker.memory(); }
  bool protect(uint64_t begin, uint64_t end, int prot) override {
    if (!on_demand_) return worker_.queue_protect(begin, end, prot);
    if (prot == PROT_NONE) return true;  // discarded just before: absent, so inaccessible
    if (!worker_.populate(begin, end)) return false;
    // Until a page is made read-only, all of guest memory is writable in the worker: nothing to change.
    if (prot == (PROT_READ | PROT_WRITE) && !any_read_only_) return true;
    any_read_only_ = true;
    return worker_.queue_protect(begin, end, prot);
  }
  bool discard(uint64_t begin, uint64_t end) override { return worker_.discard(begin, end); }
  bool host_writes_anywhere() const override { return true; }

 private:
  Worker& worker_;
  bool on_demand_;
  bool any_read_only_ = false;
};

class LinuxSandbox final : public Sandbox {
 public:
  LinuxSandbox(std::shared_ptr<WorkerPool> pool, CorePinning pinning) : pool_(std::move(pool)), pinning_(pinning) {}
  ~LinuxSandbox() override {
    pin_ = CorePin();  // before the worker goes back to the pool
    if (worker_) pool_->release(std::move(worker_));
  }

  Result<std::unique_ptr<MemoryBacking>> make_memory_backing(bool dynamic_paging) override {
    Result<std::unique_ptr<Worker>> worker = pool_->acquire();
    if (!worker) return worker.error();
    worker_ = std::move(worker).value();
    pin_ = CorePin::place(pinning_, worker_->pid());
    // Without a userfaultfd (Linux before 5.11), dynamic paging works through protection changes instead,
    // one mprotect in the worker per change of the host's page map.
    const bool on_demand = dynamic_paging && worker_->has_userfaultfd();
    if (on_demand)
      if (Result<void> started = worker_->start_on_demand_paging(); !started) return started.error();
    return std::unique_ptr<MemoryBacking>(new WorkerBacking(*worker_, on_demand));
  }

  Result<void> execute(const CompiledCode& code, VmCtx& ctx, uint32_t target) override {
    if (!worker_) return Error("the instance has no sandbox worker", ErrorKind::Sandbox);
    if (Result<void> mapped = worker_->map_code(code); !mapped) return mapped;
    Control& c = worker_->control();
    VmCtx& w = c.ctx;
    // Only what changed since the worker last answered is written: a line written here must travel to the
    // worker's core. (The worker may have written anything meanwhile; it then runs on what it wrote.)
    if (!synced_ || synced_code_ != code.id()) {
      w.djump_table = reinterpret_cast<const uintptr_t*>(kTableAddress);
      w.code_begin = kCodeAddress;
      w.code_end = kCodeAddress + code.size();
      w.fault_stub = kCodeAddress + code.fault_stub_offset();
      c.enter = kCodeAddress + code.enter_offset();
      std::memcpy(w.regs, ctx.regs, sizeof(w.regs));
      w.gas = ctx.gas;
      synced_ = true;
      synced_code_ = code.id();
    } else {
      for (int i = 0; i < compiler::kVmRegCount; ++i)
        if (ctx.regs[i] != seen_.regs[i]) w.regs[i] = ctx.regs[i];
      if (ctx.gas != seen_.gas) w.gas = ctx.gas;
    }
    w.target = kCodeAddress + target;
    if (Result<void> ran = worker_->request(Command::Run); !ran) return ran;
    std::memcpy(ctx.regs, w.regs, sizeof(ctx.regs));
    ctx.gas = w.gas;
    ctx.exit = w.exit;
    ctx.pc = w.pc;
    ctx.fault_rip = w.fault_rip - kCodeAddress;
    ctx.fault_address = w.fault_address - kGuestMemoryAddress;
    std::memcpy(seen_.regs, ctx.regs, sizeof(seen_.regs));
    seen_.gas = ctx.gas;
    return {};
  }

  void abandon() override {
    if (worker_) worker_->abandon();
  }

  Worker* worker() const { return worker_.get(); }

 private:
  std::shared_ptr<WorkerPool> pool_;
  CorePinning pinning_;
  std::unique_ptr<Worker> worker_;
  CorePin pin_;
  bool synced_ = false;       // the control page's guest state is what seen_ holds
  uint64_t synced_code_ = 0;  // the code whose addresses it holds
  VmCtx seen_{};              // the registers and gas the worker last reported
};

}  // namespace

std::unique_ptr<Sandbox> make_sandbox(const EngineState& engine) {
  return std::make_unique<LinuxSandbox>(engine.workers, engine.config.core_pinning);
}

std::optional<std::string> unsupported_reason() {
  static const std::optional<std::string> reason = []() -> std::optional<std::string> {
#if !defined(__x86_64__)
    return "it needs x86-64";
#else
    Result<std::unique_ptr<Worker>> worker = Worker::start(true);
    if (!worker) return worker.error().message();
    SpareWorkers::get().put(std::move(worker).value(), true);  // the first engine's first instance takes it
    return std::nullopt;
#endif
  }();
  return reason;
}

void set_worker_image_for_testing(std::span<const uint8_t> image) { g_image_override = image; }

int worker_pid(const Sandbox& sandbox) {
  const auto* linux = dynamic_cast<const LinuxSandbox*>(&sandbox);
  return linux && linux->worker() ? linux->worker()->pid() : -1;
}

bool pages_on_demand(const Sandbox& sandbox) {
  const auto* linux = dynamic_cast<const LinuxSandbox*>(&sandbox);
  return linux && linux->worker() && linux->worker()->pages_on_demand();
}

Result<void> run_test_hook(Sandbox& sandbox, uint64_t hook) {
  auto* linux = dynamic_cast<LinuxSandbox*>(&sandbox);
  if (!linux || !linux->worker()) return Error("not a Linux sandbox with a worker", ErrorKind::Sandbox);
  linux->worker()->control().test_hook = hook;
  return linux->worker()->request(Command::TestHook);
}

}  // namespace linux_sandbox
}  // namespace polkavm::detail
