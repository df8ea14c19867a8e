#!/usr/bin/env bash
# pmmd.sh -- a standalone manager with two units on loopback, as users run them: principals with
# their rights, placement on both units, units refusing unauthenticated programming, and the
# directory coming back after pmmd and a unit are killed and restarted.
set -euo pipefail
build=$1
npmud="$build/npmud"; pmmd="$build/pmmd"; npmu="$build/npmu"
dir=$(mktemp -d /tmp/npmu-pmmd-XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; [ -n "${KEEP:-}" ] || rm -rf "$dir"; }
trap cleanup EXIT
fails=0
expect() { # expect STATUS PATTERN CMD...
  local want=$1 pattern=$2; shift 2
  local out rc=0
  out=$("$@" 2>&1) || rc=$?
  if [ "$rc" != "$want" ] || ! grep -qE -- "$pattern" <<<"$out"; then
    echo "FAIL: $* -> status $rc (want $want), output:"; echo "$out" | head -5; fails=$((fails + 1))
  fi
}
wait_file() { for _ in $(seq 500); do [ -s "$1" ] && return 0; sleep 0.01; done; echo "FAIL: $1 never written"; exit 1; }
start_unit() { # start_unit N LISTEN
  rm -f "$dir/u$1.addr"
  "$npmud" --pool "$dir/u$1.pool" --size 32M --listen "$2" --addr-file "$dir/u$1.addr" \
    --no-manager --cluster-key "$dir/cluster.key" 2>>"$dir/u$1.log" &
  pids+=($!); eval "unit$1_pid=$!"
  wait_file "$dir/u$1.addr"
}
start_pmmd() { # start_pmmd LISTEN KEY
  rm -f "$dir/pmmd.addr"
  "$pmmd" --cluster-key "$2" --unit "$(cat "$dir/u1.addr")" --unit "$(cat "$dir/u2.addr")" \
    --credentials "$dir/pmmd.cred" --listen "$1" --addr-file "$dir/pmmd.addr" 2>>"$dir/pmmd.log" &
  pids+=($!); pmmd_pid=$!
  wait_file "$dir/pmmd.addr"
}
as() { local who=$1; shift; NPMU_CREDENTIALS="$dir/$who.cred" "$@"; }

"$npmu" keygen "$dir/cluster.key" >/dev/null
"$npmu" keygen "$dir/wrong.key" >/dev/null
for p in alice bob carol; do
  "$npmu" keygen "$dir/$p.key" >/dev/null
  printf 'principal %s\nkey-file %s\n' "$p" "$dir/$p.key" > "$dir/$p.cred"; chmod 600 "$dir/$p.cred"
done
cat > "$dir/pmmd.cred" <<CRED
principal alice file $dir/alice.key
principal bob file $dir/bob.key
principal carol file $dir/carol.key
allow alice create,write ckpt.*
allow bob read ckpt.*
CRED
chmod 600 "$dir/pmmd.cred"

start_unit 1 127.0.0.1:0
start_unit 2 127.0.0.1:0
start_pmmd 127.0.0.1:0 "$dir/cluster.key"
export NPMU_SERVER=$(cat "$dir/pmmd.addr")

