#!/usr/bin/env bash
# fault.sh -- fault injection across hosts, on a schedule drawn from a seed, with a checker; then
# the crash-image tests. `make fault` runs it; `make soak` runs the schedule for a given time.
#
#   tests/fault/fault.sh BUILD [--seed N] [--runs N | --seconds S] [--kind KIND]
#
# Hosts are network namespaces on a bridge (198.18.5.0/24): two units in two fault domains and a
# pmmd managing them, a primary's host and a backup's, a unit with its embedded manager (em), and
# a hostile host (fl). Most runs create a mirrored checkpoint stream, start the demo's primary (a
# key-value store committing every update) and a backup following it, inject one fault, chosen
# with its timing from the seed, and end with the primary killed and the backup taking over:
#   kill-primary     SIGKILL of the primary
#   stop-primary     SIGSTOP of the primary; SIGCONT once the backup took over
#   cut-primary      the primary's link down; up again once the backup took over
#   kill-unit        SIGKILL of a unit under the running primary (restarted later)
#   cut-unit         a unit's link down for a while under the running primary
#   netem            loss and delay on the primary's link for a while (tc netem, else nftables'
#                    random drop and a tbf rate limit)
#   asym-partition   the primary loses its route to one unit while pmmd and the backup keep
#                    theirs; in half the runs the unit it still reaches then dies too
#   kill-manager     pmmd killed and started again on its address 1-5 s later, under the pair
#   restart-embedded the pair on the embedded manager's unit (em), npmud killed and started
#                    again 1-5 s later
#   handshake-flood  a host floods pmmd with handshakes it never finishes while the pair runs
#                    and a client on another host asks pmmd again and again
#   heavy-load       three more pairs committing 16 MiB states on the primary's host
#   crash-loop       80 primaries on one stream, each killed after committing, with a backup
#                    killed every fourth round; then a backup takes over
#   stage-encoder    a writer stages versions of a mirrored set (staging on u1) while two
#                    npmu-encoders (on the backup's and the hostile host) protect them; the one
#                    encoding is SIGKILLed, or SIGSTOPped and continued once the writer is done
#   stage-dataset    a job stages and commits versions of a dataset of two parts (1+1 over u1
#                    and u2, staging on u1) while two encoders protect them; the encoder that
#                    starts a part is SIGKILLed, or the staging unit u1 is SIGKILLed while a
#                    committed version waits there and started again 1-3 s later (the job puts
#                    synchronously meanwhile)
# The checker counts, per kind: commits acknowledged (stage-encoder: versions staged;
# stage-dataset: versions committed); lost (acknowledged, missing after the takeover;
# stage-encoder and stage-dataset: a version never protected, or a kept one not restorable);
# torn (a recovered state other than a failure-free run's, or a version restored other than the
# bytes staged or put); two writers (an old
# primary committing after a takeover, a stream changed after the backup finished, a backup
# taking over from a live primary); locked out (a client refused or stopped by a fault that
# took nobody's place: a manager restart, a flood, load, a crash loop); effective rounds (the
# fault struck while the primary was committing, or the pair went on through it). Any lost,
# torn, two-writer or locked-out event, and any round that proved nothing, is a violation.
# The same seed replays the same schedule. Needs root and iproute2; exits 77 without them.
set -euo pipefail
build=$(cd "${1:?usage: fault.sh BUILD [--seed N] [--runs N | --seconds S]}" && pwd)
shift
seed=$(( $(date +%s) % 100000 )); runs=14; seconds=0; only=""
logs=${FAULT_LOGS:-$build/fault-logs}   # the logs of runs with a violation are kept here
while [ $# -gt 0 ]; do
  case $1 in
    --seed) seed=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --seconds) seconds=$2; runs=0; shift 2 ;;
    --kind) only=$2; shift 2 ;;
    -h|--help) sed -n '2,42p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "fault.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../integration/netns.sh"
netns_usable || { echo "skipped: needs root and ip netns"; exit 77; }
RANDOM=$seed
dir=$(mktemp -d /tmp/npmu-fault-XXXXXX)
hosts=(u1 u2 pm pri bak fl em)
pids=()
trap netns_teardown EXIT
netns_up nf 198.18.5 "${hosts[@]}"
npmu="$build/npmu"; demo="$build/npmu-demo"
tool() { if [ -x "$build/tests/$1" ]; then echo "$build/tests/$1"; else echo "$build/$1"; fi; }
flood=$(tool flood); loader=$(tool loader); dstool=$(tool dataset_tool)
wait_file() { for _ in $(seq 1000); do [ -s "$1" ] && return 0; sleep 0.01; done; echo "fault: $1 never written"; exit 1; }
wait_exit() { for _ in $(seq $(($2 * 20))); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.05; done; return 1; }
acks_of() { [ -f "$1" ] && echo $(( $(stat -c %s "$1") / 8 )) || echo 0; }

