#!/usr/bin/env bash
# dataset.sh -- datasets on six units under pmmd (loopback): parts of one version put and
# committed together; readers see only complete versions; byte ranges of parts across groups;
# the newest complete version survives any sequence of puts that never completed; keep and
# pins; bad input gets clear errors; puts go on with a unit down (degraded, said by stat) and
# stop, naming the units, when redundancy would be gone; a unit killed in the middle of a put
# leaves the put going on without it; a job with another number of parts
# goes on from a version of 4 parts; placed puts; ls, stat, get, pin and rm from the command.
set -euo pipefail
build=$1
tool="$build/tests/dataset_tool"
UNIT_SIZE=400M
. "$(dirname "$0")/units.sh"
start_units
ds() { "$tool" "$NPMU_SERVER" job "$@"; }  # ds PARTS VERB ARGS...

# part P of version V: its own bytes, of a size no sub-segment divides (parts differ in size)
part() { local f="$dir/v$1.p$2"; [ -s "$f" ] || head -c "$((10 * 1048576 - 4321 * ($2 + 1)))" /dev/urandom > "$f"; echo "$f"; }
put_all() { # put_all VERSION PARTS: every part of VERSION
  for p in $(seq 0 $(($2 - 1))); do expect 0 "" ds "$2" put "$1" "$p" "$(part "$1" "$p")"; done
}
check_part() { # check_part VERSION PART [SOURCE-VERSION]: read back whole, compare
  local src; src=$(part "${3:-$1}" "$2")
  expect 0 "" ds 0 read "$1" "$2" 0 "$(stat -c %s "$src")" "$dir/out"
  cmp -s "$src" "$dir/out" || fail "version $1 part $2 read back differs"
}

# a new dataset: nothing complete yet; a version is complete only once committed
expect 0 "" ds 4 open 4 2
expect 1 "error $((-1003)) " ds 0 latest
put_all 1 4
expect 1 "error $((-1003)) " ds 0 latest
expect 0 "" ds 4 commit 1 100
expect 0 "^version 1 label 100 parts 4 " ds 0 latest
expect 0 "" ds 4 commit 1 100   # a retry of the same commit
for p in 0 1 2 3; do check_part 1 $p; done
# byte ranges: across the first two groups (4 MiB each), inside the last, a single byte
for range in "1572864 3145728" "9437184 999999" "4194303 1" "0 0"; do
  read -r off len <<<"$range"
  expect 0 "" ds 0 read 1 2 "$off" "$len" "$dir/out"
  cmp -s <(tail -c +"$((off + 1))" "$(part 1 2)" | head -c "$len") "$dir/out" || fail "range $range of part 2 differs"
done

# a version some parts never reached is never complete; the newest complete one survives any
# number of such puts (every slot of part 0 reused many times over)
put_all 2 3
expect 1 "error $((-1003)) " ds 4 commit 2 200
grep -q "part 3 (job.p3) holds no version 2" <<<"$("$tool" "$NPMU_SERVER" job 4 commit 2 200 2>&1)" || fail "the missing part is not named"
expect 0 "^version 1 label 100 " ds 0 latest
for v in 3 4 5 6 7 8 9; do expect 0 "" ds 4 put $v 0 "$(part $v 0)"; done
for p in 0 1 2 3; do check_part 1 $p; done
expect 1 "error $((-1001)) " ds 4 put 1 0 "$(part 1 0)"          # not above the newest complete

# keep 2 and one pin
put_all 10 4; expect 0 "" ds 4 commit 10 1000
put_all 11 4; expect 0 "" ds 4 commit 11 1100
expect 1 "error $((-1003)) " ds 0 read 1 0 0 10 "$dir/out"        # version 1 no longer kept
expect 0 "" ds 0 pin 10
expect 1 "error $((-1018)) " ds 0 pin 11                           # one pin allowed
put_all 12 4; expect 0 "" ds 4 commit 12 1200
put_all 13 4; expect 0 "" ds 4 commit 13 1300
check_part 10 1                                                      # pinned: still kept
expect 1 "error $((-1003)) " ds 0 read 11 0 0 10 "$dir/out"
expect 0 "version 10: label 1000, 4 part.s., .*pinned" "$npmu" dataset stat job
expect 0 "" ds 0 unpin 10
expect 1 "error $((-1003)) " ds 0 read 10 0 0 10 "$dir/out"

# bad input: clear errors, nothing complete lost
expect 1 "error $((-1001)) " ds 4 put 14 4 "$(part 14 0)"          # part index out of range
head -c 13M /dev/urandom > "$dir/big"
expect 1 "error $((-1011)) " ds 4 put 14 0 "$dir/big"              # over the first part's size
expect 1 "error $((-1001)) " ds 0 open 8 2                         # another shape
expect 1 "error $((-1003)) " ds 0 pin 99                           # no such version
expect 1 "error $((-1007)) " ds 0 read 13 0 $((10 * 1048576)) 1 "$dir/out"
expect 1 "error $((-1007)) " ds 0 read 13 4 0 1 "$dir/out"
expect 1 "error $((-1003)) " ds 4 commit 14 1400                   # nothing put
expect 0 "^version 13 label 1300 " ds 0 latest
for p in 0 1 2 3; do check_part 13 $p; done

