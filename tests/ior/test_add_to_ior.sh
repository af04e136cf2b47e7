#!/usr/bin/env bash
# Test of ior/add-to-ior.sh on IOR-shaped trees this test writes itself
# (the files and lines the script edits, laid out as in IOR 5fcf0ba):
#  1. a tree gets every edit exactly once and the backend file;
#  2. a second run changes nothing (byte for byte);
#  3. a tree without one of the anchors is refused with a message naming
#     it, and is left unchanged (also src/aiori-BENCHFS.c not copied); so
#     is an IOR whose hook table predates the backend's (`delete`);
#  4. a missing directory and a directory that is no IOR tree are errors.
#   tests/ior/test_add_to_ior.sh   (ctest: ior.add_to_ior)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
script=$root/ior/add-to-ior.sh
work=$(mktemp -d /tmp/benchfs-add-to-ior.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

make_tree() {  # DIR: the pieces of IOR the script edits
  local d=$1
  mkdir -p "$d/src"
  cat >"$d/configure.ac" <<'X'
AC_INIT([ior],[4.1.0+dev])
# CHFS support
PKG_CHECK_MODULES([CHFS], [chfs],
  [AC_DEFINE([USE_CHFS_AIORI], [], [Build CHFS backend AIORI])],
  [with_chfs=no])
AM_CONDITIONAL([USE_CHFS_AIORI], [test x$with_chfs != xno])

AC_CONFIG_FILES([Makefile
                 src/Makefile
                 ])
AC_OUTPUT
X
  cat >"$d/src/Makefile.am" <<'X'
extraSOURCES = aiori.c aiori-DUMMY.c
extraLDADD =
extraCPPFLAGS =
extraLDFLAGS =

if USE_HDFS_AIORI
extraSOURCES  += aiori-HDFS.c
endif
X
  cat >"$d/src/aiori.h" <<'X'
typedef struct ior_aiori {
        void (*remove)(char *, aiori_mod_opt_t * module_options);
} ior_aiori_t;
extern ior_aiori_t dummy_aiori;
extern ior_aiori_t posix_aiori;
extern ior_aiori_t chfs_aiori;
X
  cat >"$d/src/aiori.c" <<'X'
ior_aiori_t *available_aiori[] = {
#ifdef USE_POSIX_AIORI
        &posix_aiori,
#endif
        NULL
};
X
  cat >"$d/src/ior.c" <<'X'
        if (((strcasecmp(test->api, "POSIX") != 0)
            && (strcasecmp(test->api, "RADOS") != 0)
            && (strcasecmp(test->api, "CEPHFS") != 0)) && test->fsync)
                WARN_RESET("fsync() not supported in selected backend",
                           test, &defaults, fsync);
X
}
sums() { (cd "$1" && find . -type f | sort | xargs sha256sum); }

# 1. every edit, once
t=$work/ior
make_tree "$t"
out=$(bash "$script" "$t") || fail "first run failed: $out"
[[ $out == *"BenchFS backend added"* ]] || fail "first run did not report the edits: $out"
cmp -s "$t/src/aiori-BENCHFS.c" "$root/ior/aiori-BENCHFS.c" || fail "backend not copied"
[[ $(grep -c 'AM_CONDITIONAL(\[USE_BENCHFS_AIORI\]' "$t/configure.ac") == 1 ]] || fail "configure.ac: no AM_CONDITIONAL"
# The check must come before AC_CONFIG_FILES / AC_OUTPUT.
[[ $(grep -n USE_BENCHFS_AIORI "$t/configure.ac" | tail -1 | cut -d: -f1) -lt $(grep -n '^AC_CONFIG_FILES' "$t/configure.ac" | cut -d: -f1) ]] ||
  fail "configure.ac: BenchFS check after AC_CONFIG_FILES"
[[ $(grep -c '^if USE_BENCHFS_AIORI' "$t/src/Makefile.am") == 1 ]] || fail "Makefile.am: no if block"
grep -q 'extraSOURCES += aiori-BENCHFS.c' "$t/src/Makefile.am" || fail "Makefile.am: source not added"
grep -q '@BENCHFS_LIBS@' "$t/src/Makefile.am" || fail "Makefile.am: libs not added"
[[ $(grep -c '^extern ior_aiori_t benchfs_aiori;' "$t/src/aiori.h") == 1 ]] || fail "aiori.h: no extern"
# In the list, guarded, before the NULL that ends it.
python3 - "$t/src/aiori.c" <<'PY' || fail "aiori.c: entry missing or misplaced"
import sys
s = open(sys.argv[1]).read()
i = s.index("#ifdef USE_BENCHFS_AIORI\n        &benchfs_aiori,\n#endif\n")
assert s.index("available_aiori[]") < i < s.index("NULL")
PY
# The -e allow-list: one more condition, and the expression still closes.
[[ $(grep -c '"BENCHFS"' "$t/src/ior.c") == 1 ]] || fail "ior.c: BENCHFS not allowed -e"
grep -B1 '"CEPHFS") != 0)) && test->fsync)' "$t/src/ior.c" | grep -q '"BENCHFS"' || fail "ior.c: condition misplaced"

# 2. idempotent
before=$(sums "$t")
out=$(bash "$script" "$t") || fail "second run failed: $out"
[[ $out == *"nothing changed"* ]] || fail "second run did not say nothing changed: $out"
[[ $(sums "$t") == "$before" ]] || fail "second run changed the tree"

# 3. unknown layout: refused, tree unchanged, message names the anchor
u=$work/unknown
make_tree "$u"
sed -i '/fsync() not supported/d' "$u/src/ior.c"
before=$(sums "$u")
if out=$(bash "$script" "$u" 2>&1); then fail "unknown layout accepted: $out"; fi
[[ $out == *"refusing"* && $out == *"src/ior.c"* && $out == *"nothing was changed"* ]] || fail "unclear refusal: $out"
[[ $(sums "$u") == "$before" ]] || fail "refused tree was changed"
[[ ! -e $u/src/aiori-BENCHFS.c ]] || fail "backend copied into a refused tree"

# 3b. an IOR too old for the backend (hook `delete`, not `remove`): refused
o=$work/old
make_tree "$o"
sed -i 's/(\*remove)(/(*delete)(/' "$o/src/aiori.h"
before=$(sums "$o")
if out=$(bash "$script" "$o" 2>&1); then fail "old IOR accepted: $out"; fi
[[ $out == *"older than 42bb576"* ]] || fail "unclear refusal of an old IOR: $out"
[[ $(sums "$o") == "$before" ]] || fail "old IOR tree was changed"

# 4. not a tree
if out=$(bash "$script" "$work/none" 2>&1); then fail "missing directory accepted"; fi
[[ $out == *"no such directory"* ]] || fail "unclear message for a missing directory: $out"
mkdir -p "$work/empty"
if out=$(bash "$script" "$work/empty" 2>&1); then fail "empty directory accepted"; fi
[[ $out == *"not an IOR source tree"* ]] || fail "unclear message for a non-IOR directory: $out"
echo "ok: add-to-ior.sh edits once, is idempotent, refuses unknown layouts unchanged"
