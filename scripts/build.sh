#!/usr/bin/env bash
# Usage: scripts/build.sh [debug|release|asan|tsan] [cmake --build args, e.g. --target X]
# Installs missing Debian packages, configures the preset and builds it.
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-release}
shift || true
bash scripts/deps.sh
if [[ ! -f build/$preset/build.ninja ]]; then
  cmake --preset "$preset" >/dev/null
fi
cmake --build "build/$preset" -j "$(nproc)" "$@"
