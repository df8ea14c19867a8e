#!/usr/bin/env bash
# stage.sh -- staged puts protected in the background (seed 004 claims 11-12), every process on
# a host of its own (network namespaces, 198.18.6.0/24): six member units, a staging unit, pmmd,
# a writer and two encoders, with principals of their own. Shown:
#   - a writer stages versions and returns; an encoder on another host protects them (a
#     restore then reads them from the members, and says so);
#   - an encoder SIGKILLed mid-encode (each round checks it had started and not finished) leaves
#     nothing half-committed: the second encoder, on a third host, finishes the version;
#   - two encoders running at once never encode one version twice;
#   - a set deleted while an encoder watches it is let go at once;
#   - the staging unit killed after protection: the set restores the version; killed before:
#     the version is reported lost and the previous protected one is restored;
#   - a full staging waits or, asked, puts synchronously; bad arguments get clear errors.
# Needs root and iproute2; exits 77 (skipped) without them.
set -euo pipefail
build=$(cd "$1" && pwd)
source "$(dirname "$0")/netns.sh"
netns_usable || { echo "skipped: needs root and ip netns"; exit 77; }
dir=$(mktemp -d /tmp/npmu-stage-XXXXXX)
hosts=(u1 u2 u3 u4 u5 u6 us pm wr e1 e2)
pids=()
trap netns_teardown EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
netns_up ns 198.18.6 "${hosts[@]}"
wait_file() { for _ in $(seq 1000); do [ -s "$1" ] && return 0; sleep 0.01; done; echo "FAIL: $1 never written"; exit 1; }
# wait_grep FILE PATTERN SECONDS -- until FILE has a line matching PATTERN
wait_grep() { for _ in $(seq $(($3 * 100))); do grep -qE -- "$2" "$1" 2>/dev/null && return 0; sleep 0.01; done; return 1; }

npmu="$build/npmu"; encoder="$build/npmu-encoder"
"$npmu" keygen "$dir/cluster.key" >/dev/null
for p in app enc; do
  "$npmu" keygen "$dir/$p.key" >/dev/null
  printf 'principal %s\nkey-file %s\n' "$p" "$dir/$p.key" > "$dir/$p.cred"; chmod 600 "$dir/$p.cred"
done
# the writer makes the set and its staging; the encoders read staging and write the members
printf 'principal app file %s\nprincipal enc file %s\nallow app create,write st*\nallow enc create,write st*\n' \
  "$dir/app.key" "$dir/enc.key" > "$dir/pmmd.cred"
chmod 600 "$dir/pmmd.cred"

start_unit() { # start_unit HOST
  local ip=ip_$1
  rm -f "$dir/$1.addr"
  exec_on_bg "$1" "$build/npmud" --pool "$dir/$1.pool" --size 400M --listen "${!ip}:7411" \
    --addr-file "$dir/$1.addr" --no-manager --cluster-key "$dir/cluster.key" 2>>"$dir/$1.log"
  pids+=($!); eval "pid_$1=$!"
  wait_file "$dir/$1.addr"
}
for h in u1 u2 u3 u4 u5 u6 us; do start_unit $h; done
units=()
for h in u1 u2 u3 u4 u5 u6 us; do ip=ip_$h; units+=(--unit "${!ip}:7411"); done
exec_on_bg pm "$build/pmmd" --cluster-key "$dir/cluster.key" "${units[@]}" --unit-timeout 2000 \
  --credentials "$dir/pmmd.cred" --listen "$ip_pm:7410" --addr-file "$dir/pm.addr" 2>"$dir/pm.log"
