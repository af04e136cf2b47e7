#!/usr/bin/env bash
# BenchFS read / write bandwidth (benchfs_bench io, IOR-like) against the
# transfer size, file per process and one shared file, beside UCX's own
# ucp_am_bw (ucx_perftest) at the same sizes, measured in the same run on this
# machine. Every round starts fresh servers, runs both modes at every size,
# stops them, then runs ucx_perftest at every size (so that the servers'
# progress threads do not compete with it); the table shows the median over
# rounds (min-max) and the ratios of our medians to ucp_am_bw's. An untimed
# io run after each server start writes (and removes) as much as one phase
# does, so connections are up and the servers' buffer pools hold resident
# memory for the timed phases, as ucp_am_bw's reused buffers are (a fresh
# page costs ~400 us per MiB to fault in on this machine: --no-warmup shows
# first-write figures).
# ucp_am_bw counts a message sent when the sender is done with it, so on a
# busy machine it swings widely between rounds: see its min-max.
# All bandwidths are MiB/s (2^20 B/s; ucx_perftest's "MB/s" is 2^20 B/s too).
#   perf/bandwidth.sh [--sizes 4k,16k,64k,256k,1m,4m] [--servers 1] [--threads 1] [--clients 1]
#                     [--block 16m] [--segments 4] [--rounds 3] [--poll adaptive] [--verify]
#                     [--no-warmup] [--malloc-buffer] [--out DIR] [--no-plot]
# --malloc-buffer: clients transfer from plain heap buffers as IOR does
# (default: huge-page backed, as ucx_perftest's; pinning small pages for a
# cross-process copy costs about half the bandwidth at 1 MiB).
# --block: bytes per client rank per segment (a multiple of every size);
# each rank moves block x segments bytes per phase. --out (default
# /tmp/benchfs-bandwidth-<date>) receives bandwidth.csv (every measurement,
# with the load average before it), summary.dat and bandwidth.png.
source "$(dirname "$0")/common.sh"
SIZES=4k,16k,64k,256k,1m,4m
SERVERS=1
THREADS=1
CLIENTS=1
BLOCK=16m
SEGMENTS=4
ROUNDS=3
POLL=adaptive
VERIFY=
OUT=
PLOT=1
WARMUP=1
BUFFER=
usage() { sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case $1 in
    --sizes) SIZES=$2; shift 2 ;;
    --servers) SERVERS=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --clients) CLIENTS=$2; shift 2 ;;
    --block) BLOCK=$2; shift 2 ;;
    --segments) SEGMENTS=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --poll) POLL=$2; shift 2 ;;
    --verify) VERIFY=--verify; shift ;;
    --out) OUT=$2; shift 2 ;;
    --no-plot) PLOT=; shift ;;
    --no-warmup) WARMUP=; shift ;;
    --malloc-buffer) BUFFER=--malloc-buffer; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

