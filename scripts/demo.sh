#!/usr/bin/env bash
# demo.sh -- npmu's main job on an embedded default: a unit with its manager on a pool in a
# temporary directory; a primary key-value store checkpoints every update into a stream; a backup
# follows it; the primary is killed with SIGKILL mid-run; the backup takes over and finishes;
# the result is compared with a run without failure.
set -euo pipefail
build=${1:-build}
npmud="$build/npmud"; npmu="$build/npmu"; demo="$build/npmu-demo"
steps=${NPMU_DEMO_STEPS:-400000}
dir=$(mktemp -d /tmp/npmu-demo-XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT

echo "== a unit (npmud with its embedded manager) on a 256 MiB pool in $dir"
"$npmud" --pool "$dir/unit.pool" --size 256M --listen 127.0.0.1:0 --addr-file "$dir/addr" \
  2>"$dir/npmud.log" &
pids+=($!)
for _ in $(seq 500); do [ -s "$dir/addr" ] && break; sleep 0.01; done
[ -s "$dir/addr" ] || { echo "npmud did not start:"; cat "$dir/npmud.log"; exit 1; }
export NPMU_SERVER=$(cat "$dir/addr")
echo "   serving on $NPMU_SERVER"

echo "== a checkpoint stream (append mode, 1 MiB state) for a key-value store of 65536 keys"
"$demo" create kv.stream
echo "== a backup following the stream every 50 ms, and a primary doing $steps updates,"
echo "   each one committed to the stream with a one-sided RDMA write"
"$demo" primary kv.stream "$steps" "$dir/acks" > "$dir/primary.out" 2>&1 &
primary_pid=$!; pids+=($primary_pid)
for _ in $(seq 500); do [ -s "$dir/acks" ] && break; sleep 0.01; done
"$demo" backup kv.stream "$steps" 50 "$dir/acks" "$dir/killed" > "$dir/backup.out" 2>&1 &
backup_pid=$!; pids+=($backup_pid)
sleep 1.2
echo "== kill -9 the primary (pid $primary_pid) mid-run"
date +%s.%N > "$dir/killed"
kill -9 "$primary_pid"
wait "$primary_pid" 2>/dev/null || true
sed 's/^/   /' "$dir/primary.out"
wait "$backup_pid" && ok=1 || ok=0
sed 's/^/   /' "$dir/backup.out"
echo
if [ "$ok" = 1 ]; then
  echo "RESULT: the backup took over and finished; its result equals a run without failure,"
  echo "        and no committed update was lost."
else
  echo "RESULT: FAILED (see above)"; exit 1
fi
