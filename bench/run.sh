#!/usr/bin/env bash
# run.sh -- start a raw libfabric target, an npmud, and six units under a pmmd on loopback, run
# the benchmark, stop them all.
set -euo pipefail
build=${1:-build-release}
dir=$(mktemp -d /tmp/npmu-bench-XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -CONT "$p" 2>/dev/null; kill -TERM "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$dir"
}
trap cleanup EXIT
wait_file() { for _ in $(seq 500); do [ -s "$1" ] && return 0; sleep 0.01; done; echo "bench: $1 not written"; exit 1; }

"$build/bench/npmu_bench" --raw-target "$dir/raw.addr" & raw_pid=$!; pids+=($raw_pid)
"$build/npmud" --pool "$dir/bench.pool" --size 4G --listen 127.0.0.1:0 --addr-file "$dir/npmu.addr" 2>"$dir/npmud.log" & pids+=($!)
# two units and a manager for the mirrored-region figures
"$build/npmu" keygen "$dir/cluster.key" > /dev/null
for u in a b c d e f; do
  "$build/npmud" --pool "$dir/$u.pool" --size 640M --listen 127.0.0.1:0 --addr-file "$dir/$u.addr" \
    --no-manager --cluster-key "$dir/cluster.key" --spin-us "${NPMU_BENCH_UNIT_SPIN_US:-0}" 2>"$dir/$u.log" & pids+=($!)
  wait_file "$dir/$u.addr"
done
"$build/pmmd" --cluster-key "$dir/cluster.key" $(for u in a b c d e f; do echo --unit "$(cat "$dir/$u.addr")"; done) \
  --listen 127.0.0.1:0 --addr-file "$dir/pmmd.addr" 2>"$dir/pmmd.log" & pids+=($!)
wait_file "$dir/raw.addr"
wait_file "$dir/npmu.addr"
wait_file "$dir/pmmd.addr"
echo "npmu bench on $(nproc) cores, $(uname -r), libfabric $(fi_info --version | awk '/libfabric:/ {print $2}')"
NPMU_BENCH_DIR="$dir" "$build/bench/npmu_bench" "$(cat "$dir/raw.addr")" "$raw_pid" "$(cat "$dir/npmu.addr")" "$(cat "$dir/pmmd.addr")"
