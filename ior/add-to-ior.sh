#!/usr/bin/env bash
# Adds the BenchFS backend (-a BENCHFS) to a checkout of IOR / mdtest
# (https://github.com/hpc/ior) that you have already: copies
# aiori-BENCHFS.c into its src/ and registers it the way IOR registers its
# CHFS backend (configure.ac, src/Makefile.am, src/aiori.h, src/aiori.c, and
# the list of APIs that allow -e in src/ior.c). Downloads nothing.
#   ior/add-to-ior.sh IOR_SRC_DIR
# Idempotent: a second run finds every edit made and changes nothing. A tree
# whose layout it does not know is refused, with what was not found, and
# left as it was, as is an IOR older than 42bb576 (2023; e.g. the 4.0.0 tag),
# whose hook names the backend does not fit. Built and run on IOR 5fcf0ba.
# Then build IOR against an installed libbenchfs (needs autoconf, automake,
# libtool, pkg-config and an MPI compiler):
#   cmake --install build/release --prefix /opt/benchfs
#   cd IOR_SRC_DIR && ./bootstrap
#   PKG_CONFIG_PATH=/opt/benchfs/lib/pkgconfig ./configure && make -j
#   src/ior -a BENCHFS ...   (see ior/README.md)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [[ $# -ne 1 || $1 == -h || $1 == --help ]]; then
  sed -n '2,16p' "$0" >&2
  exit 2
fi
ior=$1
if [[ ! -d $ior ]]; then
  echo "add-to-ior.sh: $ior: no such directory" >&2
  exit 1
fi
for f in configure.ac src/Makefile.am src/aiori.h src/aiori.c src/ior.c; do
  if [[ ! -f $ior/$f ]]; then
    echo "add-to-ior.sh: $ior/$f missing: not an IOR source tree (or a layout this script does not know)" >&2
    exit 1
  fi
done
python3 - "$ior" "$here/aiori-BENCHFS.c" <<'PY'
import os, shutil, sys

ior, backend = sys.argv[1], sys.argv[2]

CONFIGURE = """# BenchFS support (added by BenchFS's ior/add-to-ior.sh)
PKG_CHECK_MODULES([BENCHFS], [benchfs],
  [AC_DEFINE([USE_BENCHFS_AIORI], [], [Build BenchFS backend AIORI])
   BENCHFS_RPATH=$(pkg-config --libs-only-L benchfs | sed 's/-L/-Wl,-rpath=/g')
   AC_SUBST(BENCHFS_RPATH)],
  [with_benchfs=no])
AM_CONDITIONAL([USE_BENCHFS_AIORI], [test x$with_benchfs != xno])

"""
MAKEFILE = """if USE_BENCHFS_AIORI
extraSOURCES += aiori-BENCHFS.c
extraCPPFLAGS += @BENCHFS_CFLAGS@
extraLDFLAGS += @BENCHFS_RPATH@
extraLDADD += @BENCHFS_LIBS@
endif

"""
AIORI_C = "#ifdef USE_BENCHFS_AIORI\n        &benchfs_aiori,\n#endif\n"
AIORI_H = "extern ior_aiori_t benchfs_aiori;\n"
IOR_C = '            && (strcasecmp(test->api, "BENCHFS") != 0)\n'


def read(rel):
    with open(os.path.join(ior, rel)) as f:
        return f.read().splitlines(keepends=True)


def first(lines, pred):
    for i, line in enumerate(lines):
        if pred(line):
            return i
    return None


# Each edit: (file, already-done test, where to insert (index or None), text).
files = {rel: read(rel) for rel in ("configure.ac", "src/Makefile.am", "src/aiori.h", "src/aiori.c", "src/ior.c")}
plan, missing = [], []

def edit(rel, done, at, text, what):
    lines = files[rel]
    if any(done(l) for l in lines):
        return
    i = at(lines)
    if i is None:
        missing.append(f"{rel}: {what}")
    else:
        plan.append((rel, i, text))

# The backend fills IOR's hook table as IOR has named it since 42bb576
# (2023: `remove`, formerly `delete`); an older IOR cannot compile it.
if not any("(*remove)(" in l for l in files["src/aiori.h"]):
    missing.append("src/aiori.h: no '(*remove)(' hook: an IOR older than 42bb576 (2023, e.g. 4.0.0), "
                   "whose hooks the backend does not fit; use a newer IOR")

edit("configure.ac", lambda l: "USE_BENCHFS_AIORI" in l,
     lambda ls: first(ls, lambda l: l.startswith("AC_CONFIG_FILES(")),
     CONFIGURE, "no AC_CONFIG_FILES( line to put the BenchFS check before")
edit("src/Makefile.am", lambda l: "USE_BENCHFS_AIORI" in l,
     lambda ls: first(ls, lambda l: l.startswith("if USE_") and l.rstrip().endswith("_AIORI")),
     MAKEFILE, "no 'if USE_..._AIORI' block to put the BenchFS block before")
edit("src/aiori.h", lambda l: "benchfs_aiori" in l,
     lambda ls: (lambda i: None if i is None else i + 1)(first(ls, lambda l: l.strip() == "extern ior_aiori_t posix_aiori;")),
     AIORI_H, "no 'extern ior_aiori_t posix_aiori;' line")
edit("src/aiori.c", lambda l: "benchfs_aiori" in l,
     lambda ls: (lambda i: None if i is None else i + 1)(first(ls, lambda l: "available_aiori[]" in l and l.rstrip().endswith("{"))),
     AIORI_C, "no 'ior_aiori_t *available_aiori[] = {' line")

def fsync_line(ls):
    warn = first(ls, lambda l: "fsync() not supported in selected backend" in l)
    if warn is None:
        return None
    for i in range(warn, max(warn - 5, 0), -1):
        if "&& test->fsync)" in ls[i] and ls[i].lstrip().startswith("&&"):
            return i
    return None

edit("src/ior.c", lambda l: '"BENCHFS"' in l, fsync_line, IOR_C,
     "no '&& (strcasecmp(test->api, ...)) && test->fsync)' line before the 'fsync() not supported' warning")

if missing:
    print("add-to-ior.sh: refusing: this IOR tree has a layout the script does not know; nothing was changed:",
          file=sys.stderr)
    for m in missing:
        print("  " + m, file=sys.stderr)
    print("Use an IOR it knows (ior/README.md), or make the edits by hand as ior/README.md describes.", file=sys.stderr)
    sys.exit(1)

dest = os.path.join(ior, "src", "aiori-BENCHFS.c")
copied = False
with open(backend, "rb") as f:
    want = f.read()
if not os.path.exists(dest) or open(dest, "rb").read() != want:
    shutil.copyfile(backend, dest)
    copied = True
for rel, i, text in sorted(plan, key=lambda p: (p[0], -p[1])):
    files[rel][i:i] = [text]
for rel in sorted({p[0] for p in plan}):
    with open(os.path.join(ior, rel), "w") as f:
        f.writelines(files[rel])
done = sorted({p[0] for p in plan})
if copied:
    done.insert(0, "src/aiori-BENCHFS.c (copied)")
if done:
    print("add-to-ior.sh: BenchFS backend added to " + ior + ": " + ", ".join(done))
    print("next: ./bootstrap && PKG_CONFIG_PATH=<prefix>/lib/pkgconfig ./configure && make (see ior/README.md)")
else:
    print("add-to-ior.sh: " + ior + " has the BenchFS backend already; nothing changed")
PY
