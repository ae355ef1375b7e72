#!/usr/bin/env bash
# xenwire-xenstored started the way Xen's start scripts start C xenstored, unchanged:
#  - Debian's /etc/init.d/xen: start-stop-daemon --start --pidfile P --exec /usr/bin/choom --
#    -n -1000 XENSTORED -- $XENSTORED_ARGS --pid-file P, then polls `xenstore-read -s /`;
#  - Xen's launch-xenstore (upstream xenstored.service, Type=notify, NotifyAccess=all):
#    prlimit --nofile=N XENSTORED --pid-file P $XENSTORED_ARGS, then reads P at once.
# Both need the daemon to fork and return once it serves. Checked: exit codes, pid file, detaching
# (new session, stdio on /dev/null, cwd /), socket readiness, the trace file (-T, SIGHUP reopen),
# systemd's READY=1, -P, SIGTERM (clean exit, pid file and socket removed), -N, -U and bad options.
# Usage: launch_like_c.sh XENSTORED CLI
set -u
XENSTORED_BIN=$(realpath "$1") TOOL=$(realpath "$2")
WORK=$(mktemp -d "${TMPDIR:-/tmp}/xw-launch-XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
  rm -rf "$WORK"
}
trap cleanup EXIT
failures=0
pass() { echo "PASS: $1"; }
fail() { echo "FAIL: $1"; failures=$((failures + 1)); }
check() { local what=$1; shift; if "$@"; then pass "$what"; else fail "$what"; fi; }
wait_gone() {  # a detached daemon is not our child: poll (exited = gone or a zombie init has not reaped)
  for _ in $(seq 200); do
    case $(ps -o stat= -p "$1" 2>/dev/null) in ''|Z*) return 0 ;; esac
    sleep 0.01
  done
  return 1
}
wait_for() { for _ in $(seq 200); do "$@" && return 0; sleep 0.01; done; return 1; }
answers() { XENSTORED_PATH=$1 timeout 5 "$TOOL" exists / >/dev/null 2>&1; }

