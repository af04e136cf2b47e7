#!/usr/bin/env bash
# Installation test of libbenchfs (registered with ctest by
# tests/install/CMakeLists.txt; can also be run by hand):
#
#   tests/install/install_test.sh <build dir>
#
#  1. `cmake --install <build dir>` into a temporary prefix, then MOVE the
#     tree elsewhere: everything below must work from the new place
#     (relocatable .pc and CMake package, $ORIGIN RPATH of benchfs_bench).
#  2. Check the tree: header, library with its SONAME links, pkg-config
#     file, CMake package, daemon and bench binaries, and that no C++
#     symbol of BenchFS leaks out of the shared library.
#  3. Build tests/install/hello.c with `cc $(pkg-config --cflags --libs benchfs)`.
#  4. Build it through tests/install/consumer (find_package(benchfs)).
#  5. Run both with LD_LIBRARY_PATH unset: they find libbenchfs through their
#     RPATH, start an in-process server and write/read/remove a file.
#
# Environment (ctest sets these): CMAKE (cmake binary), CC, CMAKE_GENERATOR,
# BENCHFS_CONSUMER_FLAGS (sanitizer flags of a sanitizer build; consumers of
# an instrumented library must carry the same runtime), BENCHFS_EXPECT_BENCH
# (1 when the build has benchfs_bench).
set -euo pipefail

die() {
  echo "install_test: FAILED: $*" >&2
  exit 1
}
step() { echo "install_test: == $*"; }

