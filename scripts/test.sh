#!/usr/bin/env bash
# Builds BenchFS and runs its tests: the whole suite (unit, integration,
# stress) in the release, asan (ASan+UBSan) and tsan presets, and the
# libFuzzer targets (clang) in the fuzz preset, each for a bounded time, and
# a build-only check that a plain `cmake -DCMAKE_BUILD_TYPE=Release` build
# (no preset, warnings not errors) of the server and library works, and
# scripts/lint.sh (clang-format and clang-tidy).
# Installs missing Debian packages first.
#   scripts/test.sh            everything (what CI runs)
#   PRESETS=release scripts/test.sh    only some presets
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
PRESETS=${PRESETS:-"plain lint release asan tsan fuzz"}
bash scripts/deps.sh
failed=()
start=$(date +%s)

run_ctest() {  # preset, ctest args...
  local preset=$1
  shift
  echo "== ctest ($preset) $*"
  if ! ctest --test-dir "build/$preset" --output-on-failure --timeout 600 "$@"; then
    failed+=("$preset: ctest $*")
  fi
}

for preset in $PRESETS; do
  echo "== build ($preset)"
  if [[ $preset != plain && $preset != lint && ! -f build/$preset/build.ninja ]]; then
    cmake --preset "$preset" >/dev/null
  fi
  case $preset in
    plain)
      # What a user who ignores the presets gets (GCC's -O3 false positives
      # must not stop it).
      if [[ ! -f build/plain/build.ninja ]]; then
        cmake -S . -B build/plain -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
      fi
      if ! cmake --build build/plain -j "$(nproc)" --target benchfsd_mt benchfs; then
        failed+=("plain: cmake -DCMAKE_BUILD_TYPE=Release build")
      fi
      continue
      ;;
    lint)
      # Formatting and clang-tidy (reads the release preset's compile
      # commands; builds nothing).
      if ! bash scripts/lint.sh; then failed+=("lint: scripts/lint.sh"); fi
      continue
      ;;
    tsan)
      # ThreadSanitizer: the whole suite, servers and clients instrumented.
      # UCX's memory-event hooks (libucm) crash TSan's interceptors from the
      # moment libucp loads, so they are off for every process of the run
      # (nothing here needs UCX's registration cache). TSan cannot see
      # SysV shared memory detached and attached again at the same address
      # (no shmat/shmdt interceptors), so UCX uses POSIX shared memory.
      cmake --build build/tsan -j "$(nproc)"
      UCX_MEM_EVENTS=no UCX_TLS=^sysv run_ctest tsan -L unit -j "$(nproc)"
      UCX_MEM_EVENTS=no UCX_TLS=^sysv run_ctest tsan -L 'integration|stress'
      ;;
    fuzz)
      # libFuzzer (clang): replay the seeds and tests/fuzz/regressions, then
      # fuzz each target for BENCHFS_FUZZ_SECONDS (20 s).
      cmake --build build/fuzz -j "$(nproc)" --target benchfs_fuzz
      run_ctest fuzz -L fuzz
      ;;
    *)
      cmake --build "build/$preset" -j "$(nproc)"
      # Unit tests in parallel; tests that start servers one at a time.
      run_ctest "$preset" -L unit -j "$(nproc)"
      run_ctest "$preset" -L 'integration|stress'
      ;;
  esac
done

echo "== tests finished in $(( $(date +%s) - start )) s"
if [[ ${#failed[@]} -gt 0 ]]; then
  printf 'FAILED: %s\n' "${failed[@]}"
  exit 1
fi
echo "all test runs passed"