"$npmu" keygen "$dir/cluster.key" >/dev/null
"$npmu" keygen "$dir/app.key" >/dev/null
printf 'principal app\nkey-file %s\n' "$dir/app.key" > "$dir/app.cred"; chmod 600 "$dir/app.cred"
printf 'principal app file %s\nallow app create,write *\n' "$dir/app.key" > "$dir/pmmd.cred"
chmod 600 "$dir/pmmd.cred"
start_unit() { # start_unit HOST (its pool kept across restarts)
  local ip=ip_$1
  rm -f "$dir/$1.addr"
  exec_on_bg "$1" "$build/npmud" --pool "$dir/$1.pool" --size 256M --listen "${!ip}:7411" \
    --addr-file "$dir/$1.addr" --no-manager --cluster-key "$dir/cluster.key" 2>>"$dir/$1.log"
  eval "pid_$1=$!"; pids+=($!)
  wait_file "$dir/$1.addr"
}
start_pmmd() {
  rm -f "$dir/pm.addr"
  exec_on_bg pm "$build/pmmd" --cluster-key "$dir/cluster.key" --unit "$ip_u1:7411@rackA" \
    --unit "$ip_u2:7411@rackB" --unit-timeout 500 --credentials "$dir/pmmd.cred" \
    --listen "$ip_pm:7410" --addr-file "$dir/pm.addr" 2>>"$dir/pm.log"
  pid_pm=$!; pids+=($!)
  wait_file "$dir/pm.addr"
}
start_em() { # a unit with its embedded manager, authenticated clients only
  rm -f "$dir/em.addr"
  exec_on_bg em "$build/npmud" --pool "$dir/em.pool" --size 128M --listen "$ip_em:7411" \
    --addr-file "$dir/em.addr" --credentials "$dir/pmmd.cred" 2>>"$dir/em.log"
  pid_em=$!; pids+=($!)
  wait_file "$dir/em.addr"
}
start_unit u1; start_unit u2; start_pmmd; start_em
export NPMU_SERVER=$ip_pm:7410 NPMU_CREDENTIALS=$dir/app.cred NPMU_LEASE_MS=1500

kinds=(kill-primary stop-primary cut-primary kill-unit cut-unit netem asym-partition kill-manager
       restart-embedded handshake-flood heavy-load crash-loop stage-encoder stage-dataset)
declare -A n_runs n_faults n_acks n_lost n_torn n_two n_locked n_eff n_viol
for k in "${kinds[@]}"; do
  n_runs[$k]=0; n_faults[$k]=0; n_acks[$k]=0; n_lost[$k]=0; n_torn[$k]=0; n_two[$k]=0
  n_locked[$k]=0; n_eff[$k]=0; n_viol[$k]=0
done
# how the netem kind degrades a link: tc netem, else nftables loss + tbf delay, else not at all
netem_ok=0; netem_how=none
if on pri tc qdisc add dev eth0 root netem delay 1ms 2>/dev/null; then
  on pri tc qdisc del dev eth0 root 2>/dev/null || true; netem_ok=1; netem_how=netem
elif command -v nft >/dev/null && on pri nft add table inet npmu_fault 2>/dev/null &&
     on pri tc qdisc add dev eth0 root tbf rate 100mbit burst 64kb latency 50ms 2>/dev/null; then
  on pri nft delete table inet npmu_fault; on pri tc qdisc del dev eth0 root
  netem_ok=1; netem_how=nft+tbf
