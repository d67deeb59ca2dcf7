#!/usr/bin/env bash
# The Linux sandbox seen from outside, the way an administrator would look at it: `polkatool run` (default
# configuration) runs a guest that never ends; its worker process must be seccomp-filtered (mode 2) and in
# user, pid, net and mount namespaces of its own, and must die with polkatool (PR_SET_PDEATHSIG) when
# polkatool is SIGKILLed.
#
# usage: sandbox_outside_check.sh POLKATOOL [BLOB [EXPORT]]
#   BLOB    a program whose EXPORT (default: main) runs until killed; without it, an endless loop is
#           assembled here with `polkatool assemble`.
# Exit status: 0 all checks passed, 1 a check failed, 77 this host cannot run the Linux sandbox (skipped).
set -euo pipefail

if [[ $# -lt 1 || $# -gt 3 ]]; then
  echo "usage: $0 POLKATOOL [BLOB [EXPORT]]" >&2
  exit 2
fi
polkatool=$1
blob=${2:-}
export_name=${3:-main}

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
ok() { echo "ok:   $*"; }
now_ms() {
  if [[ -n ${EPOCHREALTIME:-} ]]; then
    local t=${EPOCHREALTIME/[.,]/}
    echo $((t / 1000))
  else
    echo $(($(date +%s%N) / 1000000))
  fi
}

[[ -x $polkatool ]] || fail "polkatool '$polkatool' is not an executable"

work=$(mktemp -d)
polkatool_pid=""
cleanup() {
  if [[ -n $polkatool_pid ]] && kill -0 "$polkatool_pid" 2>/dev/null; then
    kill -KILL "$polkatool_pid" 2>/dev/null || true
    { wait "$polkatool_pid"; } 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# The default configuration: nothing from the environment may choose the backend or the sandbox.
while read -r name; do unset "$name"; done < <(compgen -e | grep '^POLKAVM_' || true)

# /proc is read with shell builtins only: a scan of every process must be quick.
# "KEY" of /proc/PID/status, or nothing if the process is gone.
status_field() {
  local key value
  while IFS=$'\t' read -r key value; do
    if [[ $key == "$2:" ]]; then
      echo "$value"
      break
    fi
  done 2>/dev/null <"/proc/$1/status"
  return 0
}
# Sets STAT to the fields of /proc/PID/stat after "(comm)": STAT[0] is the state (field 3), STAT[1] the
# parent (field 4), STAT[19] the start time (field 22). Fails if the process is gone.
read_stat() {
  local line
  { read -r line <"/proc/$1/stat"; } 2>/dev/null || return 1
  read -r -a STAT <<<"${line##*) }"
}
# Whether polkatool still runs (kill -0 would also succeed on it as our unreaped zombie).
polkatool_running() { read_stat "$polkatool_pid" && [[ ${STAT[0]} != Z ]]; }

# ---- can this host run the Linux sandbox at all? ----
printf '%%isa = jam_v1\npub @main:\n    ret\n' >"$work/return.txt"
"$polkatool" assemble "$work/return.txt" -o "$work/return.polkavm" || fail "polkatool assemble failed"
if ! "$polkatool" run "$work/return.polkavm" --call main --backend compiler --sandbox linux >"$work/probe.out" 2>&1; then
  if grep -qiE "cannot run on this host|not supported on this host" "$work/probe.out"; then
    echo "SKIP: the Linux sandbox does not run here: $(cat "$work/probe.out")"
    exit 77
  fi
  fail "polkatool run with the Linux sandbox failed: $(cat "$work/probe.out")"
fi
ok "this host runs the compiler in the Linux sandbox"

# ---- the guest: an endless loop without gas metering, unless one was given ----
if [[ -z $blob ]]; then
  blob=$work/endless_loop.polkavm
  printf '%s\n' '%isa = jam_v1' 'pub @main:' '    a0 = 0' '@loop:' '    a0 = a0 + 1' '    jump @loop' \
    >"$work/endless_loop.txt"
  "$polkatool" assemble "$work/endless_loop.txt" -o "$blob" || fail "polkatool assemble failed"
fi
[[ -f $blob ]] || fail "no program blob at '$blob'"

# ---- start polkatool and find its worker ----
"$polkatool" run "$blob" --call "$export_name" >"$work/run.out" 2>"$work/run.err" &
polkatool_pid=$!
echo "started: polkatool run $(basename "$blob") --call $export_name (pid $polkatool_pid, default configuration)"

worker=""
deadline=$(($(now_ms) + 2000))
while :; do
  polkatool_running ||
    fail "polkatool exited before its worker was found: $(cat "$work/run.out" "$work/run.err")"
  for dir in /proc/[0-9]*; do
    pid=${dir#/proc/}
    if read_stat "$pid" && [[ ${STAT[1]} == "$polkatool_pid" && ${STAT[0]} != Z ]]; then
      worker=$pid
      break
    fi
  done
  [[ -n $worker ]] && break
  (($(now_ms) < deadline)) || fail "polkatool (pid $polkatool_pid) has no worker process after 2 s"
  sleep 0.02
done
read_stat "$worker" || fail "the worker $worker vanished"
worker_start=${STAT[19]}
ok "worker found: pid $worker ($(status_field "$worker" Name)), child of polkatool $polkatool_pid"

# It runs the guest (a busy loop: running or runnable), not just waits for work.
deadline=$(($(now_ms) + 2000))
until [[ $(status_field "$worker" State) == R* ]]; do
  (($(now_ms) < deadline)) || fail "the worker never ran the guest (State: $(status_field "$worker" State))"
  sleep 0.01
done
ok "worker state: $(status_field "$worker" State)"

# ---- isolation ----
seccomp=$(status_field "$worker" Seccomp)
[[ $seccomp == 2 ]] || fail "the worker's Seccomp is '$seccomp', expected 2 (filter mode)"
ok "worker Seccomp: $seccomp (filter), Seccomp_filters: $(status_field "$worker" Seccomp_filters)"
for ns in user pid net mnt; do
  host_ns=$(readlink "/proc/$polkatool_pid/ns/$ns") || fail "cannot read polkatool's $ns namespace"
  worker_ns=$(readlink "/proc/$worker/ns/$ns") || fail "cannot read the worker's $ns namespace"
  [[ $host_ns != "$worker_ns" ]] || fail "the worker shares polkatool's $ns namespace ($host_ns)"
  ok "$ns namespace: worker $worker_ns, polkatool $host_ns"
done

# ---- the worker dies with polkatool ----
kill -KILL "$polkatool_pid"
{ wait "$polkatool_pid"; } 2>/dev/null || true  # 137: killed, as intended (and no "Killed" job notice)
polkatool_pid=""
killed_at=$(now_ms)
echo "killed polkatool with SIGKILL"

# Gone (no /proc entry, or the pid now belongs to another process) or dead (a zombie waiting for its new parent).
worker_state() {
  if ! read_stat "$worker" || [[ ${STAT[19]} != "$worker_start" ]]; then
    echo gone
    return
  fi
  local state
  state=$(status_field "$worker" State)
  echo "${state:-gone}"
}
while :; do
  state=$(worker_state)
  [[ $state == gone || $state == Z* ]] && break
  (($(now_ms) - killed_at < 1000)) ||
    fail "the worker $worker still runs 1 s after polkatool was killed (State: $state)"
  sleep 0.005
done
ok "worker $worker dead $(($(now_ms) - killed_at)) ms after polkatool was killed (state: $state)"

# A zombie is its new parent's to reap (init or a subreaper): not ours to judge, but report it.
if [[ $state == Z* ]]; then
  reaper=$(status_field "$worker" PPid)
  deadline=$(($(now_ms) + 1000))
  while [[ $(worker_state) != gone ]] && (($(now_ms) < deadline)); do sleep 0.01; done
  if [[ $(worker_state) == gone ]]; then
    ok "the zombie was reaped by its new parent (pid ${reaper:-?})"
  else
    echo "note: the dead worker is still a zombie of pid $(status_field "$worker" PPid)," \
      "which has not reaped it within 1 s"
  fi
fi

echo "PASS: the worker was seccomp-filtered, in its own user/pid/net/mnt namespaces, and died with polkatool"
