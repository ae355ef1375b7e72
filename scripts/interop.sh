#!/usr/bin/env bash
# Interop: real Xen clients against xenwire-xenstored, on temporary sockets.
#   xenstore-utils (write/read/ls/list/rm/exists/chmod/watch), Xen's test-xenstore (every test),
#   pyxs (tests/interop/pyxs_check.py, as dom0 and as guest 5 through a guest socket),
#   then SIGTERM: the daemon must exit 0 and remove its sockets.
# test-xenstore and pyxs come from Debian packages downloaded and extracted into build/interop/
# (never installed). Run from anywhere; uses build/dev (configured with the dev preset if missing).
# Knobs: XENWIRE_INTEROP_BUILD (default build/dev), XENWIRE_INTEROP_TIMEOUT (per client call, s).
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=${XENWIRE_INTEROP_BUILD:-$root/build/dev}
work=$root/build/interop
call_timeout=${XENWIRE_INTEROP_TIMEOUT:-20}
guest_domid=5

results=()
failed=0
pass() { results+=("PASS  $1"); echo "PASS  $1"; }
failc() { results+=("FAIL  $1"); failed=$((failed + 1)); echo "FAIL  $1" >&2; }
# check <name> <command...>: the command's exit status decides.
check() { local name=$1; shift; if "$@"; then pass "$name"; else failc "$name"; fi; }
# expect <name> <expected output> <command...>: stdout must match exactly.
expect() {
  local name=$1 want=$2; shift 2
  local got rc
  got=$("$@" 2>&1); rc=$?
  if [ $rc -eq 0 ] && [ "$got" == "$want" ]; then pass "$name"; else
    failc "$name"
    printf '  expected (exit 0): %q\n  got (exit %d):     %q\n' "$want" "$rc" "$got" >&2
  fi
}
summary() {
  echo
  echo "=== interop summary ==="
  printf '%s\n' "${results[@]}"
  echo "interop: $(( ${#results[@]} - failed )) passed, $failed failed"
}
t() { timeout -k 2 "$call_timeout" "$@"; }

# ---- the daemon binary ----
if [ ! -f "$build/build.ninja" ] && [ ! -f "$build/Makefile" ]; then
  cmake --preset dev >"$root/build/interop-configure.log" 2>&1 || { tail -30 "$root/build/interop-configure.log"; exit 1; }
fi
if ! cmake --build "$build" --target xenwire-xenstored >"$root/build/interop-build.log" 2>&1; then
  tail -40 "$root/build/interop-build.log"; echo "interop: cannot build xenwire-xenstored" >&2; exit 1
fi
daemon_bin=$(find "$build" -name xenwire-xenstored -type f -perm -u+x | head -1)
[ -n "$daemon_bin" ] || { echo "interop: xenwire-xenstored not found under $build" >&2; exit 1; }

# ---- peers: xenstore-utils installed, xen-utils-4.17 and python3-pyxs extracted ----
for tool in xenstore-read xenstore-write xenstore-ls xenstore-list xenstore-rm xenstore-exists xenstore-chmod xenstore-watch; do
  command -v "$tool" >/dev/null || { echo "interop: $tool missing (apt-get install xenstore-utils)" >&2; exit 1; }
done
xen_debs_work=$work
source "$root/scripts/xen-debs.sh"  # fetch_deb, extract_deb
source "$root/scripts/xenstore-utils-checks.sh"  # xenstore_utils_checks
extract_deb xen-utils-4.17 || { echo "interop: cannot download xen-utils-4.17" >&2; exit 1; }
extract_deb python3-pyxs || { echo "interop: cannot download python3-pyxs" >&2; exit 1; }
test_xenstore=$work/root/usr/lib/xen-4.17/bin/test-xenstore
pyxs_path=$work/root/usr/lib/python3/dist-packages
[ -x "$test_xenstore" ] || { echo "interop: $test_xenstore missing after extraction" >&2; exit 1; }
[ -d "$pyxs_path/pyxs" ] || { echo "interop: pyxs missing after extraction" >&2; exit 1; }