# a unit down: puts go on (each group keeps 5 of its 6), stat says degraded, reads rebuild
kill_unit 6
put_all 14 4; expect 0 "" ds 4 commit 14 1400
expect 0 "DEGRADED \(npmu stripe rebuild job.p0\)" "$npmu" dataset stat job
for p in 0 1 2 3; do check_part 14 $p; done
# two down: a put would leave a group without spare redundancy: refused, naming the units
kill_unit 5
out=$(ds 4 put 15 0 "$(part 15 0)" 2>&1) && fail "a put with two of six units down succeeded"
grep -q "error $((-1017)) " <<<"$out" || fail "two units down: $out"
grep -q "$(cat "$dir/u5.addr")" <<<"$out" || fail "the units down are not named: $out"
for p in 0 1 2 3; do check_part 14 $p; done                         # restorable from any 4
back_unit 5; back_unit 6

# a unit killed in the middle of a put: the put goes on without it (degraded) and restores;
# a round counts only when the kill landed mid-put (the library says so), else it is retried
head -c 40M /dev/urandom > "$dir/mid"
expect 0 "version 1" "$npmu" stripe put mid "$dir/v1.p0" --k 4 --m 2 --capacity 40M
# put_kill kills unit 4 once the first of the put's groups is written, and waits until it is gone
"$build/tests/put_kill" "$NPMU_SERVER" mid "$dir/mid" "$pid_4" > "$dir/mid.out" 2>&1 \
  || fail "a put with a unit killed in its middle failed: $(tail -3 "$dir/mid.out")"
wait "$pid_4" 2>/dev/null || true
effective=0
if grep -q "killed mid-put" "$dir/mid.out" && grep -q "stopped answering in the middle of a put" "$dir/mid.out"; then
  effective=1
  expect 0 "version 2: .*manifest on 5 of 6" "$npmu" stripe stat mid
  expect 0 "got version 2" "$npmu" stripe get mid "$dir/out"
  cmp -s "$dir/mid" "$dir/out" || fail "the set put while a unit died differs"
fi
back_unit 4
[ "$effective" = 1 ] || fail "the kill did not land in the middle of the put: $(cat "$dir/mid.out")"
echo "dataset: a unit killed mid-put: $effective effective round"
"$npmu" stripe rm mid >/dev/null

# the job restarts with 3 processes: it reads 4-part version 14 and goes on with 3 parts
put_all 15 3; expect 0 "" ds 3 commit 15 1500
expect 0 "^version 15 label 1500 parts 3 " ds 0 latest
check_part 14 3; check_part 15 2
# placed puts (parity across units, no flush)
for p in 0 1 2; do expect 0 "" ds 3 put 16 $p "$(part 16 $p)" placed; done
expect 0 "" ds 3 commit 16 1600
for p in 0 1 2; do check_part 16 $p; done

# the command: ls, stat, get (whole and a range), pin, rm
expect 0 "job +16 +1600 +3 " "$npmu" dataset ls
expect 0 '"dataset":"job".*"version":16' "$npmu" --json dataset ls
expect 0 "2 complete version.s. kept.*version 16: label 1600, 3 part.s." "$npmu" dataset stat job
expect 0 '"degraded_parts":0' "$npmu" --json dataset stat job
expect 0 "got part 1 of version 16" "$npmu" dataset get job 1 "$dir/out"
cmp -s "$(part 16 1)" "$dir/out" || fail "npmu dataset get differs"
expect 0 "" "$npmu" dataset get job 2 "$dir/out" --version 15 --offset 5M --length 1M
cmp -s <(tail -c +$((5 * 1048576 + 1)) "$(part 15 2)" | head -c 1048576) "$dir/out" || fail "npmu dataset get of a range differs"
expect 1 "no such dataset, or no such complete version" "$npmu" dataset get job 0 "$dir/out" --version 14
expect 1 "has no part 3" "$npmu" dataset get job 3 "$dir/out"
expect 0 "pinned version 15 of job" "$npmu" dataset pin job 15
expect 1 "not a kept complete version" "$npmu" dataset pin job 3
expect 1 "no such dataset" "$npmu" dataset stat nojob
# a reader keeps its parts open between reads: a version committed meanwhile is read through
# the same handle (what it held is opened again when it lacks the version)
rm -f "$dir/go" "$dir/r1" "$dir/r2"
ds 0 reread 1 "$dir/r1" "$dir/r2" "$dir/go" > "$dir/reread.out" 2>&1 & reader=$!
wait_file "$dir/r1"
cmp -s "$(part 16 1)" "$dir/r1" || fail "the reader's first read differs"
for p in 0 1 2; do expect 0 "" ds 3 put 20 "$p" "$(part 20 "$p")"; done
expect 0 "" ds 3 commit 20 2000
touch "$dir/go"
wait "$reader" || fail "the reader's second read failed: $(cat "$dir/reread.out")"
cmp -s "$(part 20 1)" "$dir/r2" || fail "the reader's second read (a version committed since) differs"