pids+=($!)
wait_file "$dir/pm.addr"
export NPMU_SERVER=$ip_pm:7410
stage_unit=$ip_us:7411
w() { NPMU_CREDENTIALS=$dir/app.cred on wr "$@"; }   # the writer's host
start_encoder() { # start_encoder HOST: npmu-encoder there (logging each quarter of a version
  # written), its log in HOST.enc.log
  NPMU_CREDENTIALS=$dir/enc.cred exec_on_bg "$1" "$encoder" --rescan 200 --verbose 2>>"$dir/$1.enc.log"
  pids+=($!); eval "enc_$1=$!"
}
stop_encoder() { local p=enc_$1; kill -TERM "${!p}" 2>/dev/null || true; wait "${!p}" 2>/dev/null || true; }
# staged VERSION -- the version number a JSON staged put printed
json_version() { sed -n 's/.*"version":\([0-9]*\).*/\1/p'; }
stage() { # stage FILE [options] -- prints the version staged
  w "$npmu" --json stripe put st "$1" --staged --stage-unit "$stage_unit" "${@:2}" | json_version
}
mkfile() { head -c "$2" /dev/urandom > "$dir/$1"; }
for i in $(seq 1 20); do mkfile "f$i" $((8 * 1048576 + i * 4097)); done
mkfile big 160M

# bad arguments: clear errors, nothing made
out=$(w "$npmu" stripe put st "$dir/f1" --stage-slots 9 2>&1) && fail "--stage-slots 9 accepted"
grep -q "stage-slots" <<<"$out" || fail "--stage-slots 9: $out"
out=$(w "$npmu" stripe put st "$dir/f1" --stage-unit "$stage_unit" 2>&1) && fail "--stage-unit without --staged accepted"
grep -q "go with --staged" <<<"$out" || fail "--stage-unit without --staged: $out"
out=$(w "$npmu" stripe wait st 1 --timeout 60000 2>&1) && fail "wait on a set that does not exist succeeded"
grep -q "no such" <<<"$out" || fail "wait on a set that does not exist: $out"

# 1. a writer stages, an encoder on another host protects
start_encoder e1
for i in 1 2 3; do
  v=$(stage "$dir/f$i" --capacity 160M)
  [ "$v" = "$i" ] || fail "staged put $i got version '$v'"
done
w "$npmu" stripe wait st 3 --timeout 20000 > "$dir/wait.out" 2>&1 || fail "version 3 not protected: $(cat "$dir/wait.out")"
w "$npmu" --json stripe versions st > "$dir/versions.json"
grep -q '"version":3,[^}]*"state":"protected"' "$dir/versions.json" || fail "versions: $(cat "$dir/versions.json")"
w "$npmu" stripe get st "$dir/out" > "$dir/get.out" 2>&1 || fail "get: $(cat "$dir/get.out")"
cmp -s "$dir/out" "$dir/f3" || fail "version 3 restored differs"
grep -q "staged, not yet protected" "$dir/get.out" && fail "a protected version read from staging: $(cat "$dir/get.out")"
for i in 1 2 3; do
  grep -q "staged version $i protected" "$dir/e1.enc.log" || fail "encoder e1 did not protect version $i"
done

# 2. an encoder SIGKILLed mid-encode (as it starts the version's put; half-way through it): the
# other finishes, nothing half-committed
# a version beyond the set's capacity (fixed by its first put): refused when staged
cp "$dir/big" "$dir/huge"; head -c 4096 "$dir/f1" >> "$dir/huge"
out=$(w "$npmu" stripe put st "$dir/huge" --staged --stage-unit "$stage_unit" 2>&1) && fail "a version beyond capacity staged"
grep -q "beyond the set's capacity" <<<"$out" || fail "beyond capacity: $out"
rm -f "$dir/huge"
effective=0
for at in "encoding staged version [0-9]+ " "version in hand 50% written"; do
  stop_encoder e1
  : > "$dir/e1.enc.log"
  v=$(stage "$dir/big")
  w "$npmu" --json stripe versions st | grep -q "\"version\":$v,[^}]*\"state\":\"staged\"" || fail "version $v not staged"
  start_encoder e1
  if ! wait_grep "$dir/e1.enc.log" "$at" 30; then
    fail "encoder e1 never logged '$at' for version $v"; continue
  fi
  kill -9 "$enc_e1"; wait "$enc_e1" 2>/dev/null || true
  state=$(w "$npmu" --json stripe versions st | grep -o "\"version\":$v,[^}]*" | grep -o '"state":"[a-z]*"')
  if grep -q "staged version $v protected" "$dir/e1.enc.log" || grep -q protected <<<"$state"; then
    fail "round '$at': e1 had finished version $v before it was killed (vacuous round)"
    continue
  fi
  echo "round '$at': e1 killed mid-encode of version $v ($state)"
  start_encoder e2
  w "$npmu" stripe wait st "$v" --timeout 30000 > "$dir/wait.out" 2>&1 ||
    fail "version $v not protected after e1 was killed: $(cat "$dir/wait.out")"
  grep -q "staged version $v protected" "$dir/e2.enc.log" || fail "e2 did not finish version $v"
  w "$npmu" stripe get st "$dir/out" --version "$v" > /dev/null 2>&1 || fail "get version $v"
  cmp -s "$dir/out" "$dir/big" || fail "version $v restored differs"
  stop_encoder e2
  effective=$((effective + 1))