fi
# degrade_link HOST LOSS% -- make HOST's link lossy and slow (undo with restore_link HOST)
degrade_link() {
  if [ "$netem_how" = netem ]; then
    on "$1" tc qdisc add dev eth0 root netem delay $((1 + RANDOM % 20))ms loss "$2"%
  else
    on "$1" nft add table inet npmu_fault
    on "$1" nft add chain inet npmu_fault out '{ type filter hook output priority 0; }'
    on "$1" nft add chain inet npmu_fault in '{ type filter hook input priority 0; }'
    on "$1" nft add rule inet npmu_fault out numgen random mod 100 '<' "$2" drop
    on "$1" nft add rule inet npmu_fault in numgen random mod 100 '<' "$2" drop
    on "$1" tc qdisc add dev eth0 root tbf rate $((2 + RANDOM % 20))mbit burst 32kb latency 200ms
  fi
}
restore_link() {
  on "$1" tc qdisc del dev eth0 root 2>/dev/null || true
  [ "$netem_how" = netem ] || on "$1" nft delete table inet npmu_fault 2>/dev/null || true
}
# violation KIND CLASS WHAT -- count it (CLASS: lost, torn, two, locked, vacuous, other) and keep
# the run's logs
violation() {
  echo "  VIOLATION ($1, $2): $3"; n_viol[$1]=$((n_viol[$1] + 1))
  case $2 in
    lost) n_lost[$1]=$((n_lost[$1] + 1)) ;; torn) n_torn[$1]=$((n_torn[$1] + 1)) ;;
    two) n_two[$1]=$((n_two[$1] + 1)) ;; locked) n_locked[$1]=$((n_locked[$1] + 1)) ;;
  esac
  mkdir -p "$logs/seed$seed-run$i"
  echo "seed $seed run $i: VIOLATION ($1, $2): $3" >> "$logs/violations.txt"
  cp "$dir"/*.out "$dir"/*.log "$logs/seed$seed-run$i/" 2>/dev/null || true
}

# both_units_up -- wait (10 s at most) until pmmd sees both units
both_units_up() {
  for _ in $(seq 100); do
    [ "$(NETNS_ON_TIMEOUT=5 on pri "$npmu" unit ls 2>/dev/null | grep -c ' up ')" = 2 ] && return 0
    sleep 0.1
  done
  return 1
}
# grows FILE COUNT SECONDS -- wait until FILE holds more than COUNT acknowledgements
grows() { for _ in $(seq $(($3 * 20))); do [ "$(acks_of "$1")" -gt "$2" ] && return 0; sleep 0.05; done; return 1; }

# start_pair STREAM [SERVER] -- a mirrored stream (through pmmd) or a plain one (on em), its
# primary and its backup; sets primary, backup
start_pair() {
  local s=$1 server=${2:-$NPMU_SERVER} mirror=--mirror
  [ "$server" = "$NPMU_SERVER" ] || mirror=""
  rm -f "$dir/acks" "$dir/cut"
  if ! NPMU_SERVER=$server NETNS_ON_TIMEOUT=30 on pri "$demo" create "$s" $mirror > "$dir/create.out" 2>&1; then
    violation "$kind" other "create: $(tail -1 "$dir/create.out")"; return 1
  fi
  NPMU_SERVER=$server exec_on_bg pri "$demo" primary "$s" 2000000 "$dir/acks" > "$dir/primary.out" 2>&1
  primary=$!; pids+=($primary)
  wait_file "$dir/acks"
  NPMU_SERVER=$server exec_on_bg bak "$demo" backup "$s" "+3000" 20 "$dir/acks" "$dir/cut" > "$dir/backup.out" 2>&1
  backup=$!; pids+=($backup)
}
# finish_pair KIND STREAM [SERVER] [OLD_ALIVE] -- the backup finishes (it took over, or the
# primary is killed now); count and check what it recovered
finish_pair() {
  local kind=$1 s=$2 server=${3:-$NPMU_SERVER} old_alive=${4:-0} lost steps stat brc=0
  if [ -n "$primary" ] && kill -0 "$primary" 2>/dev/null && [ "$old_alive" = 0 ]; then
    [ -s "$dir/cut" ] || date +%s.%N > "$dir/cut"
    kill -9 "$primary"
  fi
  if ! wait_exit "$backup" 120; then
    violation "$kind" locked "the backup did not finish in 120 s: $(tail -2 "$dir/backup.out")"
    kill -9 "$backup"
  fi
  wait "$backup" || brc=$?
  n_acks[$kind]=$((n_acks[$kind] + $(acks_of "$dir/acks")))
  lost=$(sed -n 's/.* \([0-9]*\) committed update(s) lost.*/\1/p' "$dir/backup.out")
  [ "${lost:-x}" = 0 ] || violation "$kind" lost "committed updates lost: ${lost:-?} ($(tail -2 "$dir/backup.out"))"
  [ "$brc" = 0 ] && grep -q EQUAL "$dir/backup.out" || violation "$kind" torn "recovered state torn or backup failed: $(tail -2 "$dir/backup.out")"
  if [ "$old_alive" = 1 ]; then
    if ! wait_exit "$primary" 60; then violation "$kind" two "the old primary still runs"; kill -9 "$primary"; fi
    grep -q fenced "$dir/primary.out" || violation "$kind" two "old primary not fenced: $(tail -1 "$dir/primary.out")"
  fi
  [ -z "$primary" ] || wait "$primary" 2>/dev/null || true
  steps=$(sed -n 's/backup: finished \([0-9]*\) steps.*/\1/p' "$dir/backup.out")
  stat=$(NPMU_SERVER=$server NETNS_ON_TIMEOUT=30 on bak "$npmu" --json ckpt stat "$s" 2>&1 || true)
  grep -q "\"seq\":${steps:-x}," <<<"$stat" || violation "$kind" two "stream changed after the backup finished: $stat"
  # the stream is not needed any more: a long soak must not fill the units
  NPMU_SERVER=$server NETNS_ON_TIMEOUT=30 on bak "$npmu" region rm "$s" > /dev/null 2>&1 || true
  NPMU_SERVER=$server NETNS_ON_TIMEOUT=30 on bak "$npmu" region rm "$s.cursor" > /dev/null 2>&1 || true
}
# alive_pair KIND WHAT -- after a fault that took nobody's place: the primary still commits and
# the backup has not taken over
alive_pair() {
  local before; before=$(acks_of "$dir/acks")
  if ! kill -0 "$primary" 2>/dev/null; then
    violation "$1" locked "the primary ended after $2: $(grep -v '^primary: step' "$dir/primary.out" | tail -2)"; return 1
  fi
  if grep -q "took over" "$dir/backup.out"; then
    violation "$1" two "the backup took over from a live primary after $2"; return 1
  fi
  grows "$dir/acks" "$before" 20 || { violation "$1" locked "the primary stopped committing after $2"; return 1; }
  return 0
}

