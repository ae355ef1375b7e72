#!/usr/bin/env bash
# A Xen-style dom0 xenstored of a fresh cross-process host (xenwire-host start --xenstored ...), on
# the libxen emulation and libxenwire-procxen.so (dom0's /proc/xen): either Xen's C xenstored 4.17
# (Debian's xen-utils-4.17, unmodified, -N) or xenwire-xenstored on its Xen backend (--backend xen:
# the same code as on a real Xen host, serving its own kernel's xenbus ring from xsd_kva/xsd_port,
# learning of deaths from VIRQ_DOM_EXC).
# usage: host_xenstored.sh DAEMON XENWIRE_HOST MODE [ARGS...]
#   DAEMON                      c (Debian's C xenstored) or the path of xenwire-xenstored
#   workload WORKLOAD EXPECTED  a guest's workload over its ring (host_guest_workload.sh)
#   clients                     xenstore-utils and Xen's test-xenstore as dom0 over the socket
#   release                     a guest built with `xenwire-host build`, then destroyed, is released
#                               (@releaseDomain fires, its nodes go) and the host stops clean
#   hostile GUEST               a guest corrupts its ring indices (tests/interop/hostile_guest.cpp):
#                               its ring stops, the daemon serves everyone else, nothing leaks
#   live-update STEADY HALF TARGET...
#                               live update to each TARGET in turn (c or xenwire-xenstored's
#                               path) with ring guests and a dom0 watcher connected throughout
# Debian's packages come as scripts/interop.sh takes them (build/interop/debs). Exit 77 (a ctest
# skip) only when they cannot be downloaded.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
daemon=$1 host_bin=$2 mode=$3
shift 3
source "$here/../../scripts/xen-debs.sh"
source "$here/../../scripts/xenstore-utils-checks.sh"
if ! extract_deb xen-utils-4.17; then
  echo "SKIP: Debian's xen-utils-4.17 (C xenstored 4.17, test-xenstore) cannot be downloaded (apt-get download failed)"
  exit 77
fi
xen_bin=$xen_debs_work/root/usr/lib/xen-4.17/bin
if [ "$daemon" = c ]; then
  xenstored=("$xen_bin/xenstored" -N)
  label="C xenstored 4.17"
else
  xenstored=("$daemon" --backend xen -N)
  label="xenwire-xenstored --backend xen"
fi
[ -x "${xenstored[0]}" ] || { echo "no ${xenstored[0]}" >&2; exit 1; }

if [ "$mode" = workload ]; then
  exec bash "$here/host_guest_workload.sh" "$host_bin" "$1" "$2" --xenstored "${xenstored[@]}"
fi

export XENWIRE_RUN_DIR=$(mktemp -d /tmp/xenwire-xsd-XXXXXX)
name=xsd$$
export XENSTORED_PATH=$XENWIRE_RUN_DIR/$name/xenstored.sock
H() { timeout -k 2 60 "$host_bin" --host "$name" "$@"; }
t() { timeout -k 2 20 "$@"; }
trap '"$host_bin" --host "$name" stop >/dev/null 2>&1; rm -rf "$XENWIRE_RUN_DIR"' EXIT
failed=0
# (the helpers' locals are not called `name`: bash's locals are dynamic, and H reads $name)
ok() { echo "PASS  $1"; }
bad() { echo "FAIL  $1" >&2; failed=$((failed + 1)); }
expect() {  # expect <name> <expected stdout> <command...>
  local label=$1 want=$2 got rc; shift 2
  got=$("$@" 2>&1); rc=$?
  if [ $rc -eq 0 ] && [ "$got" == "$want" ]; then ok "$label"; else
    bad "$label"; printf '  expected (exit 0): %q\n  got (exit %d):     %q\n' "$want" "$rc" "$got" >&2
  fi
}
check() { local label=$1; shift; if "$@"; then ok "$label"; else bad "$label"; fi; }
host_log() { echo "--- host log:" >&2; cat "$XENWIRE_RUN_DIR/$name/host.log" >&2 2>/dev/null; }

H start --xenstored "${xenstored[@]}" >/dev/null || { host_log; exit 1; }
echo "$label (${xenstored[0]}) is dom0's xenstored at $XENSTORED_PATH"

# watch_bg <file> <xenstore-watch args...>: xenstore-watch in the background, registered (its first
# event printed) before this returns; the caller waits for it.
watch_bg() {
  local out=$1; shift
  t xenstore-watch "$@" >"$out" 2>&1 &
  watch_pid=$!
  for _ in $(seq 200); do [ -s "$out" ] && return 0; sleep 0.05; done
  return 1
}

