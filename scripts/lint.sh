#!/usr/bin/env bash
# Lint: every C/C++ file of the repository formatted as .clang-format says,
# and clang-tidy clean under .clang-tidy (tests/.clang-tidy relaxes two
# performance checks for tests) for every translation unit of the release
# build. CI runs this from scripts/test.sh.
#   scripts/lint.sh               both checks
#   scripts/lint.sh --format      only the format check (no build directory needed)
#   scripts/lint.sh --fix-format  rewrite the files clang-format would change
# clang-tidy reads build/release/compile_commands.json and configures the
# release preset first if there is none (nothing is built).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-all}
case $mode in
  all | --format | --fix-format) ;;
  -h | --help)
    sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
  *)
    echo "lint.sh: unknown option '$mode' (see --help)" >&2
    exit 2
    ;;
esac
mapfile -t sources < <(git ls-files '*.c' '*.cpp' '*.h' '*.hpp')
status=0

if [[ $mode == --fix-format ]]; then
  clang-format -i "${sources[@]}"
  exit 0
fi
echo "== clang-format: ${#sources[@]} files"
if ! clang-format --dry-run -Werror "${sources[@]}"; then
  echo "lint: files above differ from .clang-format (scripts/lint.sh --fix-format rewrites them)" >&2
  status=1
fi
[[ $mode == --format ]] && exit $status

db=build/release/compile_commands.json
if [[ ! -f $db ]]; then cmake --preset release >/dev/null; fi
# Translation units of this repository (the build may list generated ones).
mapfile -t units < <(python3 - "$db" <<'PY'
import json, os, sys
root = os.getcwd()
for f in sorted({os.path.realpath(e["file"]) for e in json.load(open(sys.argv[1]))}):
    rel = os.path.relpath(f, root)
    if not rel.startswith(("..", "build/")):
        print(rel)
PY
)
echo "== clang-tidy: ${#units[@]} translation units"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! printf '%s\n' "${units[@]}" |
  xargs -P "$(nproc)" -n 4 clang-tidy -p build/release --quiet >"$log" 2>&1; then
  status=1
fi
# clang-tidy prints a count of suppressed warnings per file: only findings matter.
if grep -E 'warning:|error:' "$log" | sort -u; then
  echo "lint: clang-tidy findings above" >&2
  status=1
elif [[ $status -ne 0 ]]; then
  cat "$log" >&2
fi
[[ $status -eq 0 ]] && echo "lint: clean"
exit $status
