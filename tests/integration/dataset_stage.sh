#!/usr/bin/env bash
# dataset_stage.sh -- a job's checkpoints staged and protected in the background (seed 004
# claims 11-12 for datasets: npmu_dataset_stage, dataset_format.h D3), with examples/procs_heat.c
# on six member units and a seventh holding the staging regions (pmmd, loopback). Shown:
#   A. a job of 4 stages every checkpoint and commits it at once; npmu-encoder protects them.
#      The encoder is SIGKILLed after it protected some (effective: it had, and versions then
#      waited for an encoder), a second one protects the rest; every (part, version) is
#      protected exactly once, and every complete version ends protected. The job is stopped
#      in a checkpoint whose parts were staged but not committed, and killed.
#   B. restarted on 3 processes (no encoder), the job resumes from the newest complete version;
#      the stalled version's parts, staged already, are put again synchronously (G5); the next
#      version is committed staged only, and shown so. The job and the staging unit are killed:
#      that version is reported lost, and a restore passes over it to the one before.
#   C. restarted on 4 processes with the staging unit still down, the job resumes from that
#      version, puts synchronously (its staging does not answer) and runs to the end: its grid
#      equals a job's that never failed, bit for bit. The staging unit back, an encoder finds
#      nothing of the dead staging to protect over the newer versions.
set -euo pipefail
build=$1
here=$(dirname "$0")
. "$here/units.sh"
prog=procs_heat
heat="$build/tests/procs_heat"
encoder="$build/npmu-encoder"
export NPMU_IO_TIMEOUT_MS=${NPMU_IO_TIMEOUT_MS:-5000}
grid=(--rows 1000 --cols 600 --iters 400 --every 40 --min-ranks 2 --dataset heat)

NUNITS=7 UNIT_TIMEOUT_MS=5000 start_units
stage_unit=$(cat "$dir/u7.addr")
start_encoder() { # start_encoder N: npmu-encoder N, its log in enc.N.log
  "$encoder" --rescan 100 --interval 20 --verbose 2>>"$dir/enc.$1.log" &
  pids+=($!); eval "enc_$1=$!"
}
# state V: the state npmu dataset stat gives complete version V ("" when not listed)
state() {
  "$npmu" --json dataset stat heat 2>/dev/null | tr '{' '\n' | grep "\"version\":$1," |
    sed -n 's/.*"state":"\([a-z]*\)".*/\1/p' || true
}
# wait_for SECONDS CMD...: until CMD succeeds
wait_for() { local t=$1; shift; for _ in $(seq $((t * 20))); do "$@" && return 0; sleep 0.05; done; return 1; }
any_staged() { "$npmu" --json dataset stat heat 2>/dev/null | grep -q '"state":"staged"'; }
# stall NAME NP ITER PUTTERS [ARGS]: a job stalled in the checkpoint of ITER after PUTTERS put
stall() {
  local name=$1 np=$2 iter=$3 putters=$4; shift 4
  HEAT_TEST_STALL=$iter:$putters "$heat" "$np" "${grid[@]}" --out "$dir/$name.grid" "$@" \
    >"$dir/$name.log" 2>&1 &
  job_pid=$!
}
stalled() { [ "$(grep -c "stalls at iteration $1" "$2" || true)" -ge "$3" ]; }
kill_job() { # kill_job LOG: the launcher and every stalled process
  local procs
  procs=$(grep -o "(pid [0-9]*) stalls" "$1" | grep -o "[0-9]*" || true)
  kill -9 "$job_pid" $procs 2>/dev/null || true
  wait "$job_pid" 2>/dev/null || true
}

"$heat" 4 "${grid[@]}" --every 0 --dataset ref --out "$dir/reference.grid" >"$dir/reference.log" 2>&1 ||
  { fail "the reference job failed: $(tail -3 "$dir/reference.log")"; exit 1; }

# a version whose part is only staged (no encoder yet): stat says so, not that the part is lost
head -c 100000 /dev/urandom > "$dir/solo.bin"
"$build/tests/dataset_tool" "$NPMU_SERVER" solo 1 put 1 0 "$dir/solo.bin" staged >/dev/null &&
  "$build/tests/dataset_tool" "$NPMU_SERVER" solo 1 commit 1 1 >/dev/null || fail "solo: staged put or commit failed"
out=$("$npmu" dataset stat solo 2>&1) || true
grep -q "part 0: staged only, not yet in its units" <<<"$out" && ! grep -q DEGRADED <<<"$out" ||
  fail "stat of a part only staged: $out"
"$npmu" dataset rm solo >/dev/null || fail "solo: not deleted"

# --- A: staged checkpoints, an encoder killed, a second one finishing ---
start_encoder 1
stall a 4 280 4 --staged --stage-unit "$stage_unit"
wait_for 60 grep -q "staged version [0-9]* protected" "$dir/enc.1.log" ||
  fail "A: the first encoder protected nothing in 60 s"
kill -9 "$enc_1"; wait "$enc_1" 2>/dev/null || true
before=$(grep -c "staged version [0-9]* protected" "$dir/enc.1.log" || true)
a_ok=1
if wait_for 30 any_staged; then
  echo "A: encoder 1 SIGKILLed after protecting $before part version(s); then versions waited, staged"
else
  fail "A: after the encoder's kill no complete version waited staged: the kill proved nothing"; a_ok=0