head -c 300000 /dev/urandom > "$dir/state.bin"
expect 0 "ckpt.a" as alice "$npmu" region create ckpt.a 1M
expect 0 "ckpt.b" as alice "$npmu" region create ckpt.b 2M
expect 0 "persistent" as alice "$npmu" put ckpt.a "$dir/state.bin"
expect 0 '"up":true.*"regions":1.*"up":true.*"regions":1' as alice "$npmu" --json unit ls
expect 0 "ckpt.on2" as alice "$npmu" region create ckpt.on2 64K --unit "$(cat "$dir/u2.addr")"
expect 0 "\"unit\":\"$(cat "$dir/u2.addr")\",\"up\":true,[^}]*\"regions\":2" as alice "$npmu" --json unit ls
expect 1 "no such unit" as alice "$npmu" region create ckpt.nowhere 64K --unit 127.0.0.1:1
expect 0 "0 right\(s\) revoked" as alice "$npmu" region revoke ckpt.on2
expect 0 "deleted" as alice "$npmu" --json region rm ckpt.on2
expect 0 "got" as bob "$npmu" get --length 300000 ckpt.a "$dir/bob.bin"
cmp -s "$dir/state.bin" "$dir/bob.bin" || { echo "FAIL: bob read other bytes"; fails=$((fails + 1)); }
expect 1 "access denied" as bob "$npmu" put ckpt.a "$dir/state.bin"
expect 1 "access denied" as bob "$npmu" region rm ckpt.a
expect 1 "access denied" as carol "$npmu" get ckpt.a "$dir/carol.bin"
expect 1 "access denied" as carol "$npmu" region create ckpt.c 1M
expect 0 "no regions" as carol "$npmu" region ls
expect 1 "authentication" "$npmu" region ls
# a unit takes no region request from a client, and no programming without the cluster key
expect 1 "access denied" "$npmu" --server "$(cat "$dir/u1.addr")" region create x 1M
"$pmmd" --cluster-key "$dir/wrong.key" --unit "$(cat "$dir/u1.addr")" --credentials "$dir/pmmd.cred" \
  --listen 127.0.0.1:0 --addr-file "$dir/wrong.addr" 2>"$dir/wrong.log" &
wrong_pid=$!; pids+=($wrong_pid)
wait_file "$dir/wrong.addr"
grep -q "authentication failed" "$dir/wrong.log" || { echo "FAIL: wrong cluster key not refused"; fails=$((fails + 1)); }
expect 0 "DOWN" as alice env NPMU_SERVER="$(cat "$dir/wrong.addr")" "$npmu" unit ls
kill "$wrong_pid"

# pmmd keeps no state: killed and restarted, it finds every region on the units again
kill -9 "$pmmd_pid"; wait "$pmmd_pid" 2>/dev/null || true
start_pmmd "$NPMU_SERVER" "$dir/cluster.key"
expect 0 "ckpt.a.*ckpt.b|ckpt.b.*ckpt.a" as alice "$npmu" --json region ls
# a unit killed and restarted comes back with its regions, through the manager
unit1_addr=$(cat "$dir/u1.addr")
kill -9 "$unit1_pid"; wait "$unit1_pid" 2>/dev/null || true
expect 0 "DOWN" as alice "$npmu" unit ls
start_unit 1 "$unit1_addr"
expect 0 "got" as bob "$npmu" get --length 300000 ckpt.a "$dir/bob2.bin"
cmp -s "$dir/state.bin" "$dir/bob2.bin" || { echo "FAIL: data lost over a unit restart"; fails=$((fails + 1)); }
expect 0 '"up":true.*"up":true' as alice "$npmu" --json unit ls

# a checkpoint stream through pmmd: leases and fencing programmed on the stream's unit
demo="$build/npmu-demo"
as alice "$demo" create ckpt.kv
as alice "$demo" primary ckpt.kv 100000 "$dir/acks" > "$dir/primary.out" 2>&1 &
primary_pid=$!; pids+=($primary_pid)
for _ in $(seq 500); do [ -s "$dir/acks" ] && break; sleep 0.01; done
expect 0 "lease +held by alice, [0-9]+ ms left" as alice "$npmu" ckpt stat ckpt.kv
as alice "$demo" backup ckpt.kv 100000 20 "$dir/acks" "$dir/none" > "$dir/backup.out" 2>&1 &
backup_pid=$!; pids+=($backup_pid)
sleep 0.5
kill -9 "$primary_pid"
wait "$primary_pid" 2>/dev/null || true
if wait "$backup_pid" && grep -q "EQUAL" "$dir/backup.out" && grep -q " 0 committed update(s) lost" "$dir/backup.out"; then :; else
  echo "FAIL: takeover through pmmd:"; cat "$dir/backup.out"; fails=$((fails + 1)); fi
expect 0 '"mode":"append","epoch":2,"seq":100000.*"lease":"none"|"lease":"lapsed"' as alice "$npmu" --json ckpt stat ckpt.kv

if [ "$fails" -ne 0 ]; then echo "$fails check(s) failed"; exit 1; fi
echo "all manager checks passed"
