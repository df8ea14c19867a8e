#!/usr/bin/env bash
# fuzz.sh -- build the fuzz targets with clang (libFuzzer, ASan, UBSan) and run each for a time:
#   scripts/fuzz.sh BUILD_DIR SECONDS [TARGET...]
# Each starts from its seed corpus (tests/fuzz/corpus/TARGET) and grows a working corpus in
# BUILD_DIR/corpus/TARGET. A crashing input lands in BUILD_DIR/findings/TARGET/: copy it into
# tests/fuzz/corpus/TARGET/ once fixed, so every test run replays it. FUZZ_JOBS runs that many
# targets at once (default 1). Prints per target: executions, corpus size, findings.
set -euo pipefail
build=${1:?usage: fuzz.sh BUILD_DIR SECONDS [TARGET...]}
secs=${2:?usage: fuzz.sh BUILD_DIR SECONDS [TARGET...]}
shift 2
src=$(cd "$(dirname "$0")/.." && pwd)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(wire handshake ckpt manifest pool credentials replies)
CC=clang cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNPMU_FUZZ=ON >/dev/null
cmake --build "$build" -j "$(nproc)" --target $(printf 'fuzz_%s ' "${targets[@]}") >/dev/null
run() { # run TARGET: one libFuzzer session, its log in BUILD/fuzz-TARGET.log
  local t=$1
  mkdir -p "$build/corpus/$t" "$build/findings/$t"
  "$build/tests/fuzz_$t" -max_total_time="$secs" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$build/findings/$t/" "$build/corpus/$t" "$src/tests/fuzz/corpus/$t" \
    > "$build/fuzz-$t.log" 2>&1 || true
}
jobs=${FUZZ_JOBS:-1}
for t in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do sleep 1; done
  echo "fuzz: $t for ${secs}s"
  run "$t" &
done
wait
bad=0
printf '%-12s %14s %8s %9s\n' target executions corpus findings
for t in "${targets[@]}"; do
  execs=$(awk '/stat::number_of_executed_units/ {print $2}' "$build/fuzz-$t.log")
  found=$(find "$build/findings/$t" -type f | wc -l)
  printf '%-12s %14s %8s %9s\n' "$t" "${execs:-?}" "$(find "$build/corpus/$t" -type f | wc -l)" "$found"
  if [ "$found" -ne 0 ] || [ -z "$execs" ]; then bad=1; tail -30 "$build/fuzz-$t.log"; fi
done
exit $bad
