#!/usr/bin/env bash
# probes.sh -- bare TCP connections to pmmd's and a unit's ports, as port scanners, load
# balancers' health checks and npmu's own liveness probe (a client whose server is slow checks
# that its port still accepts) make them: a connection closed before its first message, or after
# a few bytes of garbage. Each daemon must close them, stay idle (libfabric 1.17's tcp provider
# kept such a socket readable in its poll set and the daemon spun at 100% of a core until it
# exited), hold no more descriptors than before, and go on serving. Then pmmd, started with a
# soft limit of 256 descriptors, serves while 400 connections that send nothing are held open.
set -euo pipefail
build=$1
npmud="$build/npmud"; pmmd="$build/pmmd"; npmu="$build/npmu"
dir=$(mktemp -d /tmp/npmu-probes-XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; [ -n "${KEEP:-}" ] || rm -rf "$dir"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in "$dir"/*.log; do echo "--- $f"; tail -5 "$f"; done; exit 1; }
wait_file() { for _ in $(seq 500); do [ -s "$1" ] && return 0; sleep 0.01; done; fail "$1 never written"; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }        # user + system clock ticks so far
fds() { ls "/proc/$1/fd" | wc -l; }
hz=$(getconf CLK_TCK)

"$npmu" keygen "$dir/cluster.key" > /dev/null
"$npmud" --pool "$dir/u.pool" --size 32M --listen 127.0.0.1:0 --addr-file "$dir/u.addr" \
  --no-manager --cluster-key "$dir/cluster.key" 2> "$dir/unit.log" & unit_pid=$!; pids+=($!)
wait_file "$dir/u.addr"
# pmmd started with a soft limit of 256 descriptors, as a shell's default would give it: it
# raises the limit itself (a flood of idle connections below must not use them all up)
soft=256; hard=$(ulimit -Hn)
[ "$hard" = unlimited ] || [ "$hard" -ge 2048 ] || soft=$hard
bash -c 'ulimit -Sn "$1"; shift; exec "$@"' _ "$soft" "$pmmd" --cluster-key "$dir/cluster.key" \
  --unit "$(cat "$dir/u.addr")" --listen 127.0.0.1:0 --addr-file "$dir/pmmd.addr" \
  2> "$dir/pmmd.log" & pmmd_pid=$!; pids+=($!)
wait_file "$dir/pmmd.addr"
export NPMU_SERVER=$(cat "$dir/pmmd.addr")
"$npmu" region create probes.r 1M > /dev/null || fail "region create before the probes"

# probe PORT -- 20 connections closed at once and 20 after a few bytes; prints how many the
# port accepted (a round in which none was accepted proves nothing)
probe() {
  local accepted=0
  for i in $(seq 20); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then accepted=$((accepted + 1)); fi
    if (exec 3<>"/dev/tcp/127.0.0.1/$1"; printf 'GET / HTTP/1.0\r\n\r\n' >&3) 2>/dev/null; then
      accepted=$((accepted + 1)); fi
  done
  echo "$accepted"
}

rounds=0
for who in pmmd unit; do
  if [ $who = pmmd ]; then pid=$pmmd_pid; addr=$NPMU_SERVER; else pid=$unit_pid; addr=$(cat "$dir/u.addr"); fi
  sleep 0.5
  fd0=$(fds "$pid")
  got=$(probe "${addr##*:}")
  [ "$got" -gt 0 ] || fail "$who: its port accepted no probe: the round proves nothing"
  sleep 1 # the daemon meets each closed socket on its next progress
  t0=$(ticks "$pid"); sleep 3; t1=$(ticks "$pid")
  pct=$(( (t1 - t0) * 100 / (3 * hz) ))
  fd1=$(fds "$pid")
  echo "$who: $got probes accepted; afterwards ${pct}% of a core over 3 s, $fd1 descriptors (before: $fd0)"
  [ "$pct" -lt 10 ] || fail "$who spins after bare connections: ${pct}% of a core while idle"
  [ "$fd1" -le "$fd0" ] || fail "$who kept the probes' sockets: $fd1 descriptors, $fd0 before"
  rounds=$((rounds + 1))
done
# idle connections (opened, nothing sent: libfabric's tcp provider keeps each one, holding a
# descriptor) past the limit pmmd was started with: it still serves
if [ "$soft" = 256 ]; then
  idle=400
  (for _ in $(seq $idle); do exec {fd}<>"/dev/tcp/127.0.0.1/${NPMU_SERVER##*:}" || exit 1; done
   echo held > "$dir/idle.held"; sleep 30) 2>/dev/null & idle_pid=$!; pids+=($idle_pid)
  for _ in $(seq 100); do [ -s "$dir/idle.held" ] && break; sleep 0.1; done
  [ -s "$dir/idle.held" ] || fail "could not open $idle idle connections to pmmd"
  sleep 0.5
  held=$(fds "$pmmd_pid")
  [ "$held" -gt "$soft" ] || fail "pmmd holds $held descriptors: the idle connections proved nothing"
  timeout 20 "$npmu" region ls | grep -q probes.r ||
    fail "pmmd, started with $soft descriptors, does not serve while $idle idle connections are held"
  kill "$idle_pid" 2>/dev/null || true; wait "$idle_pid" 2>/dev/null || true
  echo "pmmd (started with a soft limit of $soft descriptors) served holding $held descriptors ($idle idle connections)"
  rounds=$((rounds + 1))
else
  echo "the hard limit on descriptors here is $hard: the idle connections' round is left out"
fi
"$npmu" region ls | grep -q probes.r || fail "region ls after the probes"
echo "payload" > "$dir/in"
"$npmu" put probes.r "$dir/in" > /dev/null || fail "put after the probes"
"$npmu" get probes.r "$dir/out" > /dev/null || fail "get after the probes"
head -c 8 "$dir/out" | cmp -s - "$dir/in" || fail "get after the probes: other bytes"
echo "probes: $rounds round(s) effective; both daemons idle and serving afterwards"
[ "$rounds" -ge 2 ] || fail "only $rounds round(s) effective"
