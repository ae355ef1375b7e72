#!/usr/bin/env bash
# Live-update blackout of Xen's C xenstored 4.17 (Debian's, unmodified) and of xenwire-xenstored
# (--backend xen), each updating itself, on the same simulated host and the same load: GUESTS
# domains built with their rings connected, NODES nodes, CLIENTS watching clients and a probe on the
# socket (bench_live_update_blackout --socket). Alternates the daemons ROUNDS times.
# usage: bench/live_update_compare.sh BUILD_DIR [NODES [CLIENTS [GUESTS [ROUNDS]]]]
#   BUILD_DIR: a release build with tools (build/release); Debian's packages come as
#   scripts/interop.sh takes them (build/interop).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "$1" && pwd)
nodes=${2:-1000} clients=${3:-10} guests=${4:-10} rounds=${5:-1}
source "$here/../scripts/xen-debs.sh"
extract_deb xen-utils-4.17 || { echo "cannot get Debian's xen-utils-4.17" >&2; exit 1; }
c_xenstored=$xen_debs_work/root/usr/lib/xen-4.17/bin/xenstored
ours=$build/xenstore/xenwire-xenstored
host=$build/sim/xenwire-host
bench=$build/bench/bench_live_update_blackout
for f in "$c_xenstored" "$ours" "$host" "$bench"; do [ -x "$f" ] || { echo "missing $f" >&2; exit 1; }; done
ulimit -n 65536 2>/dev/null || true

one() {  # one LABEL BINARY CMDLINE: a fresh host with that dom0 xenstored, updated to itself
  local label=$1 binary=$2 cmdline=$3
  export XENWIRE_RUN_DIR=$(mktemp -d /tmp/xenwire-lu-bench-XXXXXX)
  local name=lub$$
  # shellcheck disable=SC2086
  "$host" --host "$name" start --xenstored "$binary" $cmdline >/dev/null
  for d in $(seq 1 "$guests"); do "$host" --host "$name" build --domid "$d" >/dev/null 2>&1; done
  echo "== $label: $guests guests' rings, $nodes nodes, $clients watchers"
  XENSTORED_RUNDIR=$XENWIRE_RUN_DIR/$name "$bench" --socket "$XENWIRE_RUN_DIR/$name/xenstored.sock" \
    --binary "$binary" --cmdline "$cmdline" --nodes "$nodes" --clients "$clients" |
    grep -E 'blackout|OK received' || { echo "  failed; the host's log:"; tail -20 "$XENWIRE_RUN_DIR/$name/host.log"; }
  "$host" --host "$name" stop >/dev/null || echo "  host did not stop clean"
  rm -rf "$XENWIRE_RUN_DIR"
}

# DAEMONS="xenwire": ours alone (C 4.17's TDB store takes hours to fill with a million nodes here).
for _ in $(seq "$rounds"); do
  for d in ${DAEMONS:-c xenwire}; do
    case $d in
      c) one "C xenstored 4.17 -> itself" "$c_xenstored" "-N" ;;
      xenwire) one "xenwire-xenstored -> itself" "$ours" "--backend xen -N" ;;
      *) echo "DAEMONS: c or xenwire, not $d" >&2; exit 2 ;;
    esac
  done
done
