#!/usr/bin/env bash
# Golden-output tests of xenwire-xenstore against xenwire-xenstored.
# Usage: run_golden.sh TOOL XENSTORED GOLDEN_DIR
# Each GOLDEN_DIR/*.golden holds "args: ...", "exit: N", then "--- stdout" and "--- stderr" sections
# with the exact expected output. Also: --help on every subcommand, and watch -n.
set -u
TOOL=$1 XENSTORED_BIN=$2 GOLDEN=$3
here=$(dirname "$0")
. "$here/daemon.sh"
. "$here/populate.sh"

failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

for case in "$GOLDEN"/*.golden; do
  name=$(basename "$case" .golden)
  args=$(sed -n 's/^args: //p' "$case")
  want_rc=$(sed -n 's/^exit: //p' "$case")
  want_out=$(awk '/^--- stdout$/{s=1;next} /^--- stderr$/{s=0} s' "$case")
  want_err=$(awk '/^--- stderr$/{s=1;next} s' "$case")
  # shellcheck disable=SC2086  # args are words by design
  got_out=$(eval "\"$TOOL\" $args" 2>"$WORK/stderr"); got_rc=$?
  got_err=$(cat "$WORK/stderr")
  [ "$got_rc" = "$want_rc" ] || fail "$name: exit $got_rc, expected $want_rc"
  [ "$got_out" = "$want_out" ] || { fail "$name: stdout differs"; diff <(echo "$want_out") <(echo "$got_out"); }
  [ "$got_err" = "$want_err" ] || { fail "$name: stderr differs"; diff <(echo "$want_err") <(echo "$got_err"); }
done

# --help works on the tool and every subcommand, exits 0 and prints a usage line.
for sub in "" read write ls list rm mkdir exists chmod getperms watch introduce release get-domain-path quota; do
  out=$("$TOOL" $sub --help 2>&1); rc=$?
  [ $rc = 0 ] || fail "'$sub --help' exited $rc"
  grep -q "^Usage: " <<<"$out" || fail "'$sub --help' prints no usage"
done

# watch -n 3: the registration event, then two changes, in order.
"$TOOL" watch -n 3 /golden/w >"$WORK/watch.out" 2>&1 &
watcher=$!
for _ in $(seq 100); do [ -s "$WORK/watch.out" ] && break; sleep 0.05; done
"$TOOL" write /golden/w/one 1
"$TOOL" write /golden/w/two 2
for _ in $(seq 100); do kill -0 $watcher 2>/dev/null || break; sleep 0.05; done
if kill -0 $watcher 2>/dev/null; then kill $watcher; fail "watch -n 3 did not stop"; fi
wait $watcher; rc=$?
[ $rc = 0 ] || fail "watch exited $rc"
printf '/golden/w\n/golden/w/one\n/golden/w/two\n' | diff - "$WORK/watch.out" || fail "watch output differs"

# watch stops cleanly on SIGINT.
"$TOOL" watch /golden >/dev/null 2>&1 &
watcher=$!
sleep 0.3
kill -INT $watcher
wait $watcher; rc=$?
[ $rc = 0 ] || fail "watch interrupted exited $rc"

echo "$failures failure(s)"
[ $failures = 0 ]
