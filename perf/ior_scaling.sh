#!/usr/bin/env bash
# Scaling sweep: servers x progress threads x client ranks, with IOR and
# mdtest (BenchFS backend, ior/aiori-BENCHFS.c) against benchfsd_mt on this
# machine. For every (servers, threads) pair a fresh benchfsd_mt job is
# started; for every client rank count IOR writes and reads (file per process
# and one shared file) and mdtest creates / stats / reads / removes files.
# Without IOR=... (or when it cannot be run) the script says so and runs the
# same sweep with benchfs_bench io / md, BenchFS's own IOR- / mdtest-like
# client, so the numbers of both kinds of run line up.
#   IOR=/path/to/ior MDTEST=/path/to/mdtest perf/ior_scaling.sh
#       [--servers 1,2] [--threads 1] [--clients 1,2,4] [--xfer 1m] [--block 16m]
#       [--segments 1] [--files 200] [--out DIR] [--no-plot]
# --block: bytes per client rank per segment (a multiple of --xfer);
# --files: files per client rank in the metadata runs. --out (default
# /tmp/benchfs-ior-scaling-<date>) receives scaling.csv (one row per value:
# tool, servers, threads, clients, mode, phase, value, unit, load before the
# run), the raw outputs under raw/, and scaling.png (bandwidth and metadata
# rates against client ranks, one line per servers x threads).
# MDTEST defaults to the mdtest next to IOR. Keep the sweep small on a small
# machine: every server thread and client rank wants a core of its own.
source "$(dirname "$0")/common.sh"
SERVERS=1,2
THREADS=1
CLIENTS=1,2,4
XFER=1m
BLOCK=16m
SEGMENTS=1
FILES=200
OUT=
PLOT=1
parse_options --servers=SERVERS --threads=THREADS --clients=CLIENTS --xfer=XFER --block=BLOCK \
  --segments=SEGMENTS --files=FILES --out=OUT --no-plot=PLOT: -- "$@"

die_usage() { echo "ior_scaling.sh: $*" >&2; exit 2; }
list_of_counts() {
  local name=$1 value=$2
  [[ $value =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]] || die_usage "--$name must be a list like 1,2,4 (got '$value')"
}
list_of_counts servers "$SERVERS"
list_of_counts threads "$THREADS"
list_of_counts clients "$CLIENTS"
[[ $SEGMENTS =~ ^[1-9][0-9]*$ ]] || die_usage "--segments must be a positive integer"
[[ $FILES =~ ^[1-9][0-9]*$ ]] || die_usage "--files must be a positive integer"
xfer_bytes=$(to_bytes "$XFER" 2>/dev/null) || die_usage "bad --xfer '$XFER'"
block_bytes=$(to_bytes "$BLOCK" 2>/dev/null) || die_usage "bad --block '$BLOCK'"
((xfer_bytes > 0 && block_bytes % xfer_bytes == 0)) || die_usage "--block must be a multiple of --xfer"
IFS=, read -ra server_counts <<<"$SERVERS"
IFS=, read -ra thread_counts <<<"$THREADS"
IFS=, read -ra client_counts <<<"$CLIENTS"

IOR=${IOR:-}
if [[ -n $IOR && -z ${MDTEST:-} ]]; then MDTEST=$(dirname "$IOR")/mdtest; fi
MDTEST=${MDTEST:-}
if [[ -n $IOR && ! -x $IOR ]]; then
  echo "IOR=$IOR is not an executable: using benchfs_bench io instead" >&2
  IOR=
fi
if [[ -n $IOR ]] && [[ $("$IOR" -h 2>&1 || true) != *BENCHFS* ]]; then
  echo "IOR=$IOR has no BENCHFS backend (see ior/README.md): using benchfs_bench io instead" >&2
  IOR=
fi
if [[ -n $MDTEST && ! -x $MDTEST ]]; then
  echo "MDTEST=$MDTEST is not an executable: using benchfs_bench md instead" >&2
  MDTEST=
fi
if [[ -z $IOR ]]; then
  echo "IOR not given (IOR=/path/to/ior): running the sweep with benchfs_bench io / md"
fi

