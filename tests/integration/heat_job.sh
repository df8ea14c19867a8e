# heat_job.sh -- sourced by dataset_mpi.sh and dataset_procs.sh (after units.sh), which define
#   launch NP LOG [ARGS...]   start a heat job of NP processes in the background, its output
#                             (stdout and stderr) in LOG, and set job_pid to its launcher
# and $prog (the program's name, which starts its lines). The scenario, on six units:
#   1. a job of 4 runs to the end without checkpoints: the reference grid;
#   2. a job of 4 is stopped in the checkpoint of iteration 120 once processes 0-1 put their
#      parts (2-3 have not), and killed there (SIGKILL of the launcher and of every process,
#      by pid) together with unit 2;
#   3. restarted on 3 processes with unit 2 still down (reads and puts degraded), it is stopped
#      in the checkpoint of iteration 200 after process 0's put and killed with unit 5;
#   4. units 2 and 5 restarted (their pools kept), the job restarted on 4 processes runs to the
#      end: its grid equals the reference bit for bit.
# A kill round counts as effective when the job stalled where asked (the stalled version had
# exactly the parts said put, and the others not), every process was dead before the restart,
# and the restart resumed from the version before the stalled one, at its label (so the stalled
# version, with some parts put, was not complete), then put the stalled version's number again.
# A round that proves less fails the test.

# A unit killed refuses connections at once, so long timeouts cost the kills nothing; they keep
# a unit slow under load (2 cores, tests beside) from being taken for down. (A put that pmmd
# took for failed while the unit created a member anyway left the part's set unusable: its
# member without a header fails every later put, stat and rebuild with NPMU_E_CORRUPT.)
export NPMU_IO_TIMEOUT_MS=${NPMU_IO_TIMEOUT_MS:-5000}

every=40
grid=(--rows 1000 --cols 600 --iters 400 --every $every --min-ranks 2)

# gone PID...: wait until none of them runs (a zombie counts as gone)
gone() {
  local p t
  for p in "$@"; do
    for t in $(seq 500); do
      case $(ps -o stat= -p "$p" 2>/dev/null || true) in ""|Z*) break ;; esac
      sleep 0.01
    done
    case $(ps -o stat= -p "$p" 2>/dev/null || true) in ""|Z*) ;; *) fail "pid $p still runs after SIGKILL" ;; esac
  done
}

# run_to_end NAME NP [ARGS...]: a job that must finish; its log is $dir/NAME.log, its grid NAME.grid
run_to_end() {
  local name=$1 np=$2 t0=$SECONDS; shift 2
  launch "$np" "$dir/$name.log" "${grid[@]}" --dataset heat --out "$dir/$name.grid" "$@"
  if ! wait "$job_pid"; then
    fail "$name: the job of $np failed:"; tail -20 "$dir/$name.log"; return 0
  fi
  grep -q "^$prog: final grid in" "$dir/$name.log" || fail "$name: no final grid: $(tail -5 "$dir/$name.log")"
  echo "$name: $np processes ran to the end in $((SECONDS - t0)) s"
}

# label_before LOG: the label of the newest version this run committed, else the one it resumed from
label_before() {
  local l
  l=$(grep -o "^$prog: checkpoint version [0-9]*: iteration [0-9]*" "$1" | tail -1 || true)
  [ -n "$l" ] || l=$(grep -o "^$prog: resuming from version [0-9]* (iteration [0-9]*" "$1" || true)
  echo "$(grep -o "version [0-9]*" <<<"$l" | cut -d' ' -f2 || true) $(grep -o "iteration [0-9]*" <<<"$l" | cut -d' ' -f2 || true)"
}

