#!/usr/bin/env bash
# Runs tests/interop/guest_workload.cpp as guest 5 of a fresh cross-process host and compares what
# it prints with the expected answers.
# usage: host_guest_workload.sh XENWIRE_HOST WORKLOAD EXPECTED [--xenstored PROGRAM ARGS...]
set -uo pipefail
host_bin=$1 workload=$2 expected=$3
shift 3
export XENWIRE_RUN_DIR=$(mktemp -d /tmp/xenwire-workload-XXXXXX)
name=wl$$
H() { timeout -k 2 60 "$host_bin" --host "$name" "$@"; }
trap '"$host_bin" --host "$name" stop >/dev/null 2>&1; rm -rf "$XENWIRE_RUN_DIR"' EXIT
H start "$@" >/dev/null || { cat "$XENWIRE_RUN_DIR/$name/host.log" >&2; exit 1; }
H build --domid 5 || exit 1
out=$XENWIRE_RUN_DIR/out.txt
H run --domid 5 -- "$workload" >"$out" || { echo "workload failed" >&2; cat "$out"; exit 1; }
if ! diff -u "$expected" "$out"; then echo "guest workload: answers differ from $expected" >&2; exit 1; fi
H stop || exit 1
echo "guest workload: $(wc -l <"$out") answers as expected"
