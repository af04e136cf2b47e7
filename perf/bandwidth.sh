#!/usr/bin/env bash
# BenchFS read / write bandwidth (benchfs_bench io, IOR-like) against the
# transfer size, file per process and one shared file, beside UCX's own
# ucp_am_bw (ucx_perftest) at the same sizes, measured in the same run on this
# machine.
# First pass and warm pass: every (buffer kind, mode, size) of every round
# starts fresh servers, runs one write + read pass (the first pass: what a
# single-pass IOR run or an io500 phase measures, including the servers'
# first touch of their memory), then the same pass again on the same servers
# (warm: buffers resident, connections up), then stops them. Buffer kinds:
# huge (2 MiB aligned, huge-page advised, as ucx_perftest's) and malloc
# (plain heap, as IOR's). After each round, ucx_perftest at every size (so
# that the servers' progress threads do not compete with it). The table shows
# medians over rounds, the spread ((max - min) / median, in %), the first
# pass over the warm one, and our medians over ucp_am_bw's.
# ucp_am_bw counts a message sent when the sender is done with it, so on a
# busy machine it swings widely between rounds: see its spread.
# All bandwidths are MiB/s (2^20 B/s; ucx_perftest's "MB/s" is 2^20 B/s too).
#   perf/bandwidth.sh [--sizes 4k,16k,64k,256k,1m,4m] [--servers 1] [--threads 1] [--clients 1]
#                     [--block 16m] [--segments 4] [--rounds 5] [--poll adaptive] [--verify]
#                     [--buffers huge,malloc] [--malloc-buffer] [--server-args "ARGS"]
#                     [--out DIR] [--no-plot]
# --buffers: which client buffer kinds to measure (--malloc-buffer: malloc
# only). --server-args: extra benchfsd_mt options (e.g. "--reserve 0" to see
# the first pass without the servers' reserve of resident buffers).
# --block: bytes per client rank per segment (a multiple of every size);
# each rank moves block x segments bytes per phase. --out (default
# /tmp/benchfs-bandwidth-<date>) receives bandwidth.csv (every measurement,
# with the load average before it), summary-<buffer>.dat (first-pass
# figures) and bandwidth-<buffer>.png.
source "$(dirname "$0")/common.sh"
SIZES=4k,16k,64k,256k,1m,4m
SERVERS=1
THREADS=1
CLIENTS=1
BLOCK=16m
SEGMENTS=4
ROUNDS=5
POLL=adaptive
VERIFY=
OUT=
PLOT=1
BUFFERS=huge,malloc
SERVER_ARGS=
parse_options --sizes=SIZES --servers=SERVERS --threads=THREADS --clients=CLIENTS --block=BLOCK \
  --segments=SEGMENTS --rounds=ROUNDS --poll=POLL --verify=VERIFY:--verify --out=OUT --no-plot=PLOT: \
  --buffers=BUFFERS --malloc-buffer=BUFFERS:malloc --server-args=SERVER_ARGS -- "$@"

