#!/usr/bin/env bash
# run.sh -- `make bench`: start a raw libfabric target, an npmud, six units under a pmmd and a
# redis-server on loopback; run npmu_bench; draw the plots; stop everything it started.
# Writes bench/out/{report.txt,bench.json,*.dat,*.png} and the daemons' logs in bench/out/logs.
# Usage: bench/run.sh BUILD [--quick] [--sections memory,...] (npmu_bench --help)
set -euo pipefail
build=${1:-build-release}
shift || true
here=$(cd "$(dirname "$0")" && pwd)
out=${NPMU_BENCH_OUT:-$here/out}
mkdir -p "$out"
dir=$(mktemp -d /tmp/npmu-bench-XXXXXX)   # on the disk the file and Redis baselines measure
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -CONT "$p" 2>/dev/null || true; kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  mkdir -p "$out/logs" && cp "$dir"/*.log "$out/logs/" 2>/dev/null || true   # the daemons' logs
  rm -rf "$dir"
}
trap cleanup EXIT
wait_file() { for _ in $(seq 1000); do [ -s "$1" ] && return 0; sleep 0.01; done; echo "bench: $1 not written"; exit 1; }
[ -x "$build/bench/npmu_bench" ] || { echo "bench: $build/bench/npmu_bench missing (needs hiredis: run make bench)"; exit 1; }

"$build/bench/npmu_bench" --raw-target "$dir/raw.addr" & raw_pid=$!; pids+=($raw_pid)
"$build/npmud" --pool "$dir/bench.pool" --size 4G --listen 127.0.0.1:0 --addr-file "$dir/npmu.addr" \
  --metrics 127.0.0.1:0 --metrics-addr-file "$dir/npmu.metrics" \
  2>"$dir/npmud.log" & unit_pid=$!; pids+=($unit_pid)
# the same kind of unit on libfabric's shm provider (same host only), named after this run
"$build/npmud" --pool "$dir/shm.pool" --size 256M --provider shm --listen "npmu-bench-$$" \
  --addr-file "$dir/shm.addr" 2>"$dir/shm.log" & pids+=($!)
# six units under a manager: mirrored regions and striped sets. They sleep on their completion
# queue (--spin-us 0): with 2 cores, spinning units would measure the scheduler.
"$build/npmu" keygen "$dir/cluster.key" > /dev/null
# Unit a also holds the staged section's staging region and its single-region baseline (1 GiB
# each) and the dataset section's staged parts, and an npmu-encoder protects them.
for u in a b c d e f; do
  size=640M; [ $u = a ] && size=3G
  "$build/npmud" --pool "$dir/$u.pool" --size $size --listen 127.0.0.1:0 --addr-file "$dir/$u.addr" \
    --no-manager --cluster-key "$dir/cluster.key" --spin-us "${NPMU_BENCH_UNIT_SPIN_US:-0}" 2>"$dir/$u.log" & pids+=($!)
  wait_file "$dir/$u.addr"
done
"$build/pmmd" --cluster-key "$dir/cluster.key" $(for u in a b c d e f; do echo --unit "$(cat "$dir/$u.addr")"; done) \
  --listen 127.0.0.1:0 --addr-file "$dir/pmmd.addr" 2>"$dir/pmmd.log" & pmmd_pid=$!; pids+=($pmmd_pid)
wait_file "$dir/pmmd.addr"
# (at nice 19 so the writer it serves keeps the cores: NPMU_BENCH_ENCODER_NICE=0 to compare)
nice -n "${NPMU_BENCH_ENCODER_NICE:-19}" "$build/npmu-encoder" --server "$(cat "$dir/pmmd.addr")" --set bench.sg \
  $(for p in 0 1 2 3; do echo --set bench.ds.p$p; done) 2>"$dir/encoder.log" & pids+=($!)

# Redis with an append-only file in the same directory, on a free loopback port
redis=()
if command -v redis-server > /dev/null; then
  for _ in 1 2 3 4 5; do
    port=$((20000 + RANDOM % 40000))
    redis-server --bind 127.0.0.1 --port "$port" --dir "$dir" --appendonly yes --appendfsync always \
      --save '' --auto-aof-rewrite-percentage 0 --protected-mode yes --logfile "$dir/redis.log" & rpid=$!
    for _ in $(seq 200); do
      redis-cli -p "$port" ping > /dev/null 2>&1 && break
      kill -0 "$rpid" 2>/dev/null || break
      sleep 0.02
    done
    if redis-cli -p "$port" ping > /dev/null 2>&1; then pids+=($rpid); redis=(--redis "127.0.0.1:$port"); break; fi
    kill "$rpid" 2>/dev/null || true; wait "$rpid" 2>/dev/null || true
  done
fi
[ ${#redis[@]} -gt 0 ] || echo "bench: no redis-server could be started: the Redis baselines are left out"
wait_file "$dir/raw.addr"; wait_file "$dir/npmu.addr"; wait_file "$dir/pmmd.addr"; wait_file "$dir/shm.addr"
wait_file "$dir/npmu.metrics"

fi_ver=$(fi_info --version 2>/dev/null | awk '/libfabric:/ {print $2}')
export NPMU_BENCH_COMMIT=$(git -C "$here/.." rev-parse --short HEAD 2>/dev/null || echo unknown)
{
  echo "npmu bench: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')),"\
       "$(free -g | awk '/Mem:/ {print $2}') GiB, Linux $(uname -r), libfabric ${fi_ver:-?} tcp on loopback,"\
       "commit $NPMU_BENCH_COMMIT, $(date -u +%Y-%m-%d)"
  "$build/bench/npmu_bench" --raw "$(cat "$dir/raw.addr")" --raw-pid "$raw_pid" \
    --unit "$(cat "$dir/npmu.addr")" --unit-pid "$unit_pid" --pmmd "$(cat "$dir/pmmd.addr")" --pmmd-pid "$pmmd_pid" --stage-unit "$(cat "$dir/a.addr")" \
    --shm-unit "$(cat "$dir/shm.addr")" --unit-metrics "$(cat "$dir/npmu.metrics")" "${redis[@]}" \
    --dir "$dir" --out "$out" "$@"
} | tee "$out/report.txt"
if [[ " $* " == *" --sections "* ]]; then
  echo "bench: some sections only: no plots"
elif command -v gnuplot > /dev/null; then
  gnuplot -e "out='$out'" "$here/plots.gp" && echo "plots: $out/latency.png $out/bandwidth.png $out/scaling.png"
else
  echo "bench: gnuplot missing: no plots (make bench installs it)"
fi
echo "report: $out/report.txt, figures: $out/bench.json"
