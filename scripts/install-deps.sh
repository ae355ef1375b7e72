#!/usr/bin/env bash
# Installs the Debian bookworm packages xenwire needs to build, test and fuzz.
# Idempotent and quiet: does nothing when everything is already present.
set -euo pipefail

pkgs=(
  build-essential cmake ninja-build pkg-config git
  g++ clang-14 libclang-rt-14-dev llvm-14
  libgtest-dev libgmock-dev librapidcheck-dev libbenchmark-dev
  libboost-dev libexpected-dev libcli11-dev libspdlog-dev libfmt-dev liburing-dev
  libxen-dev
  xenstore-utils python3 python3-pyxs
)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  echo "install-deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
