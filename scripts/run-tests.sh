#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what it needs, then
#   dev (g++) build + every test, asan build + tests, tsan build + concurrent tests,
#   fuzz (clang 14 libFuzzer) build: every target replays its corpus then fuzzes for a bounded time,
#   interop: real Xen clients (xenstore-utils, test-xenstore, pyxs) against our daemon.
# Knobs: XENWIRE_STAGES="dev asan tsan fuzz interop" (subset), XENWIRE_FUZZ_SECONDS (default 45),
#        XENWIRE_JOBS (default nproc).
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD

mkdir -p build
bash scripts/install-deps.sh || { echo "run-tests: dependency install failed" >&2; exit 1; }

stages=${XENWIRE_STAGES:-dev asan tsan fuzz interop}
fuzz_seconds=${XENWIRE_FUZZ_SECONDS:-45}
jobs=${XENWIRE_JOBS:-$(nproc)}
passed=0; failed=0
summary=()

stage() {  # stage <name> <command...>
  local name=$1; shift
  local t0=$SECONDS
  echo "=== stage $name ==="
  if "$@"; then
    passed=$((passed + 1)); summary+=("PASS  $name ($((SECONDS - t0)) s)")
  else
    failed=$((failed + 1)); summary+=("FAIL  $name ($((SECONDS - t0)) s)")
  fi
}

build_and_test() {  # build_and_test <preset>
  cmake --preset "$1" >"build/$1.configure.log" 2>&1 || { tail -40 "build/$1.configure.log"; return 1; }
  cmake --build --preset "$1" -j "$jobs" 2>&1 | grep -E "error|warning: |FAILED" | head -60
  [ "${PIPESTATUS[0]}" -eq 0 ] || return 1
  ctest --preset "$1" -j "$jobs"
}

fuzz_one() {  # fuzz_one <binary>: replay the corpus, then fuzz; prints its own report, returns 1 on failure
  local bin=$1 name=${1##*/fuzz_}
  local corpus=$root/fuzz/corpus/$name
  local work; work=$(mktemp -d)
  local out="--- fuzz $name: replay $(find "$corpus" -type f | wc -l) seeds, then ${fuzz_seconds}s"
  if ! "$bin" -runs=0 "$corpus" >"$work/replay.log" 2>&1; then
    printf '%s\n%s\n' "$out" "$(tail -30 "$work/replay.log")"; return 1
  fi
  if ! (cd "$work" && "$root/$bin" -max_total_time="$fuzz_seconds" -print_final_stats=1 \
        -rss_limit_mb=2048 "$work" "$corpus" >"$work/fuzz.log" 2>&1); then
    printf '%s\n%s\n' "$out" "$(tail -40 "$work/fuzz.log")"; return 1
  fi
  printf '%s\n%s\n' "$out" "$(grep -E "stat::number_of_executed_runs|cov:" "$work/fuzz.log" | tail -2)"
  rm -rf "$work"
}

fuzz_stage() {
  cmake --preset fuzz >build/fuzz.configure.log 2>&1 || { tail -40 build/fuzz.configure.log; return 1; }
  cmake --build --preset fuzz -j "$jobs" 2>&1 | grep -E "error|FAILED" | head -40
  [ "${PIPESTATUS[0]}" -eq 0 ] || return 1
  local bins=() bin
  for bin in build/fuzz/fuzz/fuzz_*; do [ -x "$bin" ] && bins+=("$bin"); done
  [ ${#bins[@]} -gt 0 ] || { echo "no fuzz targets built"; return 1; }
  # libFuzzer runs one thread: one target per core; each report is printed whole when it ends,
  # and a failure leaves a mark in $failures (a background job's status is awkward to collect).
  local failures; failures=$(mktemp -d)
  local running=0
  for bin in "${bins[@]}"; do
    if [ "$running" -ge "$jobs" ]; then wait -n; running=$((running - 1)); fi
    { fuzz_one "$bin" || touch "$failures/${bin##*/}"; } &
    running=$((running + 1))
  done
  wait
  local failed_targets; failed_targets=$(ls "$failures")
  rm -rf "$failures"
  [ -z "$failed_targets" ] || { echo "fuzz failures: $failed_targets"; return 1; }
}

for s in $stages; do
  case $s in
    dev|asan|tsan) stage "$s" build_and_test "$s" ;;
    fuzz) stage fuzz fuzz_stage ;;
    interop)
      if [ -x scripts/interop.sh ]; then stage interop bash scripts/interop.sh; fi ;;
    *) echo "unknown stage $s" >&2; failed=$((failed + 1)) ;;
  esac
done

echo
echo "=== xenwire test summary ==="
printf '%s\n' "${summary[@]}"
echo "stages: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
