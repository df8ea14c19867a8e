#!/usr/bin/env bash
# hosts.sh -- npmu across hosts: two units, pmmd, a primary and a backup, each in its own network
# namespace on a bridge (addresses in 198.18.0.0/15 only). The primary is cut off the network
# (its link set down) mid-run: its lease lapses, the backup takes over on another host and
# finishes, and when the link comes back the old primary's writes are refused (fenced). Before
# that, a host floods pmmd with handshakes it never finishes: clients on other hosts are
# served all along, and the flooding host is slowed down.
# Needs root and iproute2; exits 77 (skipped) without them.
set -euo pipefail
build=$(cd "$1" && pwd)
source "$(dirname "$0")/netns.sh"
netns_usable || { echo "skipped: needs root and ip netns"; exit 77; }
dir=$(mktemp -d /tmp/npmu-hosts-XXXXXX)
hosts=(u1 u2 pm pri bak fl)
pids=()
trap netns_teardown EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

netns_up np 198.18.2 "${hosts[@]}"
# wait_exit PID SECONDS -- bounded wait for a background process to end
wait_exit() { for _ in $(seq $(($2 * 20))); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.05; done; return 1; }
wait_file() { for _ in $(seq 1000); do [ -s "$1" ] && return 0; sleep 0.01; done; echo "FAIL: $1 never written"; exit 1; }

npmu="$build/npmu"; demo="$build/npmu-demo"
"$npmu" keygen "$dir/cluster.key" >/dev/null
"$npmu" keygen "$dir/app.key" >/dev/null
printf 'principal app\nkey-file %s\n' "$dir/app.key" > "$dir/app.cred"; chmod 600 "$dir/app.cred"
printf 'principal app file %s\nallow app create,write ckpt.*\n' "$dir/app.key" > "$dir/pmmd.cred"
chmod 600 "$dir/pmmd.cred"

for h in u1 u2; do
  ip=ip_$h
  exec_on_bg "$h" "$build/npmud" --pool "$dir/$h.pool" --size 64M --listen "${!ip}:7411" \
    --addr-file "$dir/$h.addr" --no-manager --cluster-key "$dir/cluster.key" 2>"$dir/$h.log" &
  pids+=($!)
  wait_file "$dir/$h.addr"
done
exec_on_bg pm "$build/pmmd" --cluster-key "$dir/cluster.key" --unit "$ip_u1:7411" --unit "$ip_u2:7411" \
  --credentials "$dir/pmmd.cred" --listen "$ip_pm:7410" --addr-file "$dir/pm.addr" 2>"$dir/pm.log" &
pids+=($!)
wait_file "$dir/pm.addr"
export NPMU_SERVER=$ip_pm:7410 NPMU_CREDENTIALS=$dir/app.cred
# a lease a loaded 2-core machine can renew in time (renewed every third of it)
export NPMU_LEASE_MS=${NPMU_LEASE_MS:-1000}

on pri "$npmu" unit ls > "$dir/units.txt" || fail "unit ls from another host"
grep -c " up " "$dir/units.txt" | grep -q 2 || fail "both units up: $(cat "$dir/units.txt")"

# a flood of unfinished handshakes from one host: others are served all along
flood=$build/tests/flood; [ -x "$flood" ] || flood=$build/flood
exec_on_bg fl "$flood" "$ip_pm:7410" 6 > "$dir/flood.out" 2>&1
flood_pid=$!; pids+=($flood_pid)
sleep 1
served=0
for _ in $(seq 10); do
  NETNS_ON_TIMEOUT=10 on bak "$npmu" region ls > "$dir/ls.out" 2>&1 && served=$((served + 1))
  sleep 0.3
done
wait_exit "$flood_pid" 30 || fail "the flood did not end"
wait "$flood_pid" || true
echo "$(cat "$dir/flood.out"); region ls from another host: $served of 10 served"
[ "$served" = 10 ] || fail "a client was locked out by the flood: $served of 10 ($(cat "$dir/ls.out"))"
read -r _ opened _ _ throttled _ < <(tr -d '(),' < "$dir/flood.out") || true
[ "${opened:-0}" -gt 8 ] || fail "the flood opened no handshakes (it proved nothing): $(cat "$dir/flood.out")"
[ "${throttled:-0}" -gt 0 ] || fail "the flooding host was never slowed down: $(cat "$dir/flood.out")"
grep -q "rejected AUTH1 from $ip_fl" "$dir/pm.log" || fail "refusals of the flood not logged with its address"
on pri "$demo" create ckpt.kv || fail "create the stream"
exec_on_bg pri "$demo" primary ckpt.kv 2000000 "$dir/acks" > "$dir/primary.out" 2>&1
primary_pid=$!; pids+=($primary_pid)
wait_file "$dir/acks"
exec_on_bg bak "$demo" backup ckpt.kv 100000 20 "$dir/acks" "$dir/cut" > "$dir/backup.out" 2>&1
backup_pid=$!; pids+=($backup_pid)
sleep 0.5
# cut the primary's host off the network, mid-run
date +%s.%N > "$dir/cut"
on pri ip link set eth0 down
# the backup takes over; then the link comes back, while the old primary still retries its
# commit (for $NPMU_UNIT_WAIT_MS): it must learn it was fenced and change nothing
for _ in $(seq 600); do grep -q "took over" "$dir/backup.out" && break; sleep 0.1; done
grep -q "took over" "$dir/backup.out" || fail "no takeover in 60 s: $(cat "$dir/backup.out")"
on pri ip link set eth0 up
wait_exit "$backup_pid" 120 || fail "backup still running after 120 s"
wait "$backup_pid" && grep -q EQUAL "$dir/backup.out" || fail "backup on another host: $(cat "$dir/backup.out")"
grep -q " 0 committed update(s) lost" "$dir/backup.out" || fail "commits lost: $(cat "$dir/backup.out")"
wait_exit "$primary_pid" 30 || { fail "the cut-off primary still runs"; kill -9 "$primary_pid"; }
wait "$primary_pid" 2>/dev/null || true
grep -q "fenced" "$dir/primary.out" || fail "old primary not told it was fenced: $(grep -v "^primary: step" "$dir/primary.out" | tail -5)"
on bak "$npmu" --json ckpt stat ckpt.kv > "$dir/stat.json"
grep -q '"seq":100000' "$dir/stat.json" || fail "stream changed after takeover: $(cat "$dir/stat.json")"
sed 's/^/  /' "$dir/backup.out"
if [ "$fails" -ne 0 ]; then
  for f in u1 u2 pm; do echo "--- $f.log"; tail -20 "$dir/$f.log"; done
  echo "--- primary.out"; tail -5 "$dir/primary.out"
  echo "$fails check(s) failed"; exit 1
fi
echo "all multi-host checks passed"