case $mode in
  clients)
    xenstore_utils_checks 5
    [ "$daemon" = c ] && expect "xenstore-read /tool/xenstored (C's initial node)" "" t xenstore-read /tool/xenstored
    out=$XENWIRE_RUN_DIR/watch.out
    if watch_bg "$out" -n 3 /interop/w; then
      t xenstore-write /interop/w/x 1 && t xenstore-rm /interop/w
      wait "$watch_pid"
      expect "xenstore-watch" $'/interop/w\n/interop/w/x\n/interop/w' cat "$out"
    else
      bad "xenstore-watch registered"
    fi
    n=$("$xen_bin/test-xenstore" -l 2>/dev/null | wc -l)
    if timeout -k 2 90 "$xen_bin/test-xenstore" >"$XENWIRE_RUN_DIR/test-xenstore.log" 2>&1; then
      ok "test-xenstore (all $n tests)"
    else
      bad "test-xenstore (all $n tests)"; sed 's/^/  /' "$XENWIRE_RUN_DIR/test-xenstore.log" >&2
    fi
    ;;
  release)
    check "build --domid 7 (introduced to $label)" H build --domid 7
    expect "dom7's home" "guest-7" t xenstore-read /local/domain/7/name
    out=$XENWIRE_RUN_DIR/release.out
    if watch_bg "$out" -n 2 @releaseDomain; then
      check "destroy 7" H destroy 7
      wait "$watch_pid"
      expect "@releaseDomain fired" $'@releaseDomain\n@releaseDomain' cat "$out"
    else
      bad "xenstore-watch @releaseDomain registered"
    fi
    check "dom7's nodes are gone" bash -c '! timeout 10 xenstore-exists /local/domain/7'
    # A domain that does not exist: its page cannot be mapped. Refused, and the daemon goes on.
    tool=$(dirname "$host_bin")/../xenstore/xenwire-xenstore
    check "INTRODUCE of a domain that does not exist is refused" bash -c '! timeout 10 "$1" introduce 99 0 5' _ "$tool"
    expect "the daemon still serves" "guest-7-gone" bash -c 'xenstore-write /after guest-7-gone && xenstore-read /after'
    check "dom7 is dead on the host ($label unmapped its page)" \
      bash -c '! timeout 10 "$1" --host "$2" ls | grep -q "^dom7 "' _ "$host_bin" "$name"
    ;;
  hostile)
    check "build --domid 6" H build --domid 6
    out=$XENWIRE_RUN_DIR/hostile.out
    H run --domid 6 -- "$1" >"$out" 2>&1
    # Both stop serving the ring and say why in the page (error = RINGIDX: Xen 4.17's
    # XENSTORE_SERVER_FEATURE_ERROR).
    expect "the hostile guest's view" "valid request answered: yes
