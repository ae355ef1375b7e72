#!/usr/bin/env bash
# `xenwire-xenstore ls` against Debian's xenstore-ls on the same store, byte for byte, with every
# flag combination. Exits 77 (skipped) when xenstore-ls is not installed.
# Usage: ls_compat.sh TOOL XENSTORED
set -u
TOOL=$1 XENSTORED_BIN=$2
if ! command -v xenstore-ls >/dev/null; then
  echo "SKIPPED: xenstore-ls not found (Debian package xenstore-utils); nothing to compare with"
  exit 77
fi
here=$(dirname "$0")
. "$here/daemon.sh"
. "$here/populate.sh"
failures=0
for args in "" "-p" "-f" "-f -p" "/golden" "-p /golden" "/golden/sub" "-f /golden/sub"; do
  # shellcheck disable=SC2086
  if ! diff <(xenstore-ls $args 2>&1) <("$TOOL" ls $args 2>&1); then
    echo "FAIL: ls $args differs from xenstore-ls $args"
    failures=$((failures + 1))
  fi
done
echo "$failures difference(s)"
[ $failures = 0 ]
