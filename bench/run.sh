#!/usr/bin/env bash
# run.sh -- start a raw libfabric target and an npmud on loopback, run the benchmark, stop both.
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
wait_file "$dir/raw.addr"
wait_file "$dir/npmu.addr"
echo "npmu bench on $(nproc) cores, $(uname -r), libfabric $(fi_info --version | awk '/libfabric:/ {print $2}')"
NPMU_BENCH_DIR="$dir" "$build/bench/npmu_bench" "$(cat "$dir/raw.addr")" "$raw_pid" "$(cat "$dir/npmu.addr")"