done
echo "encoder kills: $effective effective round(s) of 2"
[ "$effective" = 2 ] || fail "only $effective of 2 kill rounds were effective"

# 3. two encoders at once: each version encoded exactly once
: > "$dir/e1.enc.log"; : > "$dir/e2.enc.log"
start_encoder e1; start_encoder e2
first=
for i in $(seq 4 11); do
  v=$(stage "$dir/f$i"); first=${first:-$v}; last=$v
done
w "$npmu" stripe wait st "$last" --timeout 30000 >/dev/null 2>&1 || fail "version $last not protected by two encoders"
sleep 0.5
for v in $(seq "$first" "$last"); do
  n=$(cat "$dir/e1.enc.log" "$dir/e2.enc.log" | grep -c "staged version $v protected" || true)
  [ "$n" = 1 ] || fail "version $v encoded $n time(s) by two encoders"
done
by1=$(grep -c "staged version [0-9]* protected" "$dir/e1.enc.log" || true)
by2=$(grep -c "staged version [0-9]* protected" "$dir/e2.enc.log" || true)
echo "two encoders: e1 protected $by1, e2 $by2 of versions $first..$last"
w "$npmu" stripe get st "$dir/out" > /dev/null 2>&1 && cmp -s "$dir/out" "$dir/f11" || fail "version $last restored differs"

# 4. the staging unit killed after protection: restored from the set
v=$(stage "$dir/f12")
w "$npmu" stripe wait st "$v" --timeout 30000 >/dev/null 2>&1 || fail "version $v not protected"
protected=$v
stop_encoder e1; stop_encoder e2
kill -9 "$pid_us"; wait "$pid_us" 2>/dev/null || true
w "$npmu" stripe get st "$dir/out" > "$dir/get.out" 2>&1 || fail "get without the staging unit: $(cat "$dir/get.out")"
cmp -s "$dir/out" "$dir/f12" || fail "version $v restored without the staging unit differs"

# 5. ... killed before protection: the version reported lost, the previous protected restored
start_unit us
v=$(stage "$dir/f13")
[ "$v" = $((protected + 1)) ] || fail "staged after a restart got version '$v'"
w "$npmu" stripe get st "$dir/out" > "$dir/get.out" 2>&1 || fail "get of a staged version: $(cat "$dir/get.out")"
cmp -s "$dir/out" "$dir/f13" || fail "the staged version $v restored differs"
grep -q "version $v is staged, not yet protected" "$dir/get.out" || fail "a staged restore not said: $(cat "$dir/get.out")"
kill -9 "$pid_us"; wait "$pid_us" 2>/dev/null || true
out=$(w "$npmu" stripe wait st "$v" --timeout 1000 2>&1) && fail "wait on a version lost with its staging unit succeeded"
grep -q "lost unless its staging unit comes back" <<<"$out" || fail "lost version: $out"
w "$npmu" stripe get st "$dir/out" > "$dir/get.out" 2>&1 || fail "get after the staging unit died: $(cat "$dir/get.out")"
cmp -s "$dir/out" "$dir/f12" || fail "after losing staged version $v, the previous protected one was not restored"
grep -q "got version $protected of st" "$dir/get.out" || fail "the version restored not said: $(cat "$dir/get.out")"

