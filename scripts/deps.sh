#!/usr/bin/env bash
# Installs the Debian 12 packages BenchFS needs to build, test and benchmark,
# when any is missing. Idempotent and quiet: prints one line when it installs.
set -euo pipefail

packages=(
  g++ cmake ninja-build pkg-config make
  clang libclang-rt-14-dev clang-format clang-tidy
  libucx-dev ucx-utils
  libopenmpi-dev openmpi-bin
  libtbb-dev libconcurrentqueue-dev libhwloc-dev
  libspdlog-dev libfmt-dev libcli11-dev nlohmann-json3-dev
  libgtest-dev googletest
  libfuse3-dev fuse3
  procps python3 gnuplot-nox
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -ne 0 ]]; then
  SUDO=sudo
else
  SUDO=
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp /tmp/benchfs-deps.XXXXXX.log)
# A fresh machine may have no package lists yet; fetch them only if needed.
if ! $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >"$log" 2>&1; then
  $SUDO apt-get update -q >>"$log" 2>&1
  if ! $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >>"$log" 2>&1; then
    echo "deps: apt-get failed; last lines of $log:" >&2
    tail -20 "$log" >&2
    exit 1
  fi
fi
rm -f "$log"
