# Bandwidth vs transfer size, from the summary perf/bandwidth.sh writes.
#   gnuplot -c perf/plot_bandwidth.gp SUMMARY.dat OUT.png "subtitle"
# SUMMARY.dat columns (whitespace separated, '#' comments; MiB/s = 2^20 B/s):
#   1 size_bytes
#   2-4 write fpp median min max     5-7 read fpp median min max
#   8-10 write shared median min max  11-13 read shared median min max
#   14-16 ucp_am_bw median min max
# A missing value is "nan" (gnuplot skips it).
if (ARGC < 2) {
  print "usage: gnuplot -c plot_bandwidth.gp SUMMARY.dat OUT.png [subtitle]"
  exit status 2
}
data = ARG1
subtitle = ARGC >= 3 ? ARG3 : ""

set terminal pngcairo size 1100,700 enhanced font "sans,11"
set output ARG2
set title "BenchFS io bandwidth vs ucx\\_perftest ucp\\_am\\_bw\n{/*0.8 ".subtitle."}"
set xlabel "transfer size"
set ylabel "bandwidth (MiB/s), median over rounds, bars: min-max"
set logscale x 2
set logscale y 2
set format y "%g"
set grid xtics ytics mxtics mytics lc rgb "#dddddd"
set key outside right top
set datafile missing "nan"
# Tick labels in KiB / MiB.
size_label(b) = b >= 1048576 ? sprintf("%g MiB", b / 1048576.0) : b >= 1024 ? sprintf("%g KiB", b / 1024.0) : sprintf("%g B", b)
set xtics ()
stats data using 1 nooutput
do for [i = 0:int(STATS_records) - 1] {
  stats data every ::i::i using 1 nooutput
  set xtics add (size_label(STATS_min) STATS_min)
}
set offsets graph 0.03, graph 0.03, 0, 0

plot data using 1:2:3:4 with yerrorlines lw 2 pt 7 lc rgb "#1f77b4" title "write, file per process", \
     data using 1:5:6:7 with yerrorlines lw 2 pt 5 lc rgb "#2ca02c" title "read, file per process", \
     data using 1:8:9:10 with yerrorlines lw 2 pt 7 dt 2 lc rgb "#ff7f0e" title "write, shared file", \
     data using 1:11:12:13 with yerrorlines lw 2 pt 5 dt 2 lc rgb "#9467bd" title "read, shared file", \
     data using 1:14:15:16 with yerrorlines lw 2 pt 9 lc rgb "#d62728" title "ucx\\_perftest ucp\\_am\\_bw"