# pair_run N KIND -- one pair, one fault, checked
pair_run() {
  local i=$1 kind=$2 s=ckpt.f$1 unit delay a0 old_alive=0 other
  delay=$(printf '0.%d' $((3 + RANDOM % 7)))   # 0.3-0.9 s into the run
  unit=$((1 + RANDOM % 2))
  both_units_up || { violation "$kind" other "the units did not come back"; return; }
  start_pair "$s" || return
  sleep "$delay"
  n_runs[$kind]=$((n_runs[$kind] + 1))
  a0=$(acks_of "$dir/acks")
  local effective=0
  case $kind in
    kill-primary) date +%s.%N > "$dir/cut"; kill -9 "$primary" && effective=1 ;;
    stop-primary) date +%s.%N > "$dir/cut"; kill -STOP "$primary" && effective=1; old_alive=1 ;;
    cut-primary)  date +%s.%N > "$dir/cut"; link pri down; old_alive=1; effective=1 ;;
    kill-unit)
      local up=pid_u$unit
      kill -9 "${!up}"; sleep 0.$((2 + RANDOM % 6))
      grows "$dir/acks" "$a0" 10 && effective=1   # committing on, degraded
      date +%s.%N > "$dir/cut"; kill -9 "$primary" ;;
    cut-unit)
      link "u$unit" down; sleep 0.$((5 + RANDOM % 5)); link "u$unit" up
      sleep 0.$((1 + RANDOM % 5))
      grows "$dir/acks" "$a0" 10 && effective=1
      date +%s.%N > "$dir/cut"; kill -9 "$primary" ;;
    netem)
      degrade_link pri $((1 + RANDOM % 5))
      sleep 1.$((RANDOM % 10))
      grows "$dir/acks" "$a0" 10 && effective=1
      date +%s.%N > "$dir/cut"; kill -9 "$primary"; restore_link pri ;;
    asym-partition)
      other=$((3 - unit))
      local ipu=ip_u$unit
      on pri ip route add unreachable "${!ipu}/32"   # the primary loses u$unit; pmmd does not
      sleep 1.$((RANDOM % 10))
      grows "$dir/acks" "$(acks_of "$dir/acks")" 10 && effective=1   # committing on, degraded
      date +%s.%N > "$dir/cut"; kill -9 "$primary"
      if [ $((RANDOM % 2)) = 0 ]; then
        # the only copy the primary wrote dies too: the backup must wait for it, never take
        # over from the copy that missed the commits
        local op=pid_u$other
        kill -9 "${!op}"; wait "${!op}" 2>/dev/null || true
        sleep 3
        grep -q "took over" "$dir/backup.out" && violation "$kind" lost "the backup took over from the copy that missed the commits"
        start_unit "u$other"
      fi
      on pri ip route del unreachable "${!ipu}/32" ;;
    kill-manager)
      kill -9 "$pid_pm"; wait "$pid_pm" 2>/dev/null || true
      sleep $((1 + RANDOM % 5))
      start_pmmd
      alive_pair "$kind" "pmmd's restart" && effective=1 ;;
    handshake-flood)
      exec_on_bg fl "$flood" "$ip_pm:7410" 4 > "$dir/flood.out" 2>&1
      local fpid=$! served=0
      sleep 0.5
      for _ in $(seq 5); do
        NETNS_ON_TIMEOUT=10 on bak "$npmu" region ls > /dev/null 2>&1 && served=$((served + 1)); sleep 0.4
      done
      wait "$fpid" || true
      [ "$served" = 5 ] || violation "$kind" locked "a client was refused during the flood: $served of 5 served"
      alive_pair "$kind" "the flood" && grep -qE "flood: [1-9][0-9]* handshakes opened" "$dir/flood.out" && effective=1 ;;
    heavy-load)
      local lpids=() k
      for k in 1 2 3; do
        LOADER_MIRROR=1 exec_on_bg pri "$loader" "load$i.$k" 16M 6 > "$dir/load$k.out" 2>&1; lpids+=($!)
      done
      local ok=1
      for k in 0 1 2; do wait "${lpids[$k]}" || { ok=0; violation "$kind" locked "a loaded pair was fenced or taken over: $(cat "$dir/load$((k + 1)).out")"; }; done
      alive_pair "$kind" "heavy load" && [ "$ok" = 1 ] && effective=1 ;;
  esac
  n_faults[$kind]=$((n_faults[$kind] + 1))
  case $kind in stop-primary|cut-primary)
    # the backup takes over; then the old primary comes back while it still retries: fenced
    for _ in $(seq 1200); do grep -q "took over" "$dir/backup.out" && break; sleep 0.05; done
    [ "$kind" = stop-primary ] && kill -CONT "$primary"
    [ "$kind" = cut-primary ] && link pri up ;;
  esac
  finish_pair "$kind" "$s" "$NPMU_SERVER" "$old_alive"
  [ "$kind" = kill-unit ] && start_unit "u$unit"
  [ "$effective" = 1 ] && n_eff[$kind]=$((n_eff[$kind] + 1)) || violation "$kind" vacuous "the fault proved nothing (the primary was not committing through it)"
  both_units_up || true
  printf '  run %3d %-16s fault at %ss: %s\n' "$i" "$kind" "$delay" \
    "$(grep -o 'took over at step [0-9]*' "$dir/backup.out" || echo 'no takeover')"
}