expect 0 "deleted dataset job" "$npmu" dataset rm job
left=$("$npmu" region ls | grep -c "^job\." || true)
[ "$left" = 0 ] || fail "$left region(s) of the deleted dataset remain"
expect 1 "no such dataset" "$npmu" dataset rm job

# review checks: each failed before its fix
dsn() { local n=$1; shift; "$tool" "$NPMU_SERVER" "$n" "$@"; }  # dsn NAME PARTS VERB ARGS...
small() { head -c 3000000 "$(part 1 0)"; }
small > "$dir/small"
# a catalog whose newest version cannot be read is an error, never the older catalog in its
# place (that one, the empty first, let puts overwrite complete versions); rm still deletes it.
# The catalog (1+2 mirrored, 128 KiB sub-segments, keep 2) holds its newest, version 2 (the
# commit after the creation), in data slot 0: after the 4 KiB header and two 4 KiB manifests.
expect 0 "" dsn cat 1 put 1 0 "$dir/small"; expect 0 "" dsn cat 1 commit 1 10
head -c 131072 /dev/urandom > "$dir/garbage"
for i in 0 1 2; do expect 0 "" "$npmu" put --offset 12288 cat.ds.s$i "$dir/garbage"; done
expect 1 "catalog cat.ds cannot be read.*error $((-1026)) " dsn cat 0 latest
expect 1 "error $((-1026)) " dsn cat 1 put 2 0 "$dir/small"
expect 0 "deleted dataset cat" "$npmu" dataset rm cat
# rm while a put waits for its part's lease: rm is refused (busy), and the waiting put, once it
# has the lease, finds the dataset being deleted and writes nothing (it did, before)
expect 0 "" dsn del 1 put 1 0 "$(part 1 0)"; expect 0 "" dsn del 1 commit 1 10  # 3 groups
dsn del 0 hold del.p0 "$(part 1 0)" 1500 > "$dir/hold.out" 2>&1 &
hold=$!
for _ in $(seq 250); do grep -q holding "$dir/hold.out" && break; sleep 0.02; done
dsn del 1 put 2 0 "$dir/small" > "$dir/waiter.out" 2>&1 &
waiter=$!
sleep 0.3
expect 1 "is in use" "$npmu" dataset rm del
wait "$hold" || fail "the put holding del.p0 failed: $(cat "$dir/hold.out")"
wrc=0; wait "$waiter" || wrc=$?
[ "$wrc" = 1 ] && grep -q "error $((-1003)) " "$dir/waiter.out" || fail "a put of a dataset being deleted went on: $(cat "$dir/waiter.out")"
expect 0 "deleted dataset del" "$npmu" dataset rm del
# a part deleted by hand: reads say the part is gone (not "no such dataset"), stat names it
expect 0 "" dsn hd 2 put 1 0 "$dir/small"; expect 0 "" dsn hd 2 put 1 1 "$dir/small"
expect 0 "" dsn hd 2 commit 1 10
expect 0 "deleted set hd.p1" "$npmu" stripe rm hd.p1
expect 1 "part 1 .hd.p1. does not hold complete version 1.*error $((-1026)) " dsn hd 0 read 1 1 0 10 "$dir/out"
expect 0 "part 1: hd.p1 is missing" "$npmu" dataset stat hd
# a range beyond the part is refused before any memory is taken for it
expect 1 "outside part 0 of version 1" "$npmu" dataset get hd 0 "$dir/out" --offset 1M --length 2T
# a commit of a complete version with another label says so
expect 1 "version 1 is complete already, with label 10 .not 11." dsn hd 2 commit 1 11
expect 0 "deleted dataset hd" "$npmu" dataset rm hd
# names: 53 bytes work, 54 are refused with the dataset limit (not the region one)
n53=$(printf 'n%.0s' $(seq 53))
expect 0 "" dsn "$n53" 1 put 1 0 "$dir/small"
expect 1 "dataset names are 1 to 53" "$npmu" dataset stat "${n53}x"
expect 0 "deleted dataset $n53" "$npmu" dataset rm "$n53"
# a shape whose k + m wraps around in 32 bits is refused, nothing made
expect 1 "error $((-1001)) " dsn wrap 1 open 4294967295 2
[ "$("$npmu" region ls | grep -c "^wrap\." || true)" = 0 ] || fail "a dataset of shape k 2^32-1 was made"

if [ "$fails" -ne 0 ]; then echo "dataset: $fails failure(s)"; exit 1; fi
echo "dataset: all checks passed"