# ---- Debian's init.d/xen ----
export XENSTORED_RUNDIR=$WORK/run  # the socket is $XENSTORED_RUNDIR/socket (its directory is created)
unset XENSTORED_PATH NOTIFY_SOCKET
pidfile=$WORK/xenstore.pid
trace=$WORK/xenstored-trace.log
launcher=()
command -v choom >/dev/null && choom -n -1000 true 2>/dev/null && launcher=(choom -n -1000)
if command -v start-stop-daemon >/dev/null; then
  if [ ${#launcher[@]} -gt 0 ]; then
    start=(start-stop-daemon --start --quiet --pidfile "$pidfile" --exec /usr/bin/choom -- -n -1000 "$XENSTORED_BIN" --)
  else
    start=(start-stop-daemon --start --quiet --pidfile "$pidfile" --exec "$XENSTORED_BIN" --)
  fi
else
  start=("$XENSTORED_BIN")
fi
XENSTORED_ARGS=(-T "$trace" -W 200)
out=$(cd "$WORK" && "${start[@]}" "${XENSTORED_ARGS[@]}" --pid-file "$pidfile" 2>"$WORK/start.err")
rc=$?
check "init.d/xen start (${start[0]}${launcher[*]:+ + choom}) returns 0" [ $rc -eq 0 ]
check "nothing on stdout without -P" [ -z "$out" ]
pid=$(cat "$pidfile" 2>/dev/null)
check "pid file written before the start command returned" [ -n "$pid" ]
[ -n "$pid" ] || { cat "$WORK/start.err"; echo "cannot go on without the daemon"; exit 1; }
pids+=("$pid")
check "pid file names a live daemon" kill -0 "$pid"
check "the daemon is no child of ours (forked, its parent exited)" [ "$(ps -o ppid= -p "$pid" | tr -d ' ')" != "$$" ]
check "new session, not its leader" [ "$(ps -o sid= -p "$pid" | tr -d ' ')" != "$(ps -o sid= -p $$ | tr -d ' ')" ] 
check "stdio on /dev/null" [ "$(readlink "/proc/$pid/fd/1")" = /dev/null ]
check "working directory /" [ "$(readlink "/proc/$pid/cwd")" = / ]
check "socket at \$XENSTORED_RUNDIR/socket answers" answers "$WORK/run/socket"
if command -v xenstore-read >/dev/null; then
  check "xenstore-read -s / (init.d/xen's readiness poll) answers" \
    env XENSTORED_PATH="$WORK/run/socket" timeout 5 xenstore-read -s / >/dev/null
fi
XENSTORED_PATH=$WORK/run/socket timeout 5 "$TOOL" write /launch/x 1 >/dev/null 2>&1
check "trace file: C's marker and IN/OUT lines" \
  bash -c 'grep -q "^\*\*\*$" "$1" && grep -q "^IN conn [0-9]* [0-9]\{8\} [0-9:]\{8\} WRITE " "$1" && grep -q "^OUT conn " "$1"' _ "$trace"
mv "$trace" "$trace.1"
kill -HUP "$pid"
check "SIGHUP reopens the trace file" wait_for test -s "$trace"
check "daemon survives SIGHUP" kill -0 "$pid"
# Started again while it runs (init.d/xen does not recognise the binary as running): refused,
# the pid file and the running daemon untouched.
XENSTORED_PATH= "$XENSTORED_BIN" --pid-file "$pidfile" >/dev/null 2>&1
check "second daemon on the same socket exits 1" [ $? -eq 1 ]
check "pid file still names the first daemon" [ "$(cat "$pidfile" 2>/dev/null)" = "$pid" ]
kill -TERM "$pid"
check "SIGTERM stops the daemon" wait_gone "$pid"
check "pid file removed at exit" [ ! -e "$pidfile" ]
check "socket removed at exit" [ ! -e "$WORK/run/socket" ]

# ---- launch-xenstore under systemd (Type=notify, NotifyAccess=all) ----
unset XENSTORED_RUNDIR
export XENSTORED_PATH=$WORK/s2
pidfile=$WORK/xen/xenstored.pid
mkdir -p "$WORK/xen"
notify=$WORK/notify
have_py=
if command -v python3 >/dev/null; then
  python3 - "$notify" >"$WORK/notified" 2>&1 <<'EOF' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(10)
print(s.recv(256).decode(), flush=True)
EOF
  rx=$!
  wait_for test -S "$notify" && have_py=1
fi
rm -f "$pidfile"
out=$(NOTIFY_SOCKET=${have_py:+$notify} prlimit --nofile=4096 "$XENSTORED_BIN" --pid-file "$pidfile" -P 2>/dev/null)
rc=$?
pid=$(cat "$pidfile" 2>/dev/null)  # launch-xenstore reads it at once under systemd
check "launch-xenstore form returns 0" [ $rc -eq 0 ]
check "pid file readable the moment the launcher returns" [ -n "$pid" ]
[ -n "$pid" ] || { echo "cannot go on without the daemon"; exit 1; }
pids+=("$pid")
check "-P printed the daemon's pid on stdout" [ "$out" = "$pid" ]
check "socket at \$XENSTORED_PATH answers" answers "$XENSTORED_PATH"
if [ -n "$have_py" ]; then
  wait "$rx"
  check "READY=1 sent to \$NOTIFY_SOCKET" [ "$(cat "$WORK/notified")" = "READY=1" ]
fi
check "daemon got the raised fd limit" bash -c 'grep -q "^Max open files *4096" "/proc/$1/limits"' _ "$pid"
kill -TERM "$pid"
check "SIGTERM stops it" wait_gone "$pid"
check "pid file removed" [ ! -e "$pidfile" ]

# ---- -N (foreground), -U, bad options ----
pidfile=$WORK/fg.pid
"$XENSTORED_BIN" -N -F "$pidfile" --log-level warn 2>"$WORK/fg.err" &
fg=$!
check "-N: pid file names the foreground process" wait_for bash -c '[ "$(cat "$1" 2>/dev/null)" = "$2" ]' _ "$pidfile" "$fg"
check "-N: answers" answers "$XENSTORED_PATH"
kill -TERM $fg
wait $fg
check "-N: SIGTERM exits 0" [ $? -eq 0 ]
check "-N: pid file removed" [ ! -e "$pidfile" ]
err=$("$XENSTORED_BIN" -U --pid-file "$WORK/u.pid" 2>&1 >/dev/null)  # no state left by a live update
check "-U exits 1" [ $? -eq 1 ]
check "-U without a state: says which file" grep -q "state_dump: No such file" <<<"$err"
check "-U writes no pid file" [ ! -e "$WORK/u.pid" ]
err=$("$XENSTORED_BIN" --no-such-option 2>&1 >/dev/null)
check "unknown option exits 2" [ $? -eq 2 ]
check "unknown option: usage hint" grep -q -- "--help" <<<"$err"
err=$("$XENSTORED_BIN" -N -R -K -I --priv-domid 0 --log-level info --socket "$WORK/s3" -F "$WORK/n.pid" 2>&1 &
      p=$!; for _ in $(seq 200); do [ -e "$WORK/n.pid" ] && break; sleep 0.01; done; kill -TERM $p; wait $p)
check "ignored options: one info line each" [ "$(grep -c 'has no effect' <<<"$err")" -eq 4 ]

echo "$failures failure(s)"
[ $failures = 0 ]