# embedded_run N -- a pair on the embedded manager's unit; npmud restarted under it
embedded_run() {
  local i=$1 kind=restart-embedded s=ckpt.e$1 server="$ip_em:7411" effective=0
  start_pair "$s" "$server" || return
  sleep 0.5
  n_runs[$kind]=$((n_runs[$kind] + 1))
  kill -9 "$pid_em"; wait "$pid_em" 2>/dev/null || true
  sleep $((1 + RANDOM % 5))
  start_em
  n_faults[$kind]=$((n_faults[$kind] + 1))
  alive_pair "$kind" "npmud's restart" && effective=1
  finish_pair "$kind" "$s" "$server"
  [ "$effective" = 1 ] && n_eff[$kind]=$((n_eff[$kind] + 1)) || violation "$kind" vacuous "the pair did not go on through the restart"
  printf '  run %3d %-16s %s\n' "$i" "$kind" "$(grep -o 'took over at step [0-9]*' "$dir/backup.out" || echo 'no takeover')"
}

# crash_run N -- a crash loop of primaries (and backups) on one stream, then a takeover
crash_run() {
  local i=$1 kind=crash-loop s=ckpt.c$1 rounds=80 r a0 p b eff=0
  both_units_up || { violation "$kind" other "the units did not come back"; return; }
  rm -f "$dir/acks" "$dir/cut"
  NETNS_ON_TIMEOUT=30 on pri "$demo" create "$s" --mirror > "$dir/create.out" 2>&1 || { violation "$kind" other "create"; return; }
  n_runs[$kind]=$((n_runs[$kind] + 1))
  for r in $(seq $rounds); do
    a0=$(acks_of "$dir/acks")
    NPMU_LEASE_MS=300 exec_on_bg pri "$demo" primary "$s" 2000000 "$dir/acks" > "$dir/primary.out" 2>&1
    p=$!
    if [ $((r % 4)) = 0 ]; then   # a backup too, killed while it follows
      exec_on_bg bak "$demo" backup "$s" "+1" 20 "$dir/acks" /dev/null > "$dir/backup.out" 2>&1; b=$!
    else b=""; fi
    if grows "$dir/acks" "$a0" 30; then eff=$((eff + 1)); else
      violation "$kind" locked "round $r: the primary never committed: $(grep -v '^primary: step' "$dir/primary.out" | tail -2)"
    fi
    sleep 0.0$((RANDOM % 10))
    kill -9 "$p" $b 2>/dev/null || true
    wait "$p" $b 2>/dev/null || true
  done
  n_faults[$kind]=$((n_faults[$kind] + rounds))
  n_eff[$kind]=$((n_eff[$kind] + eff))
  [ "$eff" = "$rounds" ] || violation "$kind" vacuous "$((rounds - eff)) of $rounds rounds proved nothing"
  exec_on_bg bak "$demo" backup "$s" "+1000" 20 "$dir/acks" /dev/null > "$dir/backup.out" 2>&1
  backup=$!; primary=""
  finish_pair "$kind" "$s"
  printf '  run %3d %-16s %d primaries and %d backups killed, %d effective; %s\n' "$i" "$kind" \
    "$rounds" $((rounds / 4)) "$eff" "$(grep -o 'took over at step [0-9]*' "$dir/backup.out" || echo 'no takeover')"
}