# ---- start the daemon ----
tmp=$(mktemp -d "${TMPDIR:-/tmp}/xenwire-interop.XXXXXX")
sock=$tmp/socket
guest_sock=$tmp/guest$guest_domid
daemon_pid=
cleanup() {
  if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
    kill -KILL "$daemon_pid" 2>/dev/null; wait "$daemon_pid" 2>/dev/null
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$daemon_bin" -N --socket "$sock" --guest-socket "$guest_domid=$guest_sock" --log-level info >"$tmp/daemon.log" 2>&1 &
daemon_pid=$!
for _ in $(seq 100); do [ -S "$sock" ] && [ -S "$guest_sock" ] && break; sleep 0.1; done
if ! [ -S "$sock" ] || ! kill -0 "$daemon_pid" 2>/dev/null; then
  echo "interop: the daemon did not start:" >&2; cat "$tmp/daemon.log" >&2; exit 1
fi
export XENSTORED_PATH=$sock
echo "interop: xenwire-xenstored (pid $daemon_pid) on $sock, guest $guest_domid on $guest_sock"

# ---- daemon startup rules ----
check "daemon: occupied socket refused (exit 1)" \
  bash -c '"$1" --socket "$2" --log-level off; [ $? -eq 1 ]' _ "$daemon_bin" "$sock"
check "daemon: unusable arguments (exit 2)" \
  bash -c '"$1" --guest-socket nonsense 2>/dev/null; [ $? -eq 2 ]' _ "$daemon_bin"

# ---- xenstore-utils ----
xenstore_utils_checks "$guest_domid"
check "xenstore-utils as guest: relative write/read" \
  bash -c 'XENSTORED_PATH=$1 timeout 10 xenstore-write rel v && [ "$(XENSTORED_PATH=$1 timeout 10 xenstore-read rel)" = v ]' _ "$guest_sock"
check "xenstore-utils as guest: read of granted node" \
  bash -c '[ "$(XENSTORED_PATH=$1 timeout 10 xenstore-read /interop/a)" = 1 ]' _ "$guest_sock"
check "xenstore-utils as guest: EACCES on dom0 node" \
  bash -c '! XENSTORED_PATH=$1 timeout 10 xenstore-read /interop/b 2>/dev/null' _ "$guest_sock"
# Xen 4.22's DOMID_ANY (32757): an entry for it grants every domain.
expect "xenstore-chmod with a DOMID_ANY entry" "" \
  bash -c 'timeout 10 xenstore-write /interop/any all && timeout 10 xenstore-chmod /interop/any n0 r32757'
check "xenstore-utils as guest: a DOMID_ANY entry grants every domain" \
  bash -c '[ "$(XENSTORED_PATH=$1 timeout 10 xenstore-read /interop/any)" = all ]' _ "$guest_sock"

watch_check() {
  local out=$tmp/watch.out
  timeout -k 2 "$call_timeout" xenstore-watch -n 3 /interop/w >"$out" 2>&1 &
  local wpid=$!
  # The registration event says the watch is in place.
  for _ in $(seq 100); do [ -s "$out" ] && break; sleep 0.05; done
  t xenstore-write /interop/w/x 1 && t xenstore-rm /interop/w || return 1
  wait "$wpid" || { echo "  xenstore-watch failed: $(cat "$out")" >&2; return 1; }
  local want=$'/interop/w\n/interop/w/x\n/interop/w'
  [ "$(cat "$out")" == "$want" ] || { printf '  watch output: %q\n' "$(cat "$out")" >&2; return 1; }
}
check "xenstore-watch" watch_check

# ---- Xen's test-xenstore ----
test_xenstore_check() {
  local log=$tmp/test-xenstore.log
  timeout -k 2 120 "$test_xenstore" >"$log" 2>&1
  local rc=$?
  sed 's/^/  /' "$log"
  return $rc
}
check "test-xenstore (all $("$test_xenstore" -l 2>/dev/null | wc -l) tests)" test_xenstore_check

# ---- pyxs ----
pyxs_out=$tmp/pyxs.out
PYTHONPATH=$pyxs_path timeout -k 2 120 python3 "$root/tests/interop/pyxs_check.py" \
  "$sock" "$guest_sock" "$guest_domid" >"$pyxs_out" 2>&1
pyxs_rc=$?
while IFS= read -r line; do
  case $line in
    "PASS "*) pass "${line#PASS }" ;;
    "FAIL "*) failc "${line#FAIL }" ;;
    *) echo "  $line" ;;
  esac
