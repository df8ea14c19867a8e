# plots.gp -- the benchmark's plots from the data npmu_bench wrote: gnuplot -e "out='DIR'" plots.gp
set terminal pngcairo size 1000,560 font ",10" noenhanced
set grid
set key top left
set logscale x 2
set format x "%.0b%B"

set output out."/latency.png"
set key bottom right
set multiplot layout 1,2 title "latency by size, one operation at a time (tcp provider, loopback)"
set xlabel "bytes"; set ylabel "microseconds (log scale)"
set logscale y
set title "write"
plot out."/latency_write.dat" u 1:2 w lp lc 1 dt 1 t "raw fi_write p50", \
     "" u 1:4 w lp lc 1 dt 2 t "raw fi_write p99", \
     "" u 1:5 w lp lc 2 dt 1 t "npmu write p50", \
     "" u 1:7 w lp lc 2 dt 2 t "npmu write p99", \
     "" u 1:8 w lp lc 3 dt 1 t "npmu write+persist p50", \
     "" u 1:10 w lp lc 3 dt 2 t "npmu write+persist p99"
set title "read"
plot out."/latency_read.dat" u 1:2 w lp lc 1 dt 1 t "raw fi_read p50", \
     "" u 1:4 w lp lc 1 dt 2 t "raw fi_read p99", \
     "" u 1:5 w lp lc 2 dt 1 t "npmu read p50", \
     "" u 1:7 w lp lc 2 dt 2 t "npmu read p99"
unset multiplot

unset logscale y
set output out."/bandwidth.png"
set key top left
set title "bandwidth by transfer size, one transfer at a time (tcp provider, loopback)"
set ylabel "MiB/s"; set xlabel "bytes per transfer"
plot out."/bandwidth.dat" u 1:2 w lp lc 1 dt 1 t "raw fi_write", \
     "" u 1:3 w lp lc 2 dt 1 t "npmu write", \
     "" u 1:4 w lp lc 1 dt 2 t "raw fi_read", \
     "" u 1:5 w lp lc 2 dt 2 t "npmu read"

set output out."/scaling.png"
set title "clients writing 64 KiB blocks to one unit at once"
set format x "%g"
set xlabel "clients"; set ylabel "aggregate MiB/s"; set y2label "p99 write latency, microseconds (log scale)"
set yrange [0:*]; set key bottom left
set ytics nomirror; set y2tics; set logscale y2
plot out."/scaling.dat" u 1:2 w lp lc 2 t "aggregate bandwidth" axes x1y1, \
     "" u 1:4 w lp lc 7 dt 2 t "p99 latency" axes x1y2
