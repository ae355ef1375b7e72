#!/usr/bin/env bash
# The main job: builds xenwire-sim (release preset, simhost/) and runs the simulated host.
# Extra arguments go to the demo (try --help).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release --target xenwire-sim >/dev/null
exec build/release/simhost/xenwire-sim "$@"
