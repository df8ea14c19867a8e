#!/usr/bin/env bash
# ops.sh -- operating npmu: --check-config on good and bad files; two units and pmmd started
# from configuration files, telling a stand-in for systemd that they are ready, alive and
# stopping; their metrics scraped during a workload and checked against it (regions, bytes
# made durable, requests by result, a lease held, lapsed and taken over, the writer fenced, a
# unit away and a mirror copy stale); the library's log in the application's sink; journald
# lines; clean stops on SIGTERM; and the systemd units checked by systemd-analyze verify.
set -euo pipefail
build=$(cd "$1" && pwd)
src=$(cd "$(dirname "$0")/../.." && pwd)
source "$(dirname "$0")/units.sh"
client="$build/tests/ops_client"
command -v curl >/dev/null || { echo "SKIP: curl is not installed (scripts/install-deps.sh)"; exit 0; }

scrape() { curl -sf "http://$(cat "$dir/$1.metrics")/metrics"; } # scrape NAME: its metrics
metric() { # metric NAME SAMPLE: the value of one sample (the exact name{labels}), or "none"
  scrape "$1" | awk -v s="$2" '$1 == s { print $2; found = 1 } END { if (!found) print "none" }'
}
expect_metric() { # expect_metric NAME SAMPLE OP VALUE: within 3 s (gauges are published each second)
  local v
  for _ in $(seq 30); do
    v=$(metric "$1" "$2")
    [ "$v" != none ] && [ "$v" "$3" "$4" ] && return 0
    sleep 0.1
  done
  fail "$1: $2 is $v, wanted $3 $4"
}

"$npmu" keygen "$dir/cluster.key" >/dev/null
unit_conf() { # unit_conf N RACK: unit N's configuration file
  cat >"$dir/u$1.conf" <<EOF
# unit $1
pool = $dir/u$1.pool
size = 64M
listen = 127.0.0.1:0
no-manager = yes
cluster-key = $dir/cluster.key
addr-file = $dir/u$1.addr
metrics = 127.0.0.1:0
metrics-addr-file = $dir/u$1.metrics
EOF
}
unit_conf 1; unit_conf 2
echo "nice = 3" >>"$dir/u2.conf"

# --check-config: good files pass; each bad one fails naming the file, the line and the fault
expect 0 "configuration is good \($dir/u1.conf\)" "$npmud" --config "$dir/u1.conf" --check-config
printf 'pool = %s\nsize = 8M\nspin-us = lots\n' "$dir/x.pool" >"$dir/bad1.conf"
expect 1 "bad1.conf line 3: spin-us 'lots': expected 0..1000000" "$npmud" -f "$dir/bad1.conf" --check-config
printf 'pool = %s\n# fine\nmetrics-port = 9\n' "$dir/x.pool" >"$dir/bad2.conf"
expect 1 "bad2.conf line 3: unknown key 'metrics-port'" "$npmud" -f "$dir/bad2.conf" --check-config
printf 'pool = %s\n' "$dir/missing.pool" >"$dir/bad3.conf"
expect 1 "missing.pool: does not exist" "$npmud" -f "$dir/bad3.conf" --check-config
expect 1 "^npmud: --spin-us 'x': expected" "$npmud" -f "$dir/u1.conf" --spin-us x --check-config
printf 'pool = %s\nsize = 8M\nnice = -30\n' "$dir/x.pool" >"$dir/bad7.conf"
expect 1 "bad7.conf line 3: nice '-30': expected -20..19" "$npmud" -f "$dir/bad7.conf" --check-config
expect 2 "no such file" "$npmud" --config "$dir/nonexistent.conf"
printf 'cluster-key = %s/none.key\nunit = 127.0.0.1:1\n' "$dir" >"$dir/bad4.conf"
expect 1 "cluster key $dir/none.key" "$pmmd" -f "$dir/bad4.conf" --check-config
printf 'cluster-key = %s\nunit 127.0.0.1:1 rackA\n' "$dir/cluster.key" >"$dir/bad5.conf"
expect 1 "bad5.conf line 2: expected .key = value., found no '='" "$pmmd" -f "$dir/bad5.conf" --check-config
printf 'cluster-key = %s\nunit = 127.0.0.1:1\nunit = 127.0.0.1:1\n' "$dir/cluster.key" >"$dir/bad6.conf"
expect 1 "bad6.conf line 3: unit 127.0.0.1:1: given twice" "$pmmd" -f "$dir/bad6.conf" --check-config

