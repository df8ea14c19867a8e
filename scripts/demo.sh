#!/usr/bin/env bash
# demo.sh -- npmu's main job on an embedded default: a local unit with its manager on a pool in a
# temporary directory; write and persist a checkpoint, kill -9 the unit, restart it, read it back.
set -euo pipefail
build=${1:-build}
npmud="$build/npmud"
npmu="$build/npmu"
dir=$(mktemp -d /tmp/npmu-demo-XXXXXX)
pid=""
cleanup() { [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT

start_unit() {
  local listen=$1
  rm -f "$dir/addr"
  "$npmud" --pool "$dir/unit.pool" --size 256M --listen "$listen" --addr-file "$dir/addr" \
    2>>"$dir/npmud.log" &
  pid=$!
  for _ in $(seq 500); do [ -s "$dir/addr" ] && break; sleep 0.01; done
  [ -s "$dir/addr" ] || { echo "npmud did not start:"; cat "$dir/npmud.log"; exit 1; }
  export NPMU_SERVER=$(cat "$dir/addr")
}

echo "== 1. start a unit (npmud with its embedded manager) on a 256 MiB pool in $dir"
start_unit 127.0.0.1:0
echo "   serving on $NPMU_SERVER"

echo "== 2. create a region and checkpoint 64 MiB of state into it with one-sided RDMA writes"
head -c $((64 << 20)) /dev/urandom > "$dir/state.bin"
"$npmu" region create app.state 64M
"$npmu" put app.state "$dir/state.bin"
sum_before=$(sha256sum < "$dir/state.bin" | cut -c1-16)

echo "== 3. kill -9 the unit (no clean shutdown) and start it again on the same pool"
kill -9 "$pid"; wait "$pid" 2>/dev/null || true
start_unit "$NPMU_SERVER"
"$npmu" region ls

echo "== 4. read the checkpoint back with one-sided RDMA reads"
"$npmu" get app.state "$dir/restored.bin"
sum_after=$(sha256sum < "$dir/restored.bin" | cut -c1-16)

echo
if [ "$sum_before" = "$sum_after" ]; then
  echo "RESULT: the checkpoint survived kill -9 of its unit: sha256 $sum_before before and after."
else
  echo "RESULT: MISMATCH: $sum_before before, $sum_after after"; exit 1
fi
