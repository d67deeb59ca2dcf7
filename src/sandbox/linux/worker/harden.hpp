// The worker's self-isolation, run once at start-up after it has mapped its file descriptors and before it
// reports ready. The host has already put the worker into fresh user, PID, mount, network, IPC, UTS and
// cgroup namespaces, in which it runs as uid 0 with every capability; these steps take away, in this order,
// the filesystem, the capabilities (and with them every way back to privilege), and finally all but a handful
// of system calls.
//
// Each function returns nullptr on success, or a description of the step that failed with its errno. The
// text lives in a static buffer that the next failing call overwrites (the worker is single-threaded and
// stops at the first failure).
#pragma once

namespace polkavm::detail::linux_sandbox::worker {

/// Replaces the root of the worker's mount namespace with an empty, read-only tmpfs, so that no file of the
/// host is reachable by path (not even /proc or /dev), and sets the working directory to it.
const char* isolate_filesystem();

/// Lowers resource limits (no new processes, files or file descriptors), sets no_new_privs, makes the
/// worker non-dumpable, locks the securebits and drops every capability: bounding, ambient, effective,
/// permitted and inheritable. Needs the capabilities the worker starts with (CAP_SETPCAP in particular).
const char* drop_privileges();

/// Loads the seccomp filter that allows only the system calls seccomp_allowed_names() lists (several of them
/// only with particular arguments) and kills the whole worker on any other. Call last: afterwards the worker
/// cannot even write an error message anywhere but the control page. Requires no_new_privs, which
/// drop_privileges() has set.
const char* install_seccomp_filter();

/// The system calls the filter allows, by name, ending with nullptr.
const char* const* seccomp_allowed_names();

}  // namespace polkavm::detail::linux_sandbox::worker
