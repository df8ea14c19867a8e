#!/usr/bin/env bash
# demo-train.sh -- a PyTorch training run that survives SIGKILL: two units under a pmmd in a
# temporary directory; a primary trains a small model and checkpoints model, optimizer and RNG
# every step into a mirrored stream (npmu.torch.Checkpointer); it is killed with SIGKILL
# mid-run; a backup process, waiting meanwhile, resumes from the last committed step and
# finishes; its final weights are compared with an uninterrupted run's (examples/train.py).
set -euo pipefail
build=${1:-build}
npmud="$build/npmud"; pmmd="$build/pmmd"; npmu="$build/npmu"
python=/usr/bin/python3
steps=${NPMU_DEMO_TRAIN_STEPS:-600}
here=$(cd "$(dirname "$0")/.." && pwd)
export PYTHONPATH="$build/python${PYTHONPATH:+:$PYTHONPATH}"
[ -e "$build/python/npmu/__init__.py" ] || { echo "demo-train: $build/python/npmu missing (python3-dev?)"; exit 1; }
dir=$(mktemp -d /tmp/npmu-demo-train-XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
wait_file() { for _ in $(seq 1000); do [ -s "$1" ] && return 0; sleep 0.01; done; echo "demo-train: $1 not written"; exit 1; }

echo "== two units (npmud --no-manager) under a pmmd, on 128 MiB pools in $dir"
"$npmu" keygen "$dir/cluster.key" >/dev/null
units=()
for u in 1 2; do
  "$npmud" --pool "$dir/u$u.pool" --size 128M --listen 127.0.0.1:0 --addr-file "$dir/u$u.addr" \
    --no-manager --cluster-key "$dir/cluster.key" 2>"$dir/u$u.log" &
  pids+=($!)
  wait_file "$dir/u$u.addr"
  units+=(--unit "$(cat "$dir/u$u.addr")")
done
"$pmmd" --cluster-key "$dir/cluster.key" "${units[@]}" --listen 127.0.0.1:0 --addr-file "$dir/pmmd.addr" \
  2>"$dir/pmmd.log" &
pids+=($!)
wait_file "$dir/pmmd.addr"
server=$(cat "$dir/pmmd.addr")
echo "   pmmd on $server"

echo "== a primary trains an MLP on synthetic data ($steps steps, fixed seeds, CPU) and checkpoints"
echo "   model, optimizer and RNG every step into the mirrored stream train.ckpt"
"$python" "$here/examples/train.py" "$server" train.ckpt "$steps" "$dir/acks" "$dir/status" \
  > "$dir/primary.out" 2>&1 &
primary_pid=$!; pids+=($primary_pid)
wait_file "$dir/acks"
echo "== a backup process waits to take over (npmu.torch.Checkpointer.resume)"
"$python" "$here/examples/train.py" "$server" train.ckpt "$steps" "$dir/acks" "$dir/status" \
  "$dir/killed" > "$dir/backup.out" 2>&1 &
backup_pid=$!; pids+=($backup_pid)
for _ in $(seq 3000); do [ "$(wc -l < "$dir/acks")" -ge $((steps / 3)) ] && break; sleep 0.01; done
echo "== kill -9 the primary (pid $primary_pid) mid-run"
date +%s.%N > "$dir/killed"
kill -9 "$primary_pid"
wait "$primary_pid" 2>/dev/null || true
sed 's/^/   /' "$dir/status" "$dir/primary.out"
wait "$backup_pid" && ok=1 || ok=0
sed 's/^/   /' "$dir/backup.out"
echo
if [ "$ok" = 1 ]; then
  echo "RESULT: the backup resumed from the last committed step and finished; its final weights"
  echo "        equal an uninterrupted run's bit for bit, and no committed step was lost."
else
  echo "RESULT: FAILED (see above)"; exit 1
fi