die_usage() { echo "bandwidth.sh: $*" >&2; exit 2; }
for v in SERVERS THREADS CLIENTS SEGMENTS ROUNDS; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die_usage "--${v,,} must be a positive integer (got '${!v}')"
done
[[ $POLL =~ ^(busy|adaptive|blocking)$ ]] || die_usage "--poll must be busy, adaptive or blocking"
IFS=, read -ra buffers <<<"$BUFFERS"
[[ ${#buffers[@]} -gt 0 ]] || die_usage "--buffers is empty"
for b in "${buffers[@]}"; do [[ $b =~ ^(huge|malloc)$ ]] || die_usage "--buffers takes huge and/or malloc (got '$b')"; done
read -ra server_args <<<"$SERVER_ARGS"
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
echo "round,source,buffer,pass,mode,size,phase,mib_per_s,ops_per_s,errors,seconds,load" >"$csv"
trap '[[ -n "${SERVER_JOB:-}" ]] && kill -TERM $SERVER_JOB 2>/dev/null; true' EXIT

per_rank=$((block_bytes * SEGMENTS))
echo "BenchFS io bandwidth vs ucx_perftest ucp_am_bw, MiB/s (2^20 B/s); $SERVERS server(s) x $THREADS" \
  "thread(s), $CLIENTS client rank(s), $(numfmt --to=iec-i --suffix=B "$per_rank") per rank per phase," \
  "poll $POLL, buffers ${BUFFERS}, $ROUNDS round(s), fresh servers for every case${VERIFY:+, verified}" \
  "${SERVER_ARGS:+, servers: $SERVER_ARGS}"
echo "load before: $(load)"
port=$((20000 + RANDOM % 20000))
failed=0
for round in $(seq "$ROUNDS"); do
  for buf in "${buffers[@]}"; do
    for mode in fpp shared; do
      for s in "${sizes[@]}"; do
        b=${size_bytes[$s]}
        dir=$work/round-$round/$buf-$mode-$b
        start_servers "$dir" "$SERVERS" "$THREADS" --poll "$POLL" "${server_args[@]}"
        for pass in first warm; do
          before=$(load | cut -d' ' -f1)
          json=$dir/io-$pass.json
          io_args=(-t "$b" -b "$block_bytes" -s "$SEGMENTS" --write --read --poll "$POLL" --dir /bandwidth --json)
          [[ $mode == fpp ]] && io_args+=(-F)
          [[ -n $VERIFY ]] && io_args+=(--verify)
          [[ $buf == malloc ]] && io_args+=(--malloc-buffer)
          rc=0
          mpirun -np "$CLIENTS" --bind-to none --oversubscribe "$BIN/perf/benchfs_bench" io \
            --registry "$dir/registry" "${io_args[@]}" >"$json" 2>"$json.err" || rc=$?
          if [[ $rc -ne 0 ]]; then
            echo "round $round, $buf, $mode, size $s, $pass pass: benchfs_bench io failed (exit $rc):" >&2
            grep -v '^{' "$json" "$json.err" | head -20 >&2 || true
            failed=1
          fi
          python3 - "$json" "$round" "$buf" "$pass" "$mode" "$b" "$before" >>"$csv" <<'PY'
import json, sys
path, rnd, buf, pss, mode, size, load = sys.argv[1:]
for line in open(path):
    if line.startswith("{"):
        j = json.loads(line)
        print(f"{rnd},benchfs,{buf},{pss},{mode},{size},{j['phase']},{j['mib_per_s']},{j['ops_per_s']},"
              f"{j['errors']},{j['seconds']},{load}")
PY
        done
        stop_servers "$dir"
      done
    done
  done
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
    echo "$round,ucp_am_bw,-,-,-,$b,-,$bw,,0,,$before" >>"$csv"
  done
done
echo "load after: $(load)"

python3 - "$csv" "$OUT" "$BUFFERS" <<'PY'
import csv, math, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
out, buffers = sys.argv[2], sys.argv[3].split(",")
def values(source, buf, pss, mode, size, phase):
    v = [float(r["mib_per_s"]) for r in rows if r["source"] == source and r["buffer"] == buf
         and r["pass"] == pss and r["mode"] == mode and r["size"] == size and r["phase"] == phase]
    return [x for x in v if not math.isnan(x)]
def stat(v):
    return (statistics.median(v), min(v), max(v)) if v else (math.nan, math.nan, math.nan)
def spread(s):
    return (s[2] - s[1]) / s[0] * 100 if s[0] and not math.isnan(s[0]) else math.nan
def ratio(a, b):
    return a / b if b and not math.isnan(b) else math.nan
def label(b):
    b = int(b)
    return f"{b >> 20}m" if b >= 1 << 20 and b % (1 << 20) == 0 else f"{b >> 10}k" if b % 1024 == 0 else str(b)
sizes = sorted({r["size"] for r in rows}, key=int)
errors = sum(int(r["errors"] or 0) for r in rows)
def cell(s):
    return f"{s[0]:7.0f} {spread(s):4.0f}%"
print("\nMiB/s: median over rounds and spread ((max-min)/median); first = fresh servers, warm = second pass")
print(f"{'size':>5} {'buffer':6} {'mode':6} | {'write 1st':>12} {'write warm':>12} {'1st/warm':>8} |"
      f" {'read 1st':>12} {'read warm':>12} | {'ucp_am_bw':>12} {'w1st/ucp':>8} {'r1st/ucp':>8}")
for buf in buffers:
    dat = ["# size wfpp_med wfpp_min wfpp_max rfpp_med rfpp_min rfpp_max wsh_med wsh_min wsh_max"
           " rsh_med rsh_min rsh_max ucp_med ucp_min ucp_max  (MiB/s, first pass, " + buf + " buffers)"]
    for size in sizes:
        ucp = stat(values("ucp_am_bw", "-", "-", "-", size, "-"))
        cols = [size]
        for mode in ("fpp", "shared"):
            w1 = stat(values("benchfs", buf, "first", mode, size, "write"))
            ww = stat(values("benchfs", buf, "warm", mode, size, "write"))
            r1 = stat(values("benchfs", buf, "first", mode, size, "read"))
            rw = stat(values("benchfs", buf, "warm", mode, size, "read"))
            cols += [*w1, *r1]
            print(f"{label(size):>5} {buf:6} {mode:6} | {cell(w1)} {cell(ww)} {ratio(w1[0], ww[0]):8.2f} |"
                  f" {cell(r1)} {cell(rw)} | {cell(ucp)} {ratio(w1[0], ucp[0]):8.2f} {ratio(r1[0], ucp[0]):8.2f}")
        cols += list(ucp)
        dat.append(" ".join(str(c) if isinstance(c, str) else ("nan" if math.isnan(c) else f"{c:.3f}")
                            for c in cols))
    open(f"{out}/summary-{buf}.dat", "w").write("\n".join(dat) + "\n")
if errors:
    print(f"\nWARNING: {errors} errors reported by benchfs_bench io (see the errors column of the CSV)")
PY
echo "CSV: $csv"
if [[ -n $PLOT ]]; then
  for buf in "${buffers[@]}"; do
    subtitle="first pass, $buf buffers, $SERVERS server(s) x $THREADS thread(s), $CLIENTS client rank(s), $ROUNDS round(s), $(uname -n)"
    if gnuplot -c "$PERF_ROOT/perf/plot_bandwidth.gp" "$OUT/summary-$buf.dat" "$OUT/bandwidth-$buf.png" "$subtitle" \
      2>"$work/gnuplot.err"; then
      echo "plot: $OUT/bandwidth-$buf.png"
    else
      echo "gnuplot failed: no plot" >&2
      cat "$work/gnuplot.err" >&2
    fi
  done
else
  echo "plot: skipped"
fi
exit $failed
