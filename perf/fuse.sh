#!/usr/bin/env bash
# The FUSE mount against libbenchfs, on the same servers: IOR -a POSIX on a
# benchfs-fuse mount beside IOR -a BENCHFS (ior/aiori-BENCHFS.c), and `ls -l`
# of a directory of many files through the mount. Every round starts fresh
# servers and a fresh mount; the two IOR runs alternate which goes first.
#
#   IOR=/path/to/ior perf/fuse.sh [--rounds N] [--ranks N] [--block SIZE]
#                                 [--xfer SIZE] [--files N] [--direct-io]
#                                 [--fuse-args "ARGS"]
#
# Prints, per case, the first-pass write and the read of each round, then
# median / min / max / spread and the POSIX-to-BENCHFS ratio per round. The
# ls case creates --files files through the mount, then times `ls -l` on a
# fresh mount (nothing cached) and again (attributes cached). --fuse-args
# passes more options to benchfs-fuse (e.g. "--read-ahead 0" for the
# kernel's default read-ahead).
source "$(dirname "$0")/common.sh"

ROUNDS=3
RANKS=1
BLOCK=256m
XFER=1m
FILES=10000
DIRECT=()
FUSE_ARGS=
die_usage() { echo "fuse.sh: $*" >&2; exit 2; }
parse_options --rounds=ROUNDS --ranks=RANKS --block=BLOCK --xfer=XFER --files=FILES \
  --direct-io=DIRECT:--direct-io --fuse-args=FUSE_ARGS -- "$@"
[[ $ROUNDS =~ ^[1-9][0-9]*$ && $RANKS =~ ^[1-9][0-9]*$ && $FILES =~ ^[1-9][0-9]*$ ]] ||
  die_usage "--rounds, --ranks and --files take positive integers"
read -r -a FUSE_EXTRA <<<"$FUSE_ARGS"
IOR=${IOR:-}
[[ -n $IOR && -x $IOR ]] || die_usage "set IOR=/path/to/ior (built with the BENCHFS backend: ior/README.md)"
[[ $("$IOR" -h 2>&1 || true) == *BENCHFS* ]] || die_usage "IOR=$IOR has no BENCHFS backend (ior/README.md)"
[[ -w /dev/fuse ]] || die_usage "/dev/fuse is not usable here"
perf_build
FUSE_BIN=$BIN/fuse/benchfs-fuse
if [[ -z ${BENCHFS_BIN:-} ]]; then bash "$PERF_ROOT/scripts/build.sh" release --target benchfs-fuse >/dev/null; fi
[[ -x $FUSE_BIN ]] || die_usage "no $FUSE_BIN (libfuse3-dev missing at build time?)"