# stage_run N -- a writer stages versions while two encoders protect them; the one encoding is
# killed (or stopped, and continued at the end: it must change nothing); every version staged
# must end protected, and the versions kept restore to the bytes staged
stage_run() {
  local i=$1 kind=stage-encoder s=stg.f$1 nv=8 v e victim how eff=0 lost=0 torn=0 enc=()
  both_units_up || { violation "$kind" other "the units did not come back"; return; }
  n_runs[$kind]=$((n_runs[$kind] + 1))
  for v in $(seq $nv); do head -c $((25165824 + RANDOM * 16)) /dev/urandom > "$dir/stg$v"; done
  for e in bak fl; do
    : > "$dir/enc-$e.log"
    exec_on_bg "$e" "$build/npmu-encoder" --set "$s" --rescan 100 --verbose 2>>"$dir/enc-$e.log"
    enc+=($!); pids+=($!)
  done
  ( for v in $(seq $nv); do
      NETNS_ON_TIMEOUT=60 on pri "$npmu" --json stripe put "$s" "$dir/stg$v" --staged --mirror --n 2 \
        --capacity 32M --stage-unit "$ip_u1:7411" --wait 60000 || exit 1
    done ) > "$dir/stager.out" 2>&1 &
  local stager=$!
  # the fault: whichever encoder first logs that it starts a version's put (or, in half the runs,
  # has written a quarter of it) is struck at once
  local at="encoding staged version"
  [ $((RANDOM % 2)) = 0 ] || at="version in hand 25% written"
  for _ in $(seq 1500); do
    victim=""
    for e in 0 1; do grep -q "$at" "$dir/enc-$([ $e = 0 ] && echo bak || echo fl).log" && victim=$e; done
    [ -n "$victim" ] && break; sleep 0.01
  done
  how=$([ $((RANDOM % 2)) = 0 ] && echo KILL || echo STOP)
  if [ -n "$victim" ]; then
    kill -"$how" "${enc[$victim]}"
    # effective: the victim was encoding a version it had not finished when struck
    local last; last=$(grep -o "encoding staged version [0-9]*" "$dir/enc-$([ $victim = 0 ] && echo bak || echo fl).log" | tail -1 | grep -o "[0-9]*$")
    grep -q "staged version $last protected" "$dir/enc-$([ $victim = 0 ] && echo bak || echo fl).log" || eff=1
  fi
  n_faults[$kind]=$((n_faults[$kind] + 1))
  wait "$stager" || violation "$kind" locked "the writer could not stage: $(tail -2 "$dir/stager.out")"
  local staged; staged=$(grep -c '"state"' "$dir/stager.out" || true)
  n_acks[$kind]=$((n_acks[$kind] + staged))
  NETNS_ON_TIMEOUT=90 on pri "$npmu" stripe wait "$s" "$staged" --timeout 60000 > "$dir/wait.out" 2>&1 ||
    { violation "$kind" lost "version $staged not protected: $(tail -1 "$dir/wait.out")"; lost=1; }
  [ "$how" = STOP ] && [ -n "$victim" ] && { kill -CONT "${enc[$victim]}"; sleep 3; }
  for v in $((staged - 1)) "$staged"; do   # the versions the set keeps, byte for byte
    [ "$v" -ge 1 ] || continue
    if ! NETNS_ON_TIMEOUT=30 on bak "$npmu" stripe get "$s" "$dir/stg.out" --version "$v" > "$dir/get.out" 2>&1; then
      violation "$kind" lost "version $v cannot be restored: $(tail -1 "$dir/get.out")"; lost=1
    elif grep -q "staged, not yet protected" "$dir/get.out" || ! cmp -s "$dir/stg.out" "$dir/stg$v"; then
      violation "$kind" torn "version $v restored other bytes (or from staging)"; torn=1
    fi
  done
  local n; n=$(cat "$dir/enc-bak.log" "$dir/enc-fl.log" | grep -c "staged version [0-9]* protected" || true)
  [ "$n" = "$staged" ] || violation "$kind" two "$n protections logged for $staged versions staged"
  for e in 0 1; do kill -9 "${enc[$e]}" 2>/dev/null || true; wait "${enc[$e]}" 2>/dev/null || true; done
  NETNS_ON_TIMEOUT=30 on bak "$npmu" stripe rm "$s" > /dev/null 2>&1 || true
  [ "$eff" = 1 ] && n_eff[$kind]=$((n_eff[$kind] + 1)) || violation "$kind" vacuous "no encoder was struck mid-encode"
  printf '  run %3d %-16s SIG%s of an encoder at "%s"; %d staged, %d protections\n' "$i" "$kind" \
    "$how" "$at" "$staged" "$n"
}

