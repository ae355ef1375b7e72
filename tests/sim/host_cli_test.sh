#!/usr/bin/env bash
# xenwire-host through its command line: usage and exit codes, start/ls/build/run/destroy/stop, a
# guest process's death, and a crashed host's leftovers removed by the next start.
# usage: host_cli_test.sh XENWIRE_HOST_BINARY XENWIRE_XENSTORE_CLI
set -uo pipefail
host_bin=$1
xs_cli=$2
export XENWIRE_RUN_DIR=$(mktemp -d /tmp/xenwire-host-cli-XXXXXX)
name=cli$$
H() { timeout -k 2 30 "$host_bin" --host "$name" "$@"; }
shm=/dev/shm/xenwire.$(id -u).$name.pages
failures=0
check() {  # check <what> <command...>
  local what=$1; shift
  if "$@"; then echo "ok   $what"; else echo "FAIL $what" >&2; failures=$((failures + 1)); fi
}
status_is() { local want=$1; shift; "$@" >/dev/null 2>&1; [ $? -eq "$want" ]; }
cleanup() { "$host_bin" --host "$name" stop >/dev/null 2>&1; rm -rf "$XENWIRE_RUN_DIR"; }
trap cleanup EXIT

check "--help exits 0" status_is 0 H --help
check "no command exits 2" status_is 2 H
check "unknown command exits 2" status_is 2 H frobnicate
check "bad host name exits 2" status_is 2 "$host_bin" --host 'a/b' ls
check "build without --domid exits 2" status_is 2 H build
check "stop with no host exits 1" status_is 1 H stop

sock=$(H start)
check "start prints the host socket" test -S "$sock"
check "start again exits 1" status_is 1 H start
check "the pages live in /dev/shm" test -e "$shm"
check "ls lists dom0" bash -c "$(printf '%q ' "$host_bin") --host $name ls | grep -q '^dom0 alive'"

check "build --domid 3" status_is 0 H build --domid 3
check "ls shows dom3 with grant ref 1 mapped by dom0" \
  bash -c "$(printf '%q ' "$host_bin") --host $name ls | grep -q 'dom3: grant ref 1 to dom0 (read_write), shared, mapped 1x'"
xs_sock=$XENWIRE_RUN_DIR/$name/xenstored.sock
check "xenstored knows dom3" bash -c "[ \"\$(XENSTORED_PATH=$xs_sock $xs_cli read /local/domain/3/name)\" = guest-3 ]"
check "build of a live domain fails" status_is 1 H build --domid 3

check "run as dom0 passes the environment" \
  H run --domid 0 -- sh -c '[ "$XENWIRE_DOMID" = 0 ] && [ -S "$XENWIRE_HOST" ] && [ -S "$XENSTORED_PATH" ]'
check "run returns the program's status" status_is 3 H run --domid 7 -- sh -c 'exit 3'
check "run returns 128+signal for a killed program" status_is 137 H run --domid 8 -- sh -c 'kill -9 $$'
check "a guest whose program ended is gone" bash -c "! $(printf '%q ' "$host_bin") --host $name ls | grep -q '^dom[78] alive'"
check "build --domid 9" status_is 0 H build --domid 9
check "run in a built guest" status_is 0 H run --domid 9 -- true
check "a built guest outlives its programs" bash -c "$(printf '%q ' "$host_bin") --host $name ls | grep -q '^dom9 alive'"

check "destroy 3" status_is 0 H destroy 3
check "destroy of a dead domain fails" status_is 1 H destroy 3
check "destroy of an unknown domain fails" status_is 1 H destroy 99
check "xenstored released dom3" bash -c "for i in \$(seq 50); do XENSTORED_PATH=$xs_sock $xs_cli exists /local/domain/3 2>/dev/null || exit 0; sleep 0.1; done; exit 1"

check "stop exits 0 with nothing leaked" status_is 0 H stop
check "nothing left in the run directory" test ! -e "$XENWIRE_RUN_DIR/$name"
check "nothing left in /dev/shm" test ! -e "$shm"

# A crashed host: kill -9, then the next start removes what it left.
H start >/dev/null
pid=$(cat "$XENWIRE_RUN_DIR/$name/host.lock")
kill -9 "$pid"
for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
check "a crashed host leaves its socket" test -S "$XENWIRE_RUN_DIR/$name/host.sock"
check "start after a crash succeeds" status_is 0 H start
check "and serves" status_is 0 H build --domid 4
check "stop after that is clean" status_is 0 H stop
check "nothing left after all" bash -c "[ ! -e $XENWIRE_RUN_DIR/$name ] && [ ! -e $shm ]"

echo "host_cli_test: $failures failures"
[ "$failures" -eq 0 ]