# a stand-in for systemd: a datagram socket at $NOTIFY_SOCKET keeping what each daemon says
python3 - "$dir/notify.sock" "$dir/notify.log" <<'EOF' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as log:
    while True:
        log.write(s.recv(4096).decode().replace("\n", " ") + "\n")
EOF
pids+=($!)
wait_file_exists() { for _ in $(seq 500); do [ -e "$1" ] && return 0; sleep 0.01; done; fail "$1 never made"; }
wait_file_exists "$dir/notify.sock"
start_from_conf() { # start_from_conf NAME DAEMON: DAEMON --config NAME.conf, notifying, watchdog 2 s
  NOTIFY_SOCKET="$dir/notify.sock" WATCHDOG_USEC=2000000 "$2" --config "$dir/$1.conf" 2>>"$dir/$1.log" &
  pids+=($!); eval "pid_$1=$!"
  wait_file "$dir/$1.addr"
  wait_file "$dir/$1.metrics"
}
start_from_conf u1 "$npmud"
# unit 2 logs to a file the journal's stream stands for: lines carry priorities, no time
touch "$dir/u2.log"
JOURNAL_STREAM=$(stat -c '%d:%i' "$dir/u2.log") start_from_conf u2 "$npmud"
cat >"$dir/pmmd.conf" <<EOF
cluster-key = $dir/cluster.key
unit = $(cat "$dir/u1.addr")@rackA
unit = $(cat "$dir/u2.addr")@rackB
unit-timeout = 2000
listen = 127.0.0.1:0
addr-file = $dir/pmmd.addr
metrics = 127.0.0.1:0
metrics-addr-file = $dir/pmmd.metrics
EOF
expect 0 "configuration is good" "$pmmd" --config "$dir/pmmd.conf" --check-config
start_from_conf pmmd "$pmmd"
export NPMU_SERVER=$(cat "$dir/pmmd.addr")
# the units' scheduling priority, every thread's: u1 the default (ahead of the clients beside
# it: where lowering it is not permitted, a warning says so), u2 as its file says
nices() { cat /proc/"$1"/task/*/stat | sed 's/.*) //' | awk '{ print $17 }' | sort -u | tr '\n' ' '; }
if [ "$(id -u)" = 0 ]; then
  [ "$(nices "$pid_u1")" = "-10 " ] || fail "u1's threads run at nice $(nices "$pid_u1"), not -10"
else
  grep -q "cannot run at nice -10" "$dir/u1.log" || fail "u1 did not say it could not run at nice -10"
fi
[ "$(nices "$pid_u2")" = "3 " ] || fail "u2's threads run at nice $(nices "$pid_u2"), not 3 (nice = 3)"
grep -q "^<6>serving pool $dir/u2.pool" "$dir/u2.log" || fail "u2's log is not in the journal's form: $(head -2 "$dir/u2.log")"
grep -q "READY=1 STATUS=serving pool $dir/u1.pool" "$dir/notify.log" || fail "u1 did not say READY"
grep -q "READY=1 STATUS=managing 2 unit(s), 2 up" "$dir/notify.log" || fail "pmmd did not say READY"

# a workload, scraped meanwhile: every scrape answers
u1=$(cat "$dir/u1.addr"); u2=$(cat "$dir/u2.addr")
(for _ in $(seq 40); do scrape u1 >/dev/null && scrape pmmd >/dev/null || echo "scrape failed"; sleep 0.02; done) >"$dir/scrapes.log" &
scraper=$!
head -c 262144 /dev/urandom >"$dir/data"
expect 0 "r1" "$npmu" region create r1 1M --unit "$u1"
for i in 1 2 3; do expect 0 "" "$npmu" put r1 "$dir/data"; done
expect 1 "no such region" "$npmu" region stat nope
wait "$scraper"
[ -s "$dir/scrapes.log" ] && fail "scrapes failed during the workload: $(head -1 "$dir/scrapes.log")"
expect_metric u1 npmu_regions -eq 1
expect_metric u1 npmu_persist_bytes_total -ge $((3 * 262144))
# three puts opened r1: the first while it was fresh (made by u1, no writer closed yet: its pages
# are zeros, nothing read ahead), the other two read its 1 MiB ahead
expect_metric u1 npmu_prefetch_bytes_total -eq $((2 * 1048576))
expect_metric u1 'npmu_requests_total{type="PERSIST",result="ok"}' -ge 3
expect_metric u1 npmu_flush_duration_seconds_count -ge 1
expect_metric u1 npmu_pool_capacity_bytes -gt 60000000
expect_metric u1 npmu_pool_free_bytes -lt "$(metric u1 npmu_pool_capacity_bytes)"
expect_metric u1 npmu_memory_rss_file_bytes -gt 0
expect_metric u1 npmu_memory_rss_anon_bytes -gt 0
expect_metric pmmd 'npmu_requests_total{type="CREATE",result="ok"}' -eq 1
expect_metric pmmd 'npmu_requests_total{type="STAT",result="noent"}' -eq 1
expect_metric pmmd npmu_regions -eq 1
expect_metric pmmd "npmu_unit_up{unit=\"$u2\",domain=\"rackB\"}" -eq 1

# a lease held, lapsed (its primary stopped) and taken over: the primary is fenced
"$client" primary s1 >"$dir/primary.out" 2>"$dir/primary.err" &
primary=$!; pids+=($primary)
wait_file "$dir/primary.out"
expect_metric pmmd 'npmu_leases{state="held"}' -eq 1
expect_metric pmmd npmu_clients -ge 1
kill -STOP "$primary"
expect_metric pmmd 'npmu_leases{state="lapsed"}' -eq 1
expect 0 "took over" "$client" takeover s1
kill -CONT "$primary"
rc=0; wait "$primary" || rc=$?
[ "$rc" = 3 ] && grep -q fenced "$dir/primary.out" || fail "the primary was not fenced: status $rc, $(cat "$dir/primary.out" "$dir/primary.err")"
expect_metric pmmd npmu_lease_takeovers_total -eq 1
fences=$(( $(metric u1 npmu_fences_total) + $(metric u2 npmu_fences_total) ))
[ "$fences" -ge 2 ] || fail "units fenced $fences times (the first primary's start and the takeover: 2)"

# where regions are, a unit's counters and the live view, through the npmu command
expect 0 "r1 .* $u1" "$npmu" region ls
expect 0 "npmu_persist_bytes_total +[0-9]{6,}" "$npmu" unit stat "$(cat "$dir/u1.metrics")"
expect 0 '"metric":"npmu_regions","labels":"","value":"1"' "$npmu" --json unit stat "$(cat "$dir/u1.metrics")"
expect 1 "unit stat: http://127.0.0.1:1/metrics" "$npmu" unit stat 127.0.0.1:1
expect 0 "$u1 +up .*r1 .* $u1 .*s1 " "$npmu" top --count 1 --metrics "$(cat "$dir/pmmd.metrics")"
expect 0 "leases: 0 held, 0 lapsed; 1 takeovers" "$npmu" top --count 2 --interval 1 --metrics "$(cat "$dir/pmmd.metrics")"

# a unit away: a mirrored region's writer goes on degraded, its copy there is recorded stale,
# and the library's lines about it reach the application's sink, not stderr
expect 0 "m1" "$npmu" region create m1 256K --mirror --unit "$u1" --mirror-unit "$u2"
expect_metric pmmd 'npmu_mirror_copies{state="in-sync"}' -eq 2
expect 0 "\"units\":\[\"($u1\",\"$u2|$u2\",\"$u1)\"\]" "$npmu" --json region stat m1
"$client" degraded m1 "$dir/go" >"$dir/degraded.out" 2>"$dir/degraded.err" &
writer=$!; pids+=($writer)
wait_file "$dir/degraded.out"
kill -9 "$pid_u2"
touch "$dir/go"
wait "$writer" || fail "degraded write: $(cat "$dir/degraded.out" "$dir/degraded.err")"
[ -s "$dir/degraded.err" ] && fail "the library wrote to stderr with a sink set: $(head -2 "$dir/degraded.err")"
grep -q "^warn: .*m1" "$dir/degraded.out" || fail "no warning about m1 reached the sink: $(cat "$dir/degraded.out")"
expect_metric pmmd 'npmu_mirror_copies{state="stale"}' -eq 1
expect_metric pmmd "npmu_unit_up{unit=\"$u2\",domain=\"rackB\"}" -eq 0

# SIGTERM: a clean stop, said to systemd and logged
kill -TERM "$pid_u1" "$pid_pmmd"
rc=0; wait "$pid_u1" || rc=$?; [ "$rc" = 0 ] || fail "npmud exited $rc on SIGTERM"
rc=0; wait "$pid_pmmd" || rc=$?; [ "$rc" = 0 ] || fail "pmmd exited $rc on SIGTERM"
grep -q "stopping: [0-9]* requests answered" "$dir/u1.log" || fail "npmud did not log its stop"
grep -q "STOPPING=1 STATUS=stopping: [1-9][0-9]* requests answered" "$dir/notify.log" || fail "npmud did not say STOPPING"
grep -q "^WATCHDOG=1" "$dir/notify.log" || fail "no watchdog ping in $(wc -l <"$dir/notify.log") notifications"

# the systemd units, as make install writes them, pass systemd-analyze verify
mkdir "$dir/units"
printf '[Service]\nExecStart=/bin/true\n' >"$dir/units/probe.service"
if ! command -v systemd-analyze >/dev/null; then
  echo "SKIP: systemd-analyze verify (systemd-analyze is not installed)"
elif ! (cd "$dir/units" && systemd-analyze verify ./probe.service) >"$dir/probe.log" 2>&1; then
  echo "SKIP: systemd-analyze verify does not run here: $(head -1 "$dir/probe.log")"
else
  for u in npmud.service npmud@.service pmmd.service; do
    sed -e "s|@BINDIR@|$build|g" -e "s|@DOCDIR@|$src|g" "$src/dist/systemd/$u.in" >"$dir/units/$u"
  done
  cp "$dir/units/npmud@.service" "$dir/units/npmud@t.service"
  (cd "$dir/units" && systemd-analyze verify ./npmud.service ./pmmd.service ./npmud@t.service) \
    >"$dir/verify.log" 2>&1 || fail "systemd-analyze verify: $(cat "$dir/verify.log")"
  printf '[Service]\nType=notify\nExecStart=%s/no-such-npmud\n' "$build" >"$dir/units/broken.service"
  (cd "$dir/units" && ! systemd-analyze verify ./broken.service >/dev/null 2>&1) ||
    fail "systemd-analyze verify passes a unit whose program does not exist: it checks nothing here"
  grep -q "^Type=notify" "$dir/units/npmud.service" && grep -q "^WatchdogSec=" "$dir/units/npmud.service" &&
    grep -q "^LimitMEMLOCK=infinity" "$dir/units/npmud.service" && grep -q "^Restart=on-failure" "$dir/units/pmmd.service" ||
    fail "the units lack Type=notify, WatchdogSec, LimitMEMLOCK or Restart"
fi

[ "$fails" = 0 ] || { echo "$fails failure(s); logs in $dir (KEEP=1 keeps it)"; exit 1; }
echo "configuration files, --check-config, systemd notifications, metrics during a workload, the log sink, clean stops and the units all check out"