[[ $# -eq 1 ]] || die "usage: $0 <build dir>"
build_dir=$(cd "$1" && pwd) || die "no build directory '$1'"
[[ -f $build_dir/cmake_install.cmake ]] || die "'$build_dir' is not a configured CMake build directory"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

cmake_bin=${CMAKE:-cmake}
cc_bin=${CC:-cc}
# Word splitting wanted: a list of flags.
read -r -a san_flags <<<"${BENCHFS_CONSUMER_FLAGS:-}"
expect_bench=${BENCHFS_EXPECT_BENCH:-1}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/benchfs-install-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# hello puts its registry directory under $TMPDIR: inside $tmp, cleaned above.
export TMPDIR=$tmp

# Running: UCX over loopback (as the other tests), default transports, and
# nothing from the caller's library path: libbenchfs must come from RPATH.
export UCX_NET_DEVICES=lo
unset UCX_TLS LD_LIBRARY_PATH

# ---------------------------------------------------------------- install
step "cmake --install $build_dir"
"$cmake_bin" --install "$build_dir" --prefix "$tmp/staged" >"$tmp/install.log" 2>&1 ||
  { cat "$tmp/install.log" >&2; die "cmake --install $build_dir --prefix $tmp/staged"; }
# Relocate: nothing may depend on the prefix given at install time.
prefix=$tmp/prefix
mv "$tmp/staged" "$prefix"
echo "install_test: installed, then moved to $prefix"

# ------------------------------------------------------------- the tree
step "check the installed tree"
# The libdir is lib/ for a custom prefix, but GNUInstallDirs may choose a
# multiarch one (lib/x86_64-linux-gnu): find it from the .pc file.
pc=$(find "$prefix" -path '*/pkgconfig/benchfs.pc' -print -quit)
[[ -n $pc ]] || die "no pkgconfig/benchfs.pc under $prefix"
pcdir=$(dirname "$pc")
libdir=$(dirname "$pcdir")
echo "install_test: libdir $libdir"

[[ -f $prefix/include/benchfs/benchfs.h ]] || die "header include/benchfs/benchfs.h not installed"
[[ -f $libdir/cmake/benchfs/benchfsConfig.cmake ]] || die "CMake package not in $libdir/cmake/benchfs"
[[ -f $libdir/cmake/benchfs/benchfsConfigVersion.cmake ]] || die "benchfsConfigVersion.cmake not installed"
# libbenchfs.so -> libbenchfs.so.<major> -> libbenchfs.so.<version>
[[ -L $libdir/libbenchfs.so ]] || die "libbenchfs.so (development link) missing or not a symlink"
real=$(readlink -f "$libdir/libbenchfs.so")
[[ -f $real && $real == "$libdir"/libbenchfs.so.*.*.* ]] || die "libbenchfs.so does not lead to libbenchfs.so.X.Y.Z"
soname=$(objdump -p "$real" | awk '$1 == "SONAME" { print $2 }')
[[ -n $soname && -L $libdir/$soname ]] || die "SONAME link '$soname' missing in $libdir"
# Only the C API is exported: C++ internals of BenchFS (namespace benchfs,
# mangled "7benchfs") must stay hidden (-fvisibility=hidden, --exclude-libs).
leaked=$(nm -D --defined-only "$real" | awk '{ print $NF }' | grep '7benchfs' || true)
[[ -z $leaked ]] || die "libbenchfs exports C++ symbols of BenchFS:"$'\n'"$leaked"
nm -D --defined-only "$real" | grep -q ' T benchfs_init$' || die "libbenchfs does not export benchfs_init"

[[ -x $prefix/bin/benchfsd_mt ]] || die "bin/benchfsd_mt not installed"
"$prefix/bin/benchfsd_mt" --help >/dev/null || die "installed benchfsd_mt --help does not run"
if [[ $expect_bench == 1 ]]; then
  [[ -x $prefix/bin/benchfs_bench ]] || die "bin/benchfs_bench not installed"
  # Loads libbenchfs from ../lib through its $ORIGIN RPATH (LD_LIBRARY_PATH unset).
  "$prefix/bin/benchfs_bench" --help >/dev/null ||
    die "installed benchfs_bench --help does not run (libbenchfs not found through its RPATH?)"
fi

# Where a binary's libbenchfs comes from, as the loader resolves it.
check_resolves_into_prefix() {
  local bin=$1 got
  got=$(ldd "$bin" | awk '$1 ~ /^libbenchfs\.so/ { print $3 }')
  [[ -n $got && $got != "not" ]] || { ldd "$bin" >&2; die "$bin: libbenchfs not found by the loader"; }
  [[ $(readlink -f "$got") == "$real" ]] || die "$bin loads $got, not the installed $real"
}

# The tools built in this tree (benchfs-fuse only where libfuse3-dev was
# found) run from the prefix and load its libbenchfs.
for tool in benchfs_find benchfs-fuse; do
  [[ -x $build_dir/tools/$tool || -x $build_dir/fuse/$tool ]] || continue
  [[ -x $prefix/bin/$tool ]] || die "bin/$tool was built but not installed"
  "$prefix/bin/$tool" --help >/dev/null || die "installed $tool --help does not run"
  check_resolves_into_prefix "$prefix/bin/$tool"
done

# ------------------------------------------------------------ pkg-config
step "build hello.c with pkg-config"
# PKG_CONFIG_LIBDIR (not _PATH) so that only our .pc is searched: a
# benchfs.pc installed on the system cannot stand in for it.
pc_flags=$(PKG_CONFIG_LIBDIR=$pcdir pkg-config --cflags --libs benchfs) ||
  die "pkg-config --cflags --libs benchfs (PKG_CONFIG_LIBDIR=$pcdir)"
echo "install_test: pkg-config: $pc_flags"
pc_version=$(PKG_CONFIG_LIBDIR=$pcdir pkg-config --modversion benchfs)
read -r -a pc_words <<<"$pc_flags"
mkdir "$tmp/pc-build"
# -Werror -pedantic -std=c99: the public header is clean C99.
"$cc_bin" -std=c99 -Wall -Wextra -Wpedantic -Werror ${san_flags[@]+"${san_flags[@]}"} \
  "$here/hello.c" "${pc_words[@]}" -Wl,-rpath,"$libdir" -o "$tmp/pc-build/hello" ||
  die "compiling hello.c with the pkg-config flags of benchfs $pc_version"
check_resolves_into_prefix "$tmp/pc-build/hello"

# ---------------------------------------------------------- find_package
step "build hello.c with find_package(benchfs)"
cmake_args=(-S "$here/consumer" -B "$tmp/cmake-build"
            -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release
            -DCMAKE_C_COMPILER="$cc_bin")
if [[ ${#san_flags[@]} -gt 0 ]]; then
  cmake_args+=(-DCMAKE_C_FLAGS="${san_flags[*]}" -DCMAKE_EXE_LINKER_FLAGS="${san_flags[*]}")
fi
"$cmake_bin" "${cmake_args[@]}" >"$tmp/consumer-configure.log" 2>&1 ||
  { cat "$tmp/consumer-configure.log" >&2; die "configuring tests/install/consumer (find_package(benchfs))"; }
found=$(sed -n 's/^benchfs_DIR:[A-Z]*=//p' "$tmp/cmake-build/CMakeCache.txt")
[[ $(readlink -f "$found") == $(readlink -f "$libdir/cmake/benchfs") ]] ||
  die "find_package(benchfs) used '$found', not the installed $libdir/cmake/benchfs"
"$cmake_bin" --build "$tmp/cmake-build" >"$tmp/consumer-build.log" 2>&1 ||
  { cat "$tmp/consumer-build.log" >&2; die "building tests/install/consumer"; }
check_resolves_into_prefix "$tmp/cmake-build/hello"

# ------------------------------------------------------------------ run
# Both must pass: hello exercises a server and the file API, and a failure
# there is a failure of the installed library, never a skip.
# Both are run even when the first fails, so that the log shows both.
failed=()
for bin in "$tmp/pc-build/hello" "$tmp/cmake-build/hello"; do
  step "run $bin"
  rc=0
  "$bin" || rc=$?
  if [[ $rc -ne 0 ]]; then
    echo "install_test: $bin exited with status $rc (its last line says which step failed)" >&2
    failed+=("$bin")
  fi
done
[[ ${#failed[@]} -eq 0 ]] || die "running ${failed[*]}"

echo "install_test: all passed"