perf_build
if [[ -n $PLOT ]] && ! command -v gnuplot >/dev/null; then
  echo "gnuplot missing: installing it with scripts/deps.sh"
  bash "$PERF_ROOT/scripts/deps.sh" || true
  command -v gnuplot >/dev/null || { echo "gnuplot still missing: no plot (apt-get install gnuplot-nox)" >&2; PLOT=; }
fi
OUT=${OUT:-/tmp/benchfs-ior-scaling-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT/raw"
work=$(mktemp -d /tmp/benchfs-ior-scaling.XXXXXX)
csv=$OUT/scaling.csv
echo "tool,servers,threads,clients,mode,phase,value,unit,load" >"$csv"
trap '[[ -n "${SERVER_JOB:-}" ]] && kill -TERM $SERVER_JOB 2>/dev/null; true' EXIT

io_tool=${IOR:+ior}
io_tool=${io_tool:-benchfs_bench-io}
md_tool=${MDTEST:+mdtest}
md_tool=${md_tool:-benchfs_bench-md}
echo "BenchFS scaling: servers {$SERVERS} x threads {$THREADS} x client ranks {$CLIENTS};" \
  "io $io_tool -t $XFER -b $BLOCK -s $SEGMENTS, md $md_tool $FILES files per rank"
echo "load before: $(load)"
failed=0
mpirun_clients() {
  local n=$1
  shift
  mpirun -np "$n" --bind-to none --oversubscribe "$@"
}

# run_io S T C MODE REGISTRY RAW: one io run, rows appended to the CSV.
run_io() {
  local s=$1 t=$2 c=$3 mode=$4 registry=$5 raw=$6 before rc=0
  before=$(load | cut -d' ' -f1)
  if [[ -n $IOR ]]; then
    local args=(-a BENCHFS "--benchfs.registry=$registry" -t "$xfer_bytes" -b "$block_bytes" -s "$SEGMENTS"
      -w -r -o "/scaling-io-$mode")
    [[ $mode == fpp ]] && args+=(-F)
    mpirun_clients "$c" "$IOR" "${args[@]}" >"$raw" 2>&1 || rc=$?
    awk -v pre="ior,$s,$t,$c,$mode" -v load="$before" \
      '($1 == "write" || $1 == "read") && NF > 10 && $2 ~ /^[0-9.]+$/ && !seen[$1]++ {
         print pre "," $1 "," $2 ",MiB/s," load }' "$raw" >>"$csv"
  else
    local args=(io --registry "$registry" -t "$xfer_bytes" -b "$block_bytes" -s "$SEGMENTS" --write --read
      --dir /scaling-io --json)
    [[ $mode == fpp ]] && args+=(-F)
    mpirun_clients "$c" "$BIN/perf/benchfs_bench" "${args[@]}" >"$raw" 2>&1 || rc=$?
    python3 - "$raw" "benchfs_bench-io,$s,$t,$c,$mode" "$before" >>"$csv" <<'PY'
import json, sys
path, prefix, load = sys.argv[1:]
for line in open(path):
    if line.startswith("{"):
        j = json.loads(line)
        print(f"{prefix},{j['phase']},{j['mib_per_s']},MiB/s,{load}")
PY
  fi
  if [[ $rc -ne 0 ]]; then
    echo "servers $s, threads $t, clients $c, io $mode: exit $rc (see $raw)" >&2
    failed=1
  fi
}

# run_md S T C REGISTRY RAW
run_md() {
  local s=$1 t=$2 c=$3 registry=$4 raw=$5 before rc=0
  before=$(load | cut -d' ' -f1)
  if [[ -n $MDTEST ]]; then
    mpirun_clients "$c" "$MDTEST" -a BENCHFS "--benchfs.registry=$registry" -F -n "$FILES" \
      -d "/scaling-md-$c" >"$raw" 2>&1 || rc=$?
    awk -v pre="mdtest,$s,$t,$c,md" -v load="$before" '
      $1 == "File" && NF >= 6 && $3 ~ /^[0-9.]+$/ {
        phase = $2 == "creation" ? "create" : $2 == "removal" ? "remove" : $2
        print pre "," phase "," $5 ",ops/s," load }' "$raw" >>"$csv"
  else
    mpirun_clients "$c" "$BIN/perf/benchfs_bench" md --registry "$registry" -n "$FILES" --json >"$raw" 2>&1 || rc=$?
    python3 - "$raw" "benchfs_bench-md,$s,$t,$c,md" "$before" >>"$csv" <<'PY'
import json, sys
path, prefix, load = sys.argv[1:]
for line in open(path):
    if line.startswith("{"):
        j = json.loads(line)
        phase = {"unlink": "remove"}.get(j["phase"], j["phase"])
        print(f"{prefix},{phase},{j['ops_per_s']},ops/s,{load}")
PY
  fi
  if [[ $rc -ne 0 ]]; then
    echo "servers $s, threads $t, clients $c, md: exit $rc (see $raw)" >&2
    failed=1
  fi
}