# stall_round NAME NP ITER PUTTERS UNIT: a job of dataset heat stalled in the checkpoint of ITER after
# PUTTERS processes put, killed there with unit UNIT. Sets stalled_version and complete_before
# ("VERSION LABEL" of the newest complete version when it was killed) for check_resume.
stall_round() {
  local name=$1 np=$2 iter=$3 putters=$4 unit=$5
  local log="$dir/$name.log" t0=$SECONDS
  : >"$log"
  HEAT_TEST_STALL=$iter:$putters launch "$np" "$log" "${grid[@]}" --dataset heat --out "$dir/$name.grid"
  round_ok=1
  while [ "$(grep -c "stalls at iteration $iter" "$log" || true)" -lt "$np" ]; do
    if ! kill -0 "$job_pid" 2>/dev/null || [ $((SECONDS - t0)) -gt 90 ]; then
      fail "$name: the job did not stall at iteration $iter:"; tail -20 "$log"; round_ok=0; break
    fi
    sleep 0.05
  done
  local procs
  procs=$(grep -o "(pid [0-9]*) stalls" "$log" | grep -o "[0-9]*" || true)
  local unit_pid=pid_$unit
  kill -9 "$job_pid" $procs "${!unit_pid}" 2>/dev/null || true
  wait "$job_pid" 2>/dev/null || true
  wait "${!unit_pid}" 2>/dev/null || true
  gone $procs
  local after before
  after=$(grep -c "stalls at iteration $iter after putting part [0-9]* of version [0-9]*: ok" "$log" || true)
  before=$(grep -c "stalls at iteration $iter before putting" "$log" || true)
  stalled_version=$(grep -o "stalls at iteration $iter .* of version [0-9]*" "$log" | grep -o "[0-9]*$" | sort -u | tr '\n' ' ' || true)
  stalled_version=${stalled_version% }
  complete_before=$(label_before "$log")
  if [ "$after" != "$putters" ] || [ "$before" != $((np - putters)) ]; then
    fail "$name: $after process(es) put and stalled, $before stalled before putting (want $putters and $((np - putters)))"
    round_ok=0
  fi
  if [ -z "$stalled_version" ] || [ "$stalled_version" != "$(($(cut -d' ' -f1 <<<"$complete_before") + 1))" ]; then
    fail "$name: the stalled version ($stalled_version) does not follow the newest complete one ($complete_before)"
    round_ok=0
  fi
  # at the units: the parts put hold the stalled version (in their part sets, NAME.pP, which
  # the dataset API shows only once a version is complete), the others do not
  local p holding=""
  for p in $(seq 0 $((np - 1))); do
    if "$npmu" --json stripe stat "heat.p$p" 2>/dev/null | grep -q "\"version\":$stalled_version,"; then
      holding+=" $p"
    fi
  done
  if [ "$holding" != "$(seq -s' ' -f' %g' 0 $((putters - 1)) | tr -s ' ')" ]; then
    fail "$name: parts holding version $stalled_version at the units:${holding:- none} (want 0..$((putters - 1)))"
    round_ok=0
  fi
  echo "$name: $np processes stalled in the checkpoint of iteration $iter (version $stalled_version," \
    "parts${holding} put and held at the units; newest complete: version ${complete_before% *}, iteration ${complete_before#* });" \
    "killed with unit $unit after $((SECONDS - t0)) s"
}

# check_resume NAME COMPLETE_BEFORE STALLED_VERSION: the run after a kill round resumed from the
# newest complete version then ("VERSION LABEL"; so the stalled one, with parts put, was not
# complete) at its label, and committed the stalled version's number at the next checkpoint.
# Returns 1 when it did not.
check_resume() {
  local log="$dir/$1.log" want_v=${2% *} want_l=${2#* } stalled=$3 ok=0
  if ! grep -q "^$prog: resuming from version $want_v (iteration $want_l," "$log"; then
    fail "$1: did not resume from version $want_v (iteration $want_l): $(grep -m1 "resuming\|no complete" "$log")"
    ok=1
  fi
  if ! grep -q "^$prog: checkpoint version $stalled: iteration $((want_l + every))$" "$log"; then
    fail "$1: did not commit version $stalled at iteration $((want_l + every)) after resuming"
    ok=1
  fi
  return $ok
}

effective=0
run_to_end reference 4 --every 0

stall_round round1 4 120 2 2
r1_ok=$round_ok r1_complete=$complete_before r1_stalled=$stalled_version
# unit 2 stays down: this run reads and puts degraded
stall_round round2 3 200 1 5
r2_ok=$round_ok r2_complete=$complete_before r2_stalled=$stalled_version
check_resume round2 "$r1_complete" "$r1_stalled" || r1_ok=0
degraded=$(grep -c "^$prog: checkpoint version" "$dir/round2.log" || true)
[ "$degraded" -ge 1 ] || fail "round2: no checkpoint committed with unit 2 down"
grep -q "writing without members.*degraded" "$dir/round2.log" ||
  fail "round2: no put said it went on degraded with unit 2 down"
grep -q "not committed" "$dir/round2.log" && fail "round2: a checkpoint failed with unit 2 down: $(grep -m3 "$prog:.*put\|commit" "$dir/round2.log")"
echo "round2: $degraded checkpoint(s) committed with unit 2 down (degraded puts)"

start_unit 2 "$(cat "$dir/u2.addr")"; start_unit 5 "$(cat "$dir/u5.addr")"
run_to_end final 4
check_resume final "$r2_complete" "$r2_stalled" || r2_ok=0
effective=$((r1_ok + r2_ok))
echo "kill rounds: $effective of 2 effective (each killed mid-checkpoint, resumed from the version before)"
[ "$effective" = 2 ] || fail "a kill round proved nothing (round 1: $r1_ok, round 2: $r2_ok)"

if cmp "$dir/reference.grid" "$dir/final.grid"; then
  echo "final grid after two kill rounds (4, 3, 4 processes) equals the reference bit for bit:" \
    "$(grep -o "checksum [0-9a-f]*" "$dir/final.log")"
else
  fail "the final grid differs from the reference ($(grep -o "checksum [0-9a-f]*" "$dir/reference.log"), $(grep -o "checksum [0-9a-f]*" "$dir/final.log"))"
fi
if [ "$fails" -ne 0 ]; then
  for l in reference round1 round2 final; do
    echo "--- $l.log (warnings and failures)"
    grep -E "warn|error|fail|not committed|resuming|no complete" "$dir/$l.log" | head -n 12 || true
  done
  echo "$fails check(s) failed"; exit 1
fi
echo "all checks passed"
