#!/usr/bin/env bash
# vchan throughput between two domain processes of the cross-process host, in one run:
#   xenwire's vchan on the simulator backend (the host's own client) and on the Xen backend
#   (libxengnttab/libxenevtchn, i.e. the libxen emulation: the code a real Xen host runs), Debian's
#   libxenvchan (on the emulation), and a bare SPSC ring in the same granted memory (no liveness or
#   notify protocol: the ceiling for any protocol there).
# Server in dom1 pinned to one CPU, client in dom2 pinned to the other; the host process unpinned.
# Prints MiB/s (median of RUNS) per case and the ratios the issue asks for.
#
# usage: bench/host_vchan.sh [BUILD_DIR=build/release] [MIB=256] [RUNS=3] [RING=65536] [CHUNK=4096]
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/release}
mib=${2:-256}
runs=${3:-3}
ring=${4:-65536}
chunk=${5:-4096}
host_bin=$build/sim/xenwire-host
xenstored=$build/xenstore/xenwire-xenstored
peer=$build/bench/bench_host_vchan_peer
peer_c=$build/bench/bench_host_vchan_peer_libxenvchan
for b in "$host_bin" "$xenstored" "$peer" "$peer_c"; do
  [ -x "$b" ] || { echo "host_vchan: $b missing (cmake --build $build --target xenwire-host xenwire-xenstored xenwire_emu bench_host_vchan_peer bench_host_vchan_peer_libxenvchan)" >&2; exit 1; }
done
export XENWIRE_RUN_DIR=$(mktemp -d /tmp/xenwire-bench-vchan-XXXXXX)
export XENWIRE_EMU_LIB=$build/emu/lib
name=bench$$
H() { "$host_bin" --host "$name" "$@"; }
trap 'H stop >/dev/null 2>&1; rm -rf "$XENWIRE_RUN_DIR"' EXIT
g1=$XENWIRE_RUN_DIR/g1.sock g2=$XENWIRE_RUN_DIR/g2.sock
H start --xenstored "$xenstored" -N --backend sim --socket "$XENWIRE_RUN_DIR/$name/xenstored.sock" \
  --guest-socket 1="$g1" --guest-socket 2="$g2" >/dev/null || exit 1
H build --domid 1 2>/dev/null && H build --domid 2 2>/dev/null || exit 1

cpus=($(taskset -pc $$ | sed 's/.*: //' | tr ',' ' '))
cpu0=${cpus[0]%%-*}
cpu1=$(( cpu0 + 1 ))

one_run() {  # one_run <backend> <binary> [spsc]: MiB/s from the server
  local be=$1 bin=$2 mode=${3:-} path=/local/domain/1/data/vchan/2/bench$RANDOM
  local out=$XENWIRE_RUN_DIR/out.$RANDOM
  XENSTORED_PATH=$g1 H run --domid 1 -- env XENWIRE_BACKEND="$be" taskset -c "$cpu0" "$bin" server 2 "$path" "$mib" "$chunk" "$ring" $mode >"$out" &
  local spid=$!
  sleep 0.3
  XENSTORED_PATH=$g2 H run --domid 2 -- env XENWIRE_BACKEND="$be" taskset -c "$cpu1" "$bin" client 1 "$path" "$mib" "$chunk" "$ring" $mode >/dev/null
  wait $spid
  cat "$out"
}
median() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

declare -A rate
for round in $(seq "$runs"); do
  for case in xenwire xenwire_xen libxenvchan spsc; do
    case $case in
      xenwire) r=$(one_run sim "$peer") ;;
      xenwire_xen) r=$(one_run xen "$peer") ;;
      libxenvchan) r=$(one_run sim "$peer_c") ;;
      spsc) r=$(one_run sim "$peer" spsc) ;;
    esac
    rate[$case]+="$r "
  done
done
echo "vchan throughput between two domain processes on the cross-process host: ${mib} MiB, ring $ring, chunk $chunk, $runs runs (median), CPUs $cpu0/$cpu1"
for case in xenwire xenwire_xen libxenvchan spsc; do
  m=$(echo "${rate[$case]}" | tr ' ' '\n' | grep . | median)
  printf '  %-12s %8s MiB/s   (runs: %s)\n' "$case" "$m" "${rate[$case]}"
  declare "m_$case=$m"
done
awk -v x="$m_xenwire" -v xx="$m_xenwire_xen" -v l="$m_libxenvchan" -v s="$m_spsc" 'BEGIN {
  printf "  xenwire / libxenvchan   %.2fx   (target >= 1.5)\n", x / l
  printf "  xenwire on Xen backend / libxenvchan   %.2fx   (same libraries under both)\n", xx / l
  printf "  xenwire on Xen backend / on sim backend   %.2fx\n", xx / x
  printf "  xenwire / bare ring     %.2fx   (target >= 0.85)\n", x / s
  printf "  libxenvchan / bare ring %.2fx\n", l / s }'