# dstage_run N -- a job of two parts stages each version and commits it while two encoders
# protect them; the fault: the encoder that starts a part's put is SIGKILLed, or the staging
# unit is SIGKILLed while a committed version waits there and started again (its pool kept).
# Every put and commit must succeed (the job goes on through the fault), every version
# committed must end protected, and the kept ones must restore to the bytes put.
dstage_run() {
  local i=$1 kind=stage-dataset ds=dsf$1 nv=6 v p e victim="" how eff=0 lost=0 enc=()
  both_units_up || { violation "$kind" other "the units did not come back"; return; }
  n_runs[$kind]=$((n_runs[$kind] + 1))
  for v in $(seq $nv); do for p in 0 1; do
    head -c $((6291456 + p * 4096)) /dev/urandom > "$dir/ds$v.$p"
  done; done
  for e in bak fl; do
    : > "$dir/enc-$e.log"
    exec_on_bg "$e" "$build/npmu-encoder" --set "$ds.p0" --set "$ds.p1" --rescan 100 --verbose \
      2>>"$dir/enc-$e.log"
    enc+=($!); pids+=($!)
  done
  ds_tool() { NETNS_ON_TIMEOUT=${T:-90} on pri "$dstool" "$NPMU_SERVER" "$ds" "$@"; }
  ds_tool 2 open 1 1 > "$dir/dwriter.out" 2>&1 || violation "$kind" other "dataset not made: $(cat "$dir/dwriter.out")"
  # (a commit may fail: a part staged on the unit killed is not there to commit; a job goes on
  # with its next version, as this one does. Every put must succeed: the job goes on.)
  ( for v in $(seq $nv); do
      for p in 0 1; do ds_tool 2 put "$v" "$p" "$dir/ds$v.$p" staged "$ip_u1:7411" || exit 1; done
      if ds_tool 2 commit "$v" "$v"; then echo "committed $v"; else echo "not committed $v"; fi
    done ) >> "$dir/dwriter.out" 2>&1 &
  local writer=$!
  how=$([ $((RANDOM % 2)) = 0 ] && echo encoder || echo unit)
  if [ "$how" = encoder ]; then
    for _ in $(seq 1500); do
      for e in 0 1; do grep -q "encoding staged version" "$dir/enc-$([ $e = 0 ] && echo bak || echo fl).log" && victim=$e; done
      [ -n "$victim" ] && break; sleep 0.01
    done
    if [ -n "$victim" ]; then
      kill -9 "${enc[$victim]}"
      local log; log="$dir/enc-$([ "$victim" = 0 ] && echo bak || echo fl).log"
      # effective: the part it had started was not protected by it
      local last; last=$(grep -o "stripe $ds\.p[01]: encoding staged version [0-9]*" "$log" | tail -1)
      grep -q "${last/encoding staged/staged} protected" "$log" || eff=1
    fi
  else # the staging unit, once a committed version waits in it: the encoders held meanwhile
    for e in 0 1; do kill -STOP "${enc[$e]}"; done
    local t0=$SECONDS
    until grep -q "^committed" "$dir/dwriter.out" || [ $((SECONDS - t0)) -gt 60 ]; do sleep 0.05; done
    if NETNS_ON_TIMEOUT=10 on bak "$npmu" --json dataset stat "$ds" 2>/dev/null | grep -q '"state":"staged"'; then
      eff=1
    fi
    kill -9 "$pid_u1"; wait "$pid_u1" 2>/dev/null || true
    sleep $((1 + RANDOM % 3))
    start_unit u1
    for e in 0 1; do kill -CONT "${enc[$e]}"; done
  fi
  n_faults[$kind]=$((n_faults[$kind] + 1))
  wait "$writer" || violation "$kind" locked "the job stopped: $(tail -2 "$dir/dwriter.out")"
  local done_v ndone; ndone=$(grep -c "^committed" "$dir/dwriter.out" || true)
  done_v=$(grep -o "^committed [0-9]*" "$dir/dwriter.out" | tail -1 | grep -o "[0-9]*$" || echo 0)
  n_acks[$kind]=$((n_acks[$kind] + ndone))
  [ "$done_v" = "$nv" ] || violation "$kind" locked "the job's last version ($nv) was not committed: $(tail -2 "$dir/dwriter.out")"
  if [ "$how" = encoder ] && [ "$ndone" != "$nv" ]; then
    violation "$kind" locked "a commit failed with only an encoder killed: $(grep -m1 "not committed" -B2 "$dir/dwriter.out")"
  fi
  if [ "$done_v" -ge 1 ] && ! T=90 ds_tool 0 wait "$done_v" 60000 > "$dir/wait.out" 2>&1; then
    violation "$kind" lost "version $done_v not protected: $(tail -1 "$dir/wait.out")"; lost=1
  fi
  local kept; kept=$(grep -o "^committed [0-9]*" "$dir/dwriter.out" | tail -2 | grep -o "[0-9]*$" || true)
  for v in $kept; do   # the versions the dataset keeps, byte for byte
    for p in 0 1; do
      if ! T=30 ds_tool 0 read "$v" "$p" 0 "$(stat -c %s "$dir/ds$v.$p")" "$dir/ds.out" > "$dir/get.out" 2>&1; then
        violation "$kind" lost "version $v part $p cannot be read: $(tail -1 "$dir/get.out")"; lost=1
      elif ! cmp -s "$dir/ds.out" "$dir/ds$v.$p"; then
        violation "$kind" torn "version $v part $p read other bytes"
      fi
    done
  done
  for e in 0 1; do kill -9 "${enc[$e]}" 2>/dev/null || true; wait "${enc[$e]}" 2>/dev/null || true; done
  NETNS_ON_TIMEOUT=30 on bak "$npmu" dataset rm "$ds" > /dev/null 2>&1 || true
  [ "$eff" = 1 ] && n_eff[$kind]=$((n_eff[$kind] + 1)) ||
    violation "$kind" vacuous "the fault struck no encoder mid-encode, nor a staging unit holding a waiting version"
  printf '  run %3d %-16s SIGKILL of %s; %d of %d versions committed, kept ones %s\n' "$i" "$kind" \
    "$([ "$how" = encoder ] && echo "an encoder mid-encode" || echo "the staging unit")" "$ndone" "$nv" \
    "$([ "$lost" = 0 ] && echo "protected and read back" || echo "NOT all read back")"
}