fi
start_encoder 2
wait_for 90 stalled 280 "$dir/a.log" 4 || fail "A: the job did not stall at iteration 280: $(tail -3 "$dir/a.log")"
committed=$(grep -o "^$prog: checkpoint version [0-9]*" "$dir/a.log" | grep -o "[0-9]*$" | tr '\n' ' ')
newest=$(wc -w <<<"$committed")
[ "$newest" = 6 ] || fail "A: versions committed before the stall: $committed (want 1-6)"
kept=$("$npmu" --json dataset stat heat | tr '{' '\n' | sed -n 's/^"version":\([0-9]*\),.*/\1/p' | tr '\n' ' ')
[ "$kept" = "6 5 " ] || fail "A: versions kept: $kept (want 6 5)"
for v in $kept; do
  "$npmu" dataset wait heat --version "$v" --timeout 60000 >/dev/null || fail "A: complete version $v never protected"
  [ "$(state "$v")" = protected ] || fail "A: version $v is $(state "$v"), not protected"
done
sleep 0.5 # (the encoders protect the stalled, uncommitted version too)
for v in $committed; do
  for p in 0 1 2 3; do
    n=$(cat "$dir"/enc.*.log | grep -c "stripe heat\.p$p: staged version $v protected" || true)
    [ "$n" = 1 ] || fail "A: part $p of version $v protected $n time(s), not once"
  done
done
after=$(grep -c "staged version [0-9]* protected" "$dir/enc.2.log" || true)
[ "$after" -ge 1 ] || { fail "A: the second encoder protected nothing"; a_ok=0; }
echo "A: every part of versions $committed protected exactly once ($before by encoder 1, $after by encoder 2); kept versions $kept protected"
kill_job "$dir/a.log"
kill -TERM "$enc_2"; wait "$enc_2" 2>/dev/null || true

# --- B: a restart re-puts the stalled version; a staged-only version lost with its unit ---
NPMU_LOG=info stall b 3 360 0 --staged --stage-unit "$stage_unit"
wait_for 90 stalled 360 "$dir/b.log" 3 || fail "B: the job did not stall at iteration 360: $(tail -3 "$dir/b.log")"
grep -q "^$prog: resuming from version 6 (iteration 240" "$dir/b.log" ||
  fail "B: did not resume from version 6: $(grep -m1 "resuming\|no complete" "$dir/b.log")"
grep -q "holds version 7 or a newer one already (a restarted job): put synchronously" "$dir/b.log" ||
  fail "B: the stalled version 7 was not put again synchronously"
grep -q "^$prog: checkpoint version 8: iteration 320$" "$dir/b.log" || fail "B: version 8 not committed"
b_ok=1
[ "$(state 7)" = protected ] || { fail "B: version 7 is $(state 7), not protected"; b_ok=0; }
[ "$(state 8)" = staged ] || { fail "B: version 8 is $(state 8), not staged"; b_ok=0; }
expect 1 "still staged" "$npmu" dataset wait heat --version 8 --timeout 0
kill_job "$dir/b.log"
kill_unit 7
[ "$(state 8)" = lost ] || { fail "B: version 8 is $(state 8) with its staging unit down, not lost"; b_ok=0; }
expect 1 "is lost" "$npmu" dataset wait heat --version 8 --timeout 0
out=$("$npmu" --json dataset get heat 1 "$dir/p1.bin" 2>&1) || fail "B: dataset get with version 8 lost: $out"
grep -q '"version":7' <<<"$out" || { fail "B: the restore did not pass over version 8 to 7: $out"; b_ok=0; }
echo "B: version 7 put again synchronously and protected; version 8 committed staged, then lost with" \
  "its staging unit; a restore took version 7"

# --- C: the staging unit still down: resumed from 7, synchronous puts, to the end ---
"$heat" 4 "${grid[@]}" --out "$dir/final.grid" --staged --stage-unit "$stage_unit" >"$dir/final.log" 2>&1 ||
  fail "C: the job failed: $(grep -v "^procs_heat: checkpoint" "$dir/final.log" | tail -5)"
grep -q "^$prog: resuming from version 7 (iteration 280" "$dir/final.log" ||
  fail "C: did not resume from version 7: $(grep -m1 "resuming\|no complete" "$dir/final.log")"
grep -q "complete version 8 is lost.*unlisted" "$dir/final.log" || fail "C: version 8 was not said lost and unlisted"
grep -q "^$prog: checkpoint version 8: iteration 320$" "$dir/final.log" || fail "C: version 8 not committed again after 7"
grep -q "its staging cannot be written (.*): version [0-9]* put synchronously" "$dir/final.log" ||
  fail "C: no put said its staging could not be written"
if cmp -s "$dir/reference.grid" "$dir/final.grid"; then
  echo "C: resumed from version 7, put synchronously with the staging unit down; final grid equals the reference bit for bit"
else
  fail "C: the final grid differs from the reference"
fi
back_unit 7
start_encoder 3
newest=$("$npmu" --json dataset ls | sed -n 's/.*"version":\([0-9]*\).*/\1/p' | head -1)
"$npmu" dataset wait heat --timeout 30000 >/dev/null || fail "C: the newest version ($newest) is not protected"
sleep 1
grep -q "staged version 8 protected" "$dir/enc.3.log" && fail "C: the dead staging's version 8 was protected over the newer one"
effective=$((a_ok + b_ok))
echo "rounds: $effective of 2 effective (A: an encoder killed with work left; B: a staged version lost with its unit)"
[ "$effective" = 2 ] || fail "a round proved nothing"
if [ "$fails" -ne 0 ]; then
  for l in a b final enc.1 enc.2 enc.3 pmmd; do
    echo "--- $l.log"; grep -iE "warn|error|fail|resuming|lost" "$dir/$l.log" | head -n 12 || true
  done
  echo "$fails check(s) failed"; exit 1
fi
echo "all checks passed"