# 6. staging full: a put waits (and times out without an encoder), or puts synchronously
start_unit us
v=$(stage "$dir/f14")   # slot 2 of 2: version $protected + 1 still waits in the other
out=$(w "$npmu" stripe put st "$dir/f15" --staged --stage-unit "$stage_unit" --wait 500 2>&1) &&
  fail "a put into a full staging succeeded without an encoder"
grep -q "still wait for an encoder" <<<"$out" || fail "full staging: $out"
out=$(w "$npmu" stripe put st "$dir/f15" --staged --stage-unit "$stage_unit" --sync-when-full 2>&1) ||
  fail "--sync-when-full: $out"
grep -q "protected (staging full: put synchronously)" <<<"$out" || fail "--sync-when-full: $out"
w "$npmu" stripe get st "$dir/out" > /dev/null 2>&1 && cmp -s "$dir/out" "$dir/f15" || fail "the synchronous put's version differs"
w "$npmu" --json stripe versions st | grep -q '"state":"superseded"' || fail "staged versions older than a synchronous put not shown superseded"

# 7. a staging region that is not one (made by hand, filled with junk): readers and the encoder
# ignore it, saying so; a staged put, holding its lease, lays it out afresh
w "$npmu" region create stj.stg 256K > /dev/null || fail "region create stj.stg"
head -c 65536 /dev/urandom > "$dir/junk"
w "$npmu" put stj.stg "$dir/junk" > /dev/null || fail "junk into stj.stg"
out=$(w "$npmu" stripe versions stj 2>&1) || fail "versions of a junk staging region: $out"
grep -q "not a staging header" <<<"$out" || fail "junk staging not said: $out"
v=$(w "$npmu" --json stripe put stj "$dir/f16" --staged | json_version)
[ "$v" = 1 ] || fail "a staged put over a junk staging region got version '$v'"
w "$npmu" stripe get stj "$dir/out" > /dev/null 2>&1 && cmp -s "$dir/out" "$dir/f16" || fail "stj version 1 differs"

# 8. a set deleted while an encoder watches it: the encoder lets its staging go at the first
# refusal (it used to ask pmmd for the region every 20 ms until its next scan)
NPMU_CREDENTIALS=$dir/enc.cred exec_on_bg e1 "$encoder" --rescan 60000 2>>"$dir/e1.rm.log"
pids+=($!); enc_rm=$!
for _ in $(seq 200); do grep -q "stripe stj: staged version 1 protected" "$dir/e1.rm.log" && break; sleep 0.05; done
grep -q "stripe stj: staged version 1 protected" "$dir/e1.rm.log" || fail "the encoder never protected stj"
before=$(grep -c "rejected OPEN stj.stg" "$dir/pm.log" || true)
# (the writer deletes its staging region; the members are the encoder's principal's: left, and
# the writer is told why)
out=$(w "$npmu" stripe rm stj 2>&1) && fail "the writer deleted the encoder's members"
grep -q "deleting them needs a principal allowed to" <<<"$out" || fail "stripe rm stj by the writer: $out"
w "$npmu" region ls | grep -q "stj\.stg" && fail "stripe rm left stj's staging region"
sleep 1.5
refused=$(( $(grep -c "rejected OPEN stj.stg" "$dir/pm.log" || true) - before ))
kill -TERM "$enc_rm" 2>/dev/null || true; wait "$enc_rm" 2>/dev/null || true
grep -q "set stj: its staging region was deleted" "$dir/e1.rm.log" || fail "the encoder did not say stj's staging went"
[ "$refused" -le 1 ] || fail "the encoder asked for a deleted staging region $refused times in 1.5 s"
echo "a deleted set: the encoder was refused its staging region $refused time(s)"

echo "stage: $fails failure(s)"
[ "$fails" = 0 ]