echo "fault: seed $seed (replay: tests/fault/fault.sh $build --seed $seed ${seconds:+--seconds $seconds})"
echo "fault: the netem kind degrades links with: $netem_how"
start=$SECONDS; i=0
while :; do
  if [ "$runs" -gt 0 ]; then [ "$i" -lt "$runs" ] || break; else [ $((SECONDS - start)) -lt "$seconds" ] || break; fi
  i=$((i + 1))
  if [ "$runs" -gt 0 ] && [ "$i" -le ${#kinds[@]} ]; then kind=${kinds[$((i - 1))]}   # every kind at least once
  else kind=${kinds[$((RANDOM % ${#kinds[@]}))]}; fi
  [ -z "$only" ] || kind=$only
  if [ "$kind" = netem ] && [ "$netem_ok" = 0 ]; then n_runs[netem]=$((n_runs[netem] + 1)); continue; fi
  case $kind in
    restart-embedded) embedded_run "$i" ;;
    crash-loop) crash_run "$i" ;;
    stage-encoder) stage_run "$i" ;;
    stage-dataset) dstage_run "$i" ;;
    *) pair_run "$i" "$kind" ;;
  esac
done

# crash images: persistence ordering of pool metadata and stream commits
images_pool=$("$build/tests/test_crash_images" 2>&1 | sed -n 's/crash images: \([0-9]*\) pool images checked.*/\1/p')
images_stream=$("$build/tests/it_crash_images" 2>&1 | sed -n 's/crash images: \([0-9]*\) stream images checked in all/\1/p')
img_viol=0
[ -n "$images_pool" ] || { img_viol=$((img_viol + 1)); images_pool=0; }
[ -n "$images_stream" ] || { img_viol=$((img_viol + 1)); images_stream=0; }

printf '\n%-16s %5s %6s %9s %5s %5s %4s %7s %9s %6s\n' kind runs faults acked lost torn two locked effective viol
total=0
for k in "${kinds[@]}"; do
  if [ "$k" = netem ] && [ "$netem_ok" = 0 ]; then
    printf '%-16s (no tc netem and no nft here: %d draw(s) skipped)\n' "$k" "${n_runs[$k]}"; continue
  fi
  printf '%-16s %5d %6d %9d %5d %5d %4d %7d %9d %6d\n' "$k" "${n_runs[$k]}" "${n_faults[$k]}" \
    "${n_acks[$k]}" "${n_lost[$k]}" "${n_torn[$k]}" "${n_two[$k]}" "${n_locked[$k]}" "${n_eff[$k]}" "${n_viol[$k]}"
  total=$((total + n_viol[$k]))
done
printf '%-16s %d pool and stream crash images checked, %d violation(s)\n' crash-images "$((images_pool + images_stream))" "$img_viol"
total=$((total + img_viol))
echo "seed $seed: $total violation(s)"
[ "$total" = 0 ]
