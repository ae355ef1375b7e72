# Sourced by the tool tests: starts xenwire-xenstored on a private socket for this shell and stops
# it on exit. Needs $XENSTORED_BIN. Sets XENSTORED_PATH and WORK.
WORK=$(mktemp -d "${TMPDIR:-/tmp}/xw-tools-XXXXXX")
export XENSTORED_PATH="$WORK/socket"
"$XENSTORED_BIN" -N --socket "$XENSTORED_PATH" --log-level off --no-rate-limit &
DAEMON_PID=$!
trap 'kill "$DAEMON_PID" 2>/dev/null; wait "$DAEMON_PID" 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do
  [ -S "$XENSTORED_PATH" ] && break
  sleep 0.05
done
[ -S "$XENSTORED_PATH" ] || { echo "xenwire-xenstored did not start" >&2; exit 1; }
