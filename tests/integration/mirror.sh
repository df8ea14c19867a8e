#!/usr/bin/env bash
# mirror.sh -- mirrored regions across hosts: two units in separate network namespaces (and fault
# domains), pmmd and clients in others, on a bridge (addresses in 198.18.3.0/24 only). Shows:
# writes land on both copies (each read directly); reads fail over within a bounded time when
# the selected unit is cut off; writes go on degraded while a unit is cut off or killed, and the
# copy is resynced while they go on; both copies end byte-identical; a replaced unit gets its
# copy back; a checkpoint stream's backup takes over when the primary process and its stream's
# primary unit die together; a restarted manager finds the mirror from the surviving unit.
# Needs root and iproute2; exits 77 (skipped) without them.
set -euo pipefail
build=$(cd "$1" && pwd)
source "$(dirname "$0")/netns.sh"
netns_usable || { echo "skipped: needs root and ip netns"; exit 77; }
dir=$(mktemp -d /tmp/npmu-mirror-XXXXXX)
hosts=(u1 u2 pm cli pri bak)
pids=()
trap netns_teardown EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

netns_up nm 198.18.3 "${hosts[@]}"
wait_file() { for _ in $(seq 1000); do [ -s "$1" ] && return 0; sleep 0.01; done; echo "FAIL: $1 never written"; exit 1; }
# wait_for SECONDS PATTERN -- until `npmu region stat` of $region matches
wait_for() { # wait_for SECONDS PATTERN: until `region stat` shows PATTERN (wall-clock bound)
  local t=$1 pat=$2 out="" end=$((SECONDS + $1))
  while [ "$SECONDS" -lt "$end" ]; do
    out=$(NETNS_ON_TIMEOUT=10 on cli "$npmu" region stat "$region" 2>&1 || true)
    grep -qE -- "$pat" <<<"$out" && return 0
    sleep 0.1
  done
  echo "FAIL: no /$pat/ in $t s:"; echo "$out"; tail -n 3 "$dir"/*.out "$dir/pm.log" 2>/dev/null; fails=$((fails + 1)); return 1
}

npmu="$build/npmu"; demo="$build/npmu-demo"; mio="$build/tests/mirror_io"
[ -x "$mio" ] || mio="$build/mirror_io"
"$npmu" keygen "$dir/cluster.key" >/dev/null
"$npmu" keygen "$dir/app.key" >/dev/null
printf 'principal app\nkey-file %s\n' "$dir/app.key" > "$dir/app.cred"; chmod 600 "$dir/app.cred"
printf 'principal app file %s\nallow app create,write *\n' "$dir/app.key" > "$dir/pmmd.cred"
chmod 600 "$dir/pmmd.cred"

start_unit() { # start_unit HOST
  local ip=ip_$1
  rm -f "$dir/$1.addr"
  exec_on_bg "$1" "$build/npmud" --pool "$dir/$1.pool" --size 96M --listen "${!ip}:7411" \
    --addr-file "$dir/$1.addr" --no-manager --cluster-key "$dir/cluster.key" 2>>"$dir/$1.log"
  pids+=($!); eval "pid_$1=$!"
  wait_file "$dir/$1.addr"
}
start_unit u1
start_unit u2
start_pmmd() {
  exec_on_bg pm "$build/pmmd" --cluster-key "$dir/cluster.key" --unit "$ip_u1:7411@rackA" \
    --unit "$ip_u2:7411@rackB" --unit-timeout 500 --credentials "$dir/pmmd.cred" \
    --listen "$ip_pm:7410" --addr-file "$dir/pm.addr" 2>>"$dir/pm.log"
  pids+=($!); pmmd=$!
  wait_file "$dir/pm.addr"
}
start_pmmd
export NPMU_SERVER=$ip_pm:7410 NPMU_CREDENTIALS=$dir/app.cred

# -- placement: two units, two fault domains; never one unit twice --------------------------
echo "[${SECONDS}s] placement: two units, two fault domains; never one unit twice"
region=mirrored
on cli "$npmu" region create "$region" 32M --mirror > "$dir/create.out" || fail "create: $(cat "$dir/create.out")"
on cli "$npmu" region stat "$region" > "$dir/stat0" || true
grep -qE "primary +$ip_u1:7411 +in sync" "$dir/stat0" && grep -qE "mirror +$ip_u2:7411 +in sync" "$dir/stat0" \
  || fail "placement: $(cat "$dir/stat0")"
if on cli "$npmu" region create twice 1M --mirror --unit "$ip_u1:7411" --mirror-unit "$ip_u1:7411" 2>/dev/null; then
  fail "a mirror on one unit twice was accepted"
fi

# -- writes land on both copies, each read directly --------------------------------------------
echo "[${SECONDS}s] writes land on both copies, each read directly"
head -c $((32 << 20)) /dev/urandom > "$dir/data"
on cli "$npmu" put "$region" "$dir/data" > /dev/null || fail "put"
for copy in primary mirror; do
  want=$ip_u1; [ $copy = mirror ] && want=$ip_u2
  on cli "$npmu" get --copy $copy "$region" "$dir/$copy.bin" > "$dir/get.$copy" || fail "get --copy $copy"
  grep -q "copy on $want:7411" "$dir/get.$copy" || fail "$copy read not served by its unit: $(cat "$dir/get.$copy")"
  cmp -s "$dir/data" "$dir/$copy.bin" || fail "the $copy copy differs from what was written"
done

# -- reads fail over when the selected unit is cut off mid-read --------------------------------
echo "[${SECONDS}s] reads fail over when the selected unit is cut off mid-read"
exec_on_bg cli "$mio" reader "$region" "$dir/data" > "$dir/reader.out" 2>&1
reader=$!; pids+=($reader)
sleep 1
link u1 down
sleep 3
link u1 up
sleep 1
kill -TERM "$reader" 2>/dev/null || true
wait "$reader" || fail "reader: $(cat "$dir/reader.out")"
read -r _ reads _ wrong _ from_p _ from_m _ longest _ < <(grep "^reads " "$dir/reader.out") || true
[ "${wrong:-1}" = 0 ] && [ "${from_p:-0}" -gt 0 ] && [ "${from_m:-0}" -gt 0 ] \
  || fail "fail-over reads: $(cat "$dir/reader.out")"
awk -v l="${longest:-99}" 'BEGIN { exit !(l < 3.0) }' || fail "a read took ${longest}s (bound 3 s)"
echo "fail-over reads: $(cat "$dir/reader.out")"

# -- writes go on degraded, the copy is resynced while they go on -------------------------------
echo "[${SECONDS}s] writes go on degraded, the copy is resynced while they go on"
exec_on_bg cli "$mio" writer "$region" "$dir/image" > "$dir/writer.out" 2>&1
writer=$!; pids+=($writer)
sleep 1
link u2 down                                  # cut the mirror's unit off
wait_for 10 "mirror +$ip_u2:7411 +stale"
sleep 1
link u2 up                                    # back: resynced by the writer, writes going on
wait_for 30 "mirror +$ip_u2:7411 +in sync"
kill -9 "$pid_u2"; wait "$pid_u2" 2>/dev/null || true   # killed outright this time
wait_for 10 "mirror +$ip_u2:7411 +stale"
start_unit u2
wait_for 30 "mirror +$ip_u2:7411 +in sync"
sleep 0.5
kill -TERM "$writer"
wait "$writer" || fail "writer: $(cat "$dir/writer.out")"
grep -q "seen-stale 1 seen-resync 1 final in-sync in-sync" "$dir/writer.out" \
  || fail "degraded writes and resync: $(cat "$dir/writer.out")"
echo "degraded writes: $(cat "$dir/writer.out")"
for copy in primary mirror; do
  on cli "$npmu" get --copy $copy "$region" "$dir/$copy.bin" > /dev/null || fail "get --copy $copy"
  cmp -s "$dir/image" "$dir/$copy.bin" || fail "after resync the $copy copy differs from what was written"
done

grep -q "mirror record on $ip_u2:7411 is older" "$dir/pm.log" \
  || fail "the returning unit's older mirror record was not reported and written back"

# -- a unit replaced (its pool lost): the copy is made again and resynced ------------------------
echo "[${SECONDS}s] a unit replaced (its pool lost): the copy is made again and resynced"
kill -9 "$pid_u2"; wait "$pid_u2" 2>/dev/null || true
rm -f "$dir/u2.pool"
start_unit u2
wait_for 10 "mirror +$ip_u2:7411 +stale"
on cli "$npmu" region resync "$region" > "$dir/resync.out" || fail "resync onto a new unit: $(cat "$dir/resync.out")"
wait_for 5 "mirror +$ip_u2:7411 +in sync"
on cli "$npmu" get --copy mirror "$region" "$dir/mirror.bin" > /dev/null || fail "get --copy mirror"
cmp -s "$dir/image" "$dir/mirror.bin" || fail "the rebuilt copy on a replaced unit differs"

# -- both units down: a clear error, nothing reported written ----------------------------------
echo "[${SECONDS}s] both units down: a clear error, nothing reported written"
link u1 down; link u2 down
if on cli "$npmu" put "$region" "$dir/data" > "$dir/both.out" 2>&1; then fail "a write with both units down succeeded"; fi
grep -qiE "unreachable|cannot be reached|no answer" "$dir/both.out" || fail "both down: $(cat "$dir/both.out")"
link u1 up; link u2 up

# -- the copy holding the latest writes away, the other back alone: refused, never read stale ----
echo "[${SECONDS}s] the copy holding the latest writes away, the other back alone: refused, never read stale"
head -c $((32 << 20)) /dev/urandom > "$dir/data2"
link u1 down
on cli "$npmu" put "$region" "$dir/data2" > /dev/null 2>&1 || fail "a degraded write (primary cut off)"
link u2 down; link u1 up
if on cli "$npmu" get "$region" "$dir/stale.bin" > "$dir/stale.out" 2>&1; then
  fail "a read was served by the copy that missed the latest writes"
fi
link u2 up
on cli "$npmu" get "$region" "$dir/latest.bin" > /dev/null || fail "get after the mirror's unit came back"
cmp -s "$dir/data2" "$dir/latest.bin" || fail "the latest writes were not what was read"

# -- an asymmetric partition: the writer cannot reach the mirror's unit, pmmd can --------------
echo "[${SECONDS}s] an asymmetric partition: the writer cannot reach the mirror's unit, pmmd can"
region=asym
on cli "$npmu" region create "$region" 8M --mirror > /dev/null || fail "create $region"
head -c $((8 << 20)) /dev/urandom > "$dir/asym.old"
head -c $((8 << 20)) /dev/urandom > "$dir/asym.new"
on cli "$npmu" put "$region" "$dir/asym.old" > /dev/null || fail "put before the partition"
on cli ip route add unreachable "$ip_u2/32"      # cli -> u2 only; pmmd still reaches both
on cli "$npmu" put "$region" "$dir/asym.new" > "$dir/asym.put" 2>&1 || fail "degraded put: $(cat "$dir/asym.put")"
# the copy the writer could not reach is recorded stale before the write counted
wait_for 5 "mirror +$ip_u2:7411 +stale"
# a reader that reaches it is never served its old bytes
on pm "$npmu" get --copy mirror "$region" "$dir/asym.got" > "$dir/asym.get" 2>&1 || fail "get --copy mirror: $(cat "$dir/asym.get")"
cmp -s "$dir/asym.new" "$dir/asym.got" || fail "a reader was served the copy that missed the write"
grep -q "copy on $ip_u1:7411" "$dir/asym.get" || fail "not served by the copy in sync: $(cat "$dir/asym.get")"
# a resync from where the mirror's unit is out of reach says so; from elsewhere it repairs it
if on cli "$npmu" region resync "$region" > "$dir/asym.resync" 2>&1; then fail "resync across the partition succeeded"; fi
on cli ip route del unreachable "$ip_u2/32"
on pm "$npmu" region resync "$region" > "$dir/asym.resync" 2>&1 || fail "resync: $(cat "$dir/asym.resync")"
wait_for 5 "mirror +$ip_u2:7411 +in sync"
on pm "$npmu" get --copy mirror "$region" "$dir/asym.got" > "$dir/asym.get" 2>&1 || fail "get --copy mirror after resync"
cmp -s "$dir/asym.new" "$dir/asym.got" && grep -q "copy on $ip_u2:7411" "$dir/asym.get" \
  || fail "the resynced mirror copy: $(cat "$dir/asym.get")"

# -- a mirrored stream whose primary cannot reach the mirror's unit; then the primary's unit dies:
#    the backup never recovers from the copy that missed the commits; it waits for the other
echo "[${SECONDS}s] a mirrored stream written across an asymmetric partition, then its primary unit lost"
export NPMU_LEASE_MS=1500
on pri "$demo" create ckpt.asym --mirror || fail "create ckpt.asym"
on pri ip route add unreachable "$ip_u2/32"
exec_on_bg pri "$demo" primary ckpt.asym 100000 "$dir/asym.acks" > "$dir/asym.primary" 2>&1
primary=$!; pids+=($primary)
wait_file "$dir/asym.acks"
# its backup follows (it reaches both units) and keeps trying to take over
exec_on_bg bak "$demo" backup ckpt.asym +100 20 "$dir/asym.acks" /dev/null > "$dir/asym.backup" 2>&1
backup=$!; pids+=($backup)
sleep 1.5
kill -9 "$primary"; wait "$primary" 2>/dev/null || true
acked=$(( $(stat -c %s "$dir/asym.acks") / 8 ))
[ "$acked" -gt 100 ] || fail "the primary committed only $acked updates (round proved nothing)"
kill -9 "$pid_u1"; wait "$pid_u1" 2>/dev/null || true   # the only copy in sync goes away
on pri ip route del unreachable "$ip_u2/32"
sleep 4   # the backup's takeovers meanwhile must change nothing (no epoch raised on u2 alone)
if ! kill -0 "$backup" 2>/dev/null; then fail "the backup ended with u1 down (it must wait): $(cat "$dir/asym.backup")"; fi
grep -q "took over" "$dir/asym.backup" && fail "the backup took over from the stale copy: $(cat "$dir/asym.backup")"
start_unit u1
for _ in $(seq 1200); do kill -0 "$backup" 2>/dev/null || break; sleep 0.05; done
wait "$backup" && grep -q " 0 committed update(s) lost" "$dir/asym.backup" && grep -q EQUAL "$dir/asym.backup" \
  || fail "after the partition: $(cat "$dir/asym.backup")"
steps=$(sed -n 's/backup: finished \([0-9]*\) steps.*/\1/p' "$dir/asym.backup")
# a reader after it sees every commit of the backup (the copies agree on the stream's epoch even
# though takeovers were tried, and refused, while only the stale copy answered)
on cli "$npmu" --json ckpt stat ckpt.asym > "$dir/asym.stat" 2>&1 || true
grep -q "\"seq\":${steps:-x}," "$dir/asym.stat" || fail "a reader after the takeover: $(cat "$dir/asym.stat") (want seq $steps)"
echo "asymmetric partition: $acked commits acknowledged; $(grep -o 'took over at step [0-9]*' "$dir/asym.backup")"

# -- a mirrored checkpoint stream: the primary and its stream's primary unit die together ------
echo "[${SECONDS}s] a mirrored checkpoint stream: the primary and its stream's primary unit die together"
export NPMU_LEASE_MS=1500 # above pmmd's --unit-timeout: a lost unit delays pmmd that long
on pri "$demo" create ckpt.m --mirror || fail "create the mirrored stream"
exec_on_bg pri "$demo" primary ckpt.m 100000 "$dir/acks" > "$dir/primary.out" 2>&1
primary=$!; pids+=($primary)
wait_file "$dir/acks"
exec_on_bg bak "$demo" backup ckpt.m 100000 20 "$dir/acks" "$dir/cut" > "$dir/backup.out" 2>&1
backup=$!; pids+=($backup)
sleep 0.7
date +%s.%N > "$dir/cut"
kill -9 "$primary" "$pid_u1"
wait "$primary" 2>/dev/null || true
for _ in $(seq 2400); do kill -0 "$backup" 2>/dev/null || break; sleep 0.05; done
kill -0 "$backup" 2>/dev/null && { fail "the backup still runs after 120 s: $(tail -3 "$dir/backup.out")"; kill -9 "$backup"; }
if wait "$backup" && grep -q EQUAL "$dir/backup.out" && grep -q " 0 committed update(s) lost" "$dir/backup.out"; then :; else
  fail "takeover from the mirror: $(cat "$dir/backup.out")"; fi
region=ckpt.m
wait_for 5 "primary +$ip_u1:7411 +stale"
sed 's/^/  /' "$dir/backup.out"
# a restarted manager finds the mirror again from the surviving unit alone
kill -9 "$pmmd"; wait "$pmmd" 2>/dev/null || true
rm -f "$dir/pm.addr"
start_pmmd
wait_for 10 "mirror +$ip_u2:7411 +in sync"
wait_for 1 "primary +$ip_u1:7411 +stale.*unreachable"

if [ "$fails" -ne 0 ]; then echo "$fails check(s) failed"; exit 1; fi
echo "all mirror checks passed"