for s in "${server_counts[@]}"; do
  for t in "${thread_counts[@]}"; do
    dir=$work/s$s-t$t
    start_servers "$dir" "$s" "$t"
    for c in "${client_counts[@]}"; do
      for mode in fpp shared; do
        run_io "$s" "$t" "$c" "$mode" "$dir/registry" "$OUT/raw/io-s$s-t$t-c$c-$mode.txt"
      done
      run_md "$s" "$t" "$c" "$dir/registry" "$OUT/raw/md-s$s-t$t-c$c.txt"
    done
    stop_servers "$dir"
  done
done
echo "load after: $(load)"

# Table and plot data: one series per (tool, servers, threads, mode, phase).
python3 - "$csv" "$work" <<'PY'
import csv, sys
from collections import defaultdict
rows = list(csv.DictReader(open(sys.argv[1])))
work = sys.argv[2]
series = defaultdict(dict)
for r in rows:
    series[(r["tool"], r["mode"], r["phase"], int(r["servers"]), int(r["threads"]))][int(r["clients"])] = float(r["value"])
clients = sorted({int(r["clients"]) for r in rows})
print(f"\n{'tool':17} {'mode':6} {'phase':8} {'srv':>3} {'thr':>3}  " +
      " ".join(f"{'c=' + str(c):>10}" for c in clients) + "   (MiB/s for io, ops/s for md)")
for key in sorted(series):
    tool, mode, phase, s, t = key
    vals = " ".join(f"{series[key][c]:10.1f}" if c in series[key] else f"{'-':>10}" for c in clients)
    print(f"{tool:17} {mode:6} {phase:8} {s:3d} {t:3d}  {vals}")
# One data file per panel, gnuplot "index" blocks separated by two blank lines.
for panel, want in (("io", lambda k: k[1] in ("fpp", "shared")), ("md", lambda k: k[1] == "md")):
    with open(f"{work}/{panel}.dat", "w") as f:
        for key in sorted(k for k in series if want(k)):
            tool, mode, phase, s, t = key
            name = f"{phase} {mode} {s}srv x {t}thr" if panel == "io" else f"{phase} {s}srv x {t}thr"
            f.write(f'"{name}"\n')
            for c in sorted(series[key]):
                f.write(f"{c} {series[key][c]}\n")
            f.write("\n\n")
PY
echo "CSV: $csv"
if [[ -n $PLOT ]]; then
  cat >"$work/plot.gp" <<EOF
set terminal pngcairo size 1400,600 enhanced font "sans,10"
set output "$OUT/scaling.png"
set multiplot layout 1,2 title "BenchFS scaling on $(uname -n): $io_tool -t $XFER -b $BLOCK x $SEGMENTS, $md_tool $FILES files/rank"
set xlabel "client ranks"
set logscale x 2
set grid
set key outside bottom center horizontal maxrows 4 font ",8"
set title "io bandwidth (MiB/s)"
plot for [i=0:*] "$work/io.dat" index i using 1:2 with linespoints title columnheader(1)
set title "metadata rate (ops/s)"
plot for [i=0:*] "$work/md.dat" index i using 1:2 with linespoints title columnheader(1)
unset multiplot
EOF
  if gnuplot "$work/plot.gp" 2>"$work/gnuplot.err"; then
    echo "plot: $OUT/scaling.png"
  else
    echo "gnuplot failed: no plot" >&2
    cat "$work/gnuplot.err" >&2
  fi
else
  echo "plot: skipped"
fi
rm -rf "$work"
exit $failed