die_usage() { echo "bandwidth.sh: $*" >&2; exit 2; }
for v in SERVERS THREADS CLIENTS SEGMENTS ROUNDS; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die_usage "--${v,,} must be a positive integer (got '${!v}')"
done
[[ $POLL =~ ^(busy|adaptive|blocking)$ ]] || die_usage "--poll must be busy, adaptive or blocking"
block_bytes=$(to_bytes "$BLOCK" 2>/dev/null) || die_usage "bad --block '$BLOCK'"
IFS=, read -ra sizes <<<"$SIZES"
[[ ${#sizes[@]} -gt 0 ]] || die_usage "--sizes is empty"
declare -A size_bytes
for s in "${sizes[@]}"; do
  b=$(to_bytes "$s" 2>/dev/null) || die_usage "bad size '$s' in --sizes"
  [[ $b -gt 0 && $b -le $((4 << 20)) ]] || die_usage "size '$s' out of range (1 .. 4m: ucp_am_bw's sizes too)"
  ((block_bytes % b == 0)) || die_usage "--block $BLOCK is not a multiple of size $s"
  size_bytes[$s]=$b
done

perf_build
if [[ -n $PLOT ]] && ! command -v gnuplot >/dev/null; then
  echo "gnuplot missing: installing it with scripts/deps.sh"
  bash "$PERF_ROOT/scripts/deps.sh" || true
  command -v gnuplot >/dev/null || { echo "gnuplot still missing: no plot (apt-get install gnuplot-nox)" >&2; PLOT=; }
fi
OUT=${OUT:-/tmp/benchfs-bandwidth-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
work=$(mktemp -d /tmp/benchfs-bandwidth.XXXXXX)
csv=$OUT/bandwidth.csv
echo "round,source,mode,size,phase,mib_per_s,ops_per_s,errors,seconds,load" >"$csv"
trap '[[ -n "${SERVER_JOB:-}" ]] && kill -TERM $SERVER_JOB 2>/dev/null; true' EXIT

per_rank=$((block_bytes * SEGMENTS))
warm_xfer=$((block_bytes % (1 << 20) == 0 ? 1 << 20 : block_bytes))
echo "BenchFS io bandwidth vs ucx_perftest ucp_am_bw, MiB/s (2^20 B/s); $SERVERS server(s) x $THREADS" \
  "thread(s), $CLIENTS client rank(s), $(numfmt --to=iec-i --suffix=B "$per_rank") per rank per phase," \
  "poll $POLL, $ROUNDS round(s)${VERIFY:+, verified}"
echo "load before: $(load)"
port=$((20000 + RANDOM % 20000))
failed=0
for round in $(seq "$ROUNDS"); do
  dir=$work/round-$round
  start_servers "$dir" "$SERVERS" "$THREADS" --poll "$POLL"
  if [[ -n $WARMUP ]]; then
    mpirun -np "$CLIENTS" --bind-to none --oversubscribe "$BIN/perf/benchfs_bench" io --registry "$dir/registry" \
      -t "$warm_xfer" -b "$block_bytes" -s "$SEGMENTS" -F --write --poll "$POLL" --dir /bandwidth.warmup --json \
      >"$dir/warmup.json" 2>&1 ||
      { echo "round $round: warm-up io run failed:" >&2; tail -20 "$dir/warmup.json" >&2; failed=1; }
  fi
  for mode in fpp shared; do
    for s in "${sizes[@]}"; do
      b=${size_bytes[$s]}
      before=$(load | cut -d' ' -f1)
      json=$dir/io-$mode-$b.json
      io_args=(-t "$b" -b "$block_bytes" -s "$SEGMENTS" --write --read --poll "$POLL" --dir /bandwidth --json)
      [[ $mode == fpp ]] && io_args+=(-F)
      [[ -n $VERIFY ]] && io_args+=(--verify)
      [[ -n $BUFFER ]] && io_args+=("$BUFFER")
      rc=0
      mpirun -np "$CLIENTS" --bind-to none --oversubscribe "$BIN/perf/benchfs_bench" io \
        --registry "$dir/registry" "${io_args[@]}" >"$json" 2>"$json.err" || rc=$?
      if [[ $rc -ne 0 ]]; then
        echo "round $round, $mode, size $s: benchfs_bench io failed (exit $rc):" >&2
        grep -v '^{' "$json" "$json.err" | head -20 >&2 || true
        failed=1
      fi
      python3 - "$json" "$round" "$mode" "$b" "$before" >>"$csv" <<'PY'
import json, sys
path, rnd, mode, size, load = sys.argv[1:]
for line in open(path):
    if line.startswith("{"):
        j = json.loads(line)
        print(f"{rnd},benchfs,{mode},{size},{j['phase']},{j['mib_per_s']},{j['ops_per_s']},{j['errors']},"
              f"{j['seconds']},{load}")
PY
    done
  done
  stop_servers "$dir"
  for s in "${sizes[@]}"; do
    b=${size_bytes[$s]}
    # About the bytes one client rank moves per phase, at least 2000 messages.
    iters=$((per_rank / b))
    ((iters >= 2000)) || iters=2000
    ((iters <= 200000)) || iters=200000
    before=$(load | cut -d' ' -f1)
    port=$((port + 1))
    bw=$(perftest ucp_am_bw "$b" "$iters" "$port" 7)
    [[ -n $bw ]] || { echo "round $round, size $s: ucx_perftest ucp_am_bw gave no result" >&2; bw=nan; }
    echo "$round,ucp_am_bw,-,$b,-,$bw,,0,,$before" >>"$csv"
  done
done
echo "load after: $(load)"

python3 - "$csv" "$OUT/summary.dat" <<'PY'
import csv, math, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
def values(source, mode, size, phase):
    v = [float(r["mib_per_s"]) for r in rows if r["source"] == source and r["mode"] == mode
         and r["size"] == size and r["phase"] == phase]
    return [x for x in v if not math.isnan(x)]
def stat(v):
    return (statistics.median(v), min(v), max(v)) if v else (math.nan, math.nan, math.nan)
def ratio(a, b):
    return a / b if b and not math.isnan(b) else math.nan
def label(b):
    b = int(b)
    return f"{b >> 20}m" if b >= 1 << 20 and b % (1 << 20) == 0 else f"{b >> 10}k" if b % 1024 == 0 else str(b)
sizes = sorted({r["size"] for r in rows}, key=int)
errors = sum(int(r["errors"] or 0) for r in rows)
print(f"\n{'size':>6} {'mode':7} {'write MiB/s (min-max)':>26} {'read MiB/s (min-max)':>26}"
      f" {'ucp_am_bw (min-max)':>27} {'write/ucp':>10} {'read/ucp':>9}")
dat = ["# size wfpp_med wfpp_min wfpp_max rfpp_med rfpp_min rfpp_max wsh_med wsh_min wsh_max"
       " rsh_med rsh_min rsh_max ucp_med ucp_min ucp_max  (MiB/s)"]
for size in sizes:
    ucp = stat(values("ucp_am_bw", "-", size, "-"))
    cols = [size]
    for mode in ("fpp", "shared"):
        w = stat(values("benchfs", mode, size, "write"))
        r = stat(values("benchfs", mode, size, "read"))
        cols += [*w, *r]
        fmt = lambda s: f"{s[0]:9.1f} ({s[1]:7.1f}-{s[2]:7.1f})"
        print(f"{label(size):>6} {mode:7} {fmt(w):>26} {fmt(r):>26} {fmt(ucp):>27}"
              f" {ratio(w[0], ucp[0]):10.2f} {ratio(r[0], ucp[0]):9.2f}")
    cols += list(ucp)
    dat.append(" ".join(str(c) if isinstance(c, str) else ("nan" if math.isnan(c) else f"{c:.3f}") for c in cols))
open(sys.argv[2], "w").write("\n".join(dat) + "\n")
if errors:
    print(f"\nWARNING: {errors} errors reported by benchfs_bench io (see the errors column of the CSV)")
PY
echo "CSV: $csv"
if [[ -n $PLOT ]]; then
  subtitle="$SERVERS server(s) x $THREADS thread(s), $CLIENTS client rank(s), $ROUNDS round(s), $(uname -n)"
  if gnuplot -c "$PERF_ROOT/perf/plot_bandwidth.gp" "$OUT/summary.dat" "$OUT/bandwidth.png" "$subtitle" \
    2>"$work/gnuplot.err"; then
    echo "plot: $OUT/bandwidth.png"
  else
    echo "gnuplot failed: no plot" >&2
    cat "$work/gnuplot.err" >&2
  fi
else
  echo "plot: skipped"
fi
exit $failed
