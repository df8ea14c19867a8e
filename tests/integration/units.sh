# units.sh -- sourced by integration tests: six npmud units under a pmmd on loopback with a
# cluster key (as stripe.sh sets them up), in a fresh $dir removed at exit (KEEP=1 keeps it).
# Needs $build. Gives: fail MSG, expect STATUS PATTERN CMD..., wait_file FILE, start_unit N
# [LISTEN] (pools of $UNIT_SIZE, default 256M), kill_unit N, back_unit N, start_units (units
# 1-6 in racks A A B B C C, and 7 in rack D when NUNITS=7, then pmmd with --unit-timeout
# $UNIT_TIMEOUT_MS, default 5000: a killed unit refuses at once, and a loaded machine must not
# make a live one look away; exports NPMU_SERVER), $npmu, $pids.
npmud="$build/npmud"; pmmd="$build/pmmd"; npmu="$build/npmu"
test_name=${0##*/}
dir=$(mktemp -d "/tmp/npmu-${test_name%.sh}-XXXXXX")
pids=()
fails=0
units_cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -n "${KEEP:-}" ]; then echo "kept $dir"; else rm -rf "$dir"; fi
}
trap units_cleanup EXIT
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
expect() { # expect STATUS PATTERN CMD...: CMD exits STATUS and its output matches PATTERN
  local want=$1 pattern=$2; shift 2
  local out rc=0
  out=$("$@" 2>&1) || rc=$?
  if [ "$rc" != "$want" ] || ! tr "\n" " " <<<"$out" | grep -qE -- "$pattern"; then
    echo "FAIL: $* -> status $rc (want $want), output:"; echo "$out" | head -8; fails=$((fails + 1))
  fi
}
wait_file() { for _ in $(seq 1000); do [ -s "$1" ] && return 0; sleep 0.01; done; echo "FAIL: $1 never written"; exit 1; }
start_unit() { # start_unit N [LISTEN]: its pool (created the first time) survives a kill
  rm -f "$dir/u$1.addr"
  "$npmud" --pool "$dir/u$1.pool" --size "${UNIT_SIZE:-256M}" --listen "${2:-127.0.0.1:0}" \
    --addr-file "$dir/u$1.addr" --no-manager --cluster-key "$dir/cluster.key" 2>>"$dir/u$1.log" &
  pids+=($!); eval "pid_$1=$!"
  wait_file "$dir/u$1.addr"
}
kill_unit() { local p=pid_$1; kill -9 "${!p}"; wait "${!p}" 2>/dev/null || true; }
back_unit() { start_unit "$1" "$(cat "$dir/u$1.addr")"; } # on its address, its pool kept
start_units() {
  "$npmu" keygen "$dir/cluster.key" >/dev/null
  local units=() rack=(- A A B B C C D) i
  for i in $(seq "${NUNITS:-6}"); do start_unit $i; units+=(--unit "$(cat "$dir/u$i.addr")@rack${rack[$i]}"); done
  "$pmmd" --cluster-key "$dir/cluster.key" "${units[@]}" --unit-timeout "${UNIT_TIMEOUT_MS:-5000}" --listen 127.0.0.1:0 \
    --addr-file "$dir/pmmd.addr" 2>"$dir/pmmd.log" &
  pids+=($!)
  wait_file "$dir/pmmd.addr"
  export NPMU_SERVER=$(cat "$dir/pmmd.addr")
}