done <"$pyxs_out"
grep -q '^PASS \|^FAIL ' "$pyxs_out" && [ $pyxs_rc -le 1 ] || failc "pyxs_check.py ran (exit $pyxs_rc)"

# ---- clean stop ----
stop_check() {
  kill -TERM "$daemon_pid" || return 1
  for _ in $(seq 100); do kill -0 "$daemon_pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$daemon_pid" 2>/dev/null; then echo "  still running 10 s after SIGTERM" >&2; return 1; fi
  wait "$daemon_pid"; local rc=$?
  daemon_pid=
  [ $rc -eq 0 ] || { echo "  exit status $rc" >&2; return 1; }
  ! [ -e "$sock" ] && ! [ -e "$guest_sock" ] || { echo "  socket files left behind" >&2; return 1; }
}
check "daemon: SIGTERM → exit 0, sockets removed" stop_check
if grep -qiE " (error|critical) " "$tmp/daemon.log"; then
  echo "daemon log errors:"; grep -iE " (error|critical) " "$tmp/daemon.log" | head -20
fi

# ---- live update, driven by Xen's xenstore-control ----
# A second daemon (a guest socket cannot be carried across): xenstore-watch stays connected while
# xenstore-control replaces the daemon with itself; the watch fires after, the store is the same.
xenstore_control=$work/root/usr/lib/xen-4.17/bin/xenstore-control
live_update_check() {
  local dir=$tmp/lu; mkdir -p "$dir"
  local out=$dir/watch.out pid wpid rc=0
  XENSTORED_RUNDIR=$dir "$daemon_bin" -N --socket "$dir/socket" --log-level info >"$dir/daemon.log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do [ -S "$dir/socket" ] && break; sleep 0.05; done
  export XENSTORED_PATH=$dir/socket
  for i in $(seq 20); do t xenstore-write "/lu/n$i" "v$i" || rc=1; done
  local before; before=$(t xenstore-ls -p /lu)
  timeout -k 2 "$call_timeout" xenstore-watch -n 2 /lu/w >"$out" 2>&1 &
  wpid=$!
  for _ in $(seq 100); do [ -s "$out" ] && break; sleep 0.05; done
  XENSTORED_RUNDIR=$dir t "$xenstore_control" live-update "$daemon_bin" || { echo "  xenstore-control failed" >&2; rc=1; }
  tr '\0' ' ' </proc/$pid/cmdline | grep -q -- " -U" || { echo "  the daemon was not replaced" >&2; rc=1; }
  t xenstore-write /lu/w after || rc=1
  wait "$wpid" || { echo "  xenstore-watch: $(cat "$out")" >&2; rc=1; }
  [ "$(cat "$out")" == $'/lu/w\n/lu/w' ] || { printf '  watch output: %q\n' "$(cat "$out")" >&2; rc=1; }
  t xenstore-rm /lu/w || rc=1
  [ "$(t xenstore-ls -p /lu)" == "$before" ] || { echo "  the store changed" >&2; rc=1; }
  [ ! -e "$dir/state_dump" ] || { echo "  state_dump left behind" >&2; rc=1; }
  kill -TERM "$pid"; wait "$pid" || rc=1
  export XENSTORED_PATH=$sock
  [ $rc -eq 0 ] || sed 's/^/  daemon: /' "$dir/daemon.log" >&2
  return $rc
}
check "xenstore-control live-update: xenwire to xenwire, a watcher connected throughout" live_update_check

summary
[ "$failed" -eq 0 ]