error field after corrupt indices: RINGIDX
request after corruption answered: no" cat "$out"
    expect "the daemon still serves dom0" "after-hostile" bash -c 'xenstore-write /h after-hostile && xenstore-read /h'
    check "destroy 6" H destroy 6
    check "dom6 is released" bash -c 'for _ in $(seq 100); do timeout 5 xenstore-exists /local/domain/6 || exit 0; sleep 0.05; done; exit 1'
    ;;
  live-update)
    # live-update STEADY HALF TARGET...: guests 5 and 6 run STEADY (tests/interop/guest_steady.cpp)
    # over their rings and a dom0 watcher stays connected while `xenstore-control live-update` hands
    # the host to each TARGET in turn (c, or the path of xenwire-xenstored). Guest 7 runs HALF
    # (half_frame_guest.cpp): the first update catches it with replies waiting and half a request
    # sent. After each update: the same pid runs the target's binary, the store outside the guests'
    # data is the same, the watch fires. At the end every guest request was answered right and no
    # watch event was lost or repeated.
    steady=$1 half=$2; shift 2
    xs_pid=$(sed -n 's/.*dom0.s xenstored (.*, pid \([0-9]*\)).*/\1/p' "$XENWIRE_RUN_DIR/$name/host.log" | head -1)
    [ -n "$xs_pid" ] || { bad "the host names its xenstored's pid"; host_log; exit 1; }
    for d in 5 6 7; do check "build --domid $d" H build --domid $d; done
    H run --domid 7 -- "$half" "$XENWIRE_RUN_DIR/flag7" >"$XENWIRE_RUN_DIR/half7.out" 2>&1 &
    half_pid=$!
    check "guest 7 is mid-frame" bash -c 'for _ in $(seq 200); do grep -q ready "$1" && exit 0; sleep 0.05; done; exit 1' \
      _ "$XENWIRE_RUN_DIR/half7.out"
    for d in 5 6; do H run --domid $d -- "$steady" >"$XENWIRE_RUN_DIR/steady$d.out" 2>&1 & eval "steady_pid$d=\$!"; done
    for d in 5 6; do
      check "guest $d is writing" bash -c 'for _ in $(seq 200); do timeout 5 xenstore-read "$1" >/dev/null 2>&1 && exit 0; sleep 0.05; done; exit 1' _ /local/domain/$d/data/k
    done
    for i in $(seq 50); do echo "/static/n$i v$i"; done | xargs -n 2 timeout 20 xenstore-write
    t xenstore-chmod /static/n7 r5 b6
    n_updates=$#
    out=$XENWIRE_RUN_DIR/lu-watch.out
    watch_bg "$out" -n $((n_updates + 1)) /lu || bad "xenstore-watch /lu registered"
    # Sorted: C lists children in creation order, xenwire by name.
    dump() { t xenstore-ls -fp | grep -v '^/local/domain/[56]/data/' | grep -v '^/lu' | LC_ALL=C sort; }
    n=0
    for target in "$@"; do
      n=$((n + 1))
      if [ "$target" = c ]; then
        bin=$xen_bin/xenstored cmd="-N" what="C xenstored 4.17"
      else
        bin=$target cmd="--backend xen -N" what="xenwire-xenstored"
      fi
      before=$(dump)
      k5=$(t xenstore-read /local/domain/5/data/k)
      if XENSTORED_RUNDIR=$XENWIRE_RUN_DIR/$name t "$xen_bin/xenstore-control" live-update -c "$cmd" "$bin"; then
        ok "xenstore-control live-update to $what"
      else
        bad "xenstore-control live-update to $what"
      fi
      expect "pid $xs_pid now runs $what" "$(readlink -f "$bin")" readlink -f /proc/$xs_pid/exe
      expect "the store is the same after the update to $what" "$before" dump
      check "CONTROL check passes after the update to $what" t "$xen_bin/xenstore-control" check
      t xenstore-write /lu/update$n x || bad "dom0 writes after the update to $what"
      check "guest 5 goes on after the update to $what" bash -c \
        'for _ in $(seq 200); do [ "$(timeout 5 xenstore-read "$1")" != "$2" ] && exit 0; sleep 0.05; done; exit 1' \
        _ /local/domain/5/data/k "$k5"
      touch "$XENWIRE_RUN_DIR/flag7"
      # Guest 7 finishes its write on the flag: let it land before the next update's "before" dump.
      check "guest 7's write landed after the update to $what" bash -c \
        'for _ in $(seq 200); do timeout 5 xenstore-read "$1" >/dev/null 2>&1 && exit 0; sleep 0.05; done; exit 1' \
        _ /local/domain/7/data/half
    done
    if wait "$half_pid"; then ok "guest 7: $(tail -1 "$XENWIRE_RUN_DIR/half7.out")"; else
      bad "guest 7 (mid-frame at the update)"; sed 's/^/  /' "$XENWIRE_RUN_DIR/half7.out" >&2
    fi
    expect "guest 7's write landed" "after-update" t xenstore-read /local/domain/7/data/half
    wait "$watch_pid"
    check "the dom0 watcher saw every update's write" test "$(wc -l <"$out")" -eq $((n_updates + 1))
    for d in 5 6; do t xenstore-write /local/domain/$d/stop 1; done
    for d in 5 6; do
      pid_var=steady_pid$d
      if wait "${!pid_var}"; then ok "guest $d: $(cat "$XENWIRE_RUN_DIR/steady$d.out")"; else
        bad "guest $d"; sed 's/^/  /' "$XENWIRE_RUN_DIR/steady$d.out" >&2
      fi
    done
    ;;
  live-update-refused)
    # A new command line that would leave the guests' rings unserved after exec: the dry run
    # refuses it, and the daemon serves on.
    check "build --domid 5" H build --domid 5
    t xenstore-write /lu-refused kept || bad "xenstore-write"
    said=$(XENSTORED_RUNDIR=$XENWIRE_RUN_DIR/$name t "$xen_bin/xenstore-control" live-update -c "--backend none -N" \
      "$daemon" 2>&1)
    check "live update refused with the reason" grep -q "serves no rings" <<<"$said"
    expect "the daemon still serves dom0" "kept" t xenstore-read /lu-refused
    check "and introduces a new guest" H build --domid 6
    check "no state_dump left behind" test ! -e "$XENWIRE_RUN_DIR/$name/state_dump"
    ;;
  *) echo "unknown mode $mode" >&2; exit 2 ;;
esac

# The host stops clean: the daemon (SIGTERM) unbound and unmapped everything it held.
if out=$(H stop 2>&1); then ok "stop: nothing leaked"; else bad "stop: nothing leaked"; echo "$out" >&2; host_log; fi
trap 'rm -rf "$XENWIRE_RUN_DIR"' EXIT
[ "$failed" -eq 0 ] || { host_log; exit 1; }
echo "$label on the host ($mode): all passed"