OUT=${OUT:-/tmp/benchfs-fuse-perf-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
MNT=$OUT/mnt
mkdir -p "$MNT"
cleanup() {
  mountpoint -q "$MNT" && fusermount3 -u "$MNT" 2>/dev/null
  [[ -n ${SERVER_JOB:-} ]] && stop_servers "$OUT/run"
  return 0
}
trap cleanup EXIT

fresh() {
  cleanup
  rm -rf "$OUT/run"
  start_servers "$OUT/run" 1 1 --memory-limit 4g
  wait_ready "$OUT/run"
  "$FUSE_BIN" "$MNT" --registry "$OUT/run/registry" --log "$OUT/fuse.log" "${DIRECT[@]}" "${FUSE_EXTRA[@]}"
  for _ in $(seq 100); do mountpoint -q "$MNT" && return 0; sleep 0.05; done
  echo "fuse.sh: no mount" >&2
  exit 1
}

# ior_run API: "write read" MiB/s of one IOR run (first pass: fresh files).
ior_run() {
  local api=$1 target
  local args=(-t "$XFER" -b "$BLOCK" -F -w -r -e -C -i 1)
  if [[ $api == BENCHFS ]]; then
    target=(-a BENCHFS "--benchfs.registry=$OUT/run/registry" -o /ior.dat)
  else
    target=(-a POSIX -o "$MNT/ior.dat")
  fi
  local out
  out=$(mpirun -np "$RANKS" --bind-to none --oversubscribe "$IOR" "${target[@]}" "${args[@]}" 2>&1) || {
    echo "$out" >&2
    return 1
  }
  awk '$1 == "write" {w = $2} $1 == "read" {r = $2} END {print w, r}' <<<"$out"
}

stats() { # label values...: median min max spread
  python3 - "$@" <<'EOF'
import sys, statistics
label, vals = sys.argv[1], [float(v) for v in sys.argv[2:]]
med = statistics.median(vals)
d = 2 if med < 10 else 1
print(f"{label:<28} median {med:10.{d}f}  min {min(vals):10.{d}f}  max {max(vals):10.{d}f}  spread {100*(max(vals)-min(vals))/med:5.1f}%")
EOF
}

declare -a BW BR PW PR RW RR LSC LSW
echo "fuse.sh: $ROUNDS rounds, IOR -t $XFER -b $BLOCK -F, $RANKS rank(s), 1 server, ${DIRECT[*]:-page cache} $FUSE_ARGS; load $(load)"
for r in $(seq "$ROUNDS"); do
  order=(BENCHFS POSIX)
  ((r % 2 == 0)) && order=(POSIX BENCHFS)
  for api in "${order[@]}"; do
    fresh
    read -r w rd < <(ior_run "$api")
    if [[ $api == BENCHFS ]]; then BW+=("$w"); BR+=("$rd"); else PW+=("$w"); PR+=("$rd"); fi
    echo "round $r $api: write $w MiB/s, read $rd MiB/s"
  done
  RW+=("$(python3 -c "print(${PW[-1]}/${BW[-1]})")")
  RR+=("$(python3 -c "print(${PR[-1]}/${BR[-1]})")")
  # ls -l of FILES files: made through the mount, listed on a new mount.
  mkdir "$MNT/many"
  python3 -c 'import os,sys
d=sys.argv[1]
for i in range(int(sys.argv[2])):
    os.close(os.open(f"{d}/file.{i:06d}", os.O_CREAT|os.O_WRONLY, 0o644))' "$MNT/many" "$FILES"
  fusermount3 -u "$MNT"
  "$FUSE_BIN" "$MNT" --registry "$OUT/run/registry" --log "$OUT/fuse.log" "${DIRECT[@]}" "${FUSE_EXTRA[@]}"
  for _ in $(seq 100); do mountpoint -q "$MNT" && break; sleep 0.05; done
  t0=$(date +%s.%N)
  n=$(ls -l "$MNT/many" | wc -l)
  t1=$(date +%s.%N)
  ls -l "$MNT/many" >/dev/null
  t2=$(date +%s.%N)
  [[ $n -eq $((FILES + 1)) ]] || { echo "fuse.sh: ls -l listed $n lines, expected $((FILES + 1))" >&2; exit 1; }
  LSC+=("$(python3 -c "print(($t1-$t0)*1000)")")
  LSW+=("$(python3 -c "print(($t2-$t1)*1000)")")
  echo "round $r ls -l of $FILES files: $(printf %.0f "${LSC[-1]}") ms on a new mount, $(printf %.0f "${LSW[-1]}") ms again"
done
echo
stats "BENCHFS write MiB/s" "${BW[@]}"
stats "POSIX on mount write MiB/s" "${PW[@]}"
stats "BENCHFS read MiB/s" "${BR[@]}"
stats "POSIX on mount read MiB/s" "${PR[@]}"
stats "ratio write (POSIX/BENCHFS)" "${RW[@]}"
stats "ratio read (POSIX/BENCHFS)" "${RR[@]}"
stats "ls -l new mount ms" "${LSC[@]}"
stats "ls -l again ms" "${LSW[@]}"
echo "results and logs: $OUT"
