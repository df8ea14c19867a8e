#!/usr/bin/env bash
# stripe_ops.sh -- what datasets need of striped sets, on six units under pmmd (loopback): puts
# that name their version never overwrite a kept one (NPMU_E_LIMIT when every slot is kept) and
# restore from the slot they lie in; find; byte ranges read from only their groups, byte for
# byte, with a unit down so that some (the tail's zero-padded one among them) are decoded;
# updates under the set's lease, and update and delete refused (BUSY) while another holds it;
# `stripe rm`, also with a unit down (the member left is named); placed puts restored; a
# program of NPMU_0 puts through the old entry point (stripe_abi.c); a put
# with one unit down goes on degraded (stat says so), with two it is refused naming them, and a
# member back with an older sub-segment in that slot fails its checksum; a new set with a unit
# down is made degraded (rebuilt to full later), with two down says "needs N units, only M
# answer"; members left by a creation that never wrote a header are made again; rebuild with
# no spare unit re-places the lost member beside another (full redundancy back), and the stale
# one is deleted when its unit is back.
set -euo pipefail
build=$1
ops="$build/tests/stripe_ops"
. "$(dirname "$0")/units.sh"
unit_of() { # unit_of SET I: the number of the unit holding member I of SET
  local addr
  addr=$("$npmu" --json stripe stat "$1" | grep -o "\"region\":\"$1.s$2\",\"unit\":\"[^\"]*\"" | cut -d'"' -f8)
  for i in 1 2 3 4 5 6; do [ "$(cat "$dir/u$i.addr")" = "$addr" ] && { echo "$i"; return; }; done
  echo "FAIL: no unit holds $1.s$2 ($addr)" >&2; echo 0
}
start_units
export NPMU_SET_WAIT_MS=2000
S=$NPMU_SERVER

# explicit versions and the slot rule, find; update, and BUSY for update and delete
expect 0 "slots: kept versions never overwritten" "$ops" "$S" slots slotset
expect 0 "busy: update and delete refused while held, then done" "$ops" "$S" busy upd

# byte ranges: every unit up (nothing decoded), then the unit of the member holding the tail
# group's partial data sub-segment down (decoded, zero-padded at encode time)
head -c $((12 * 262144 + 65536 + 12345)) /dev/urandom > "$dir/r"
out=$("$ops" "$S" range-put rset "$dir/r") || fail "range-put: $out"
csum=$(cut -d' ' -f2 <<<"$out"); tailm=$(cut -d' ' -f4 <<<"$out")
expect 0 "ranges same as FILE, 0 sub-segment.s. decoded" "$ops" "$S" range rset "$dir/r" "$csum"
u=$(unit_of rset "$tailm"); kill_unit "$u"
expect 0 "ranges same as FILE, [1-9][0-9]* sub-segment.s. decoded" "$ops" "$S" range rset "$dir/r" "$csum"
back_unit "$u"

# sets for what follows, made with every unit up
for v in 1 2 3 4; do head -c 3000000 /dev/urandom > "$dir/s$v"; done
expect 0 "version 1, .*committed on every unit, persistent" "$npmu" stripe put deg "$dir/s1"
expect 0 "version 2" "$npmu" stripe put deg "$dir/s2"
expect 0 "version 1" "$npmu" stripe put xor "$dir/s1" --k 5 --m 1 --seg 64K
expect 0 "version 1" "$npmu" stripe put spare "$dir/s1"
expect 0 "version 1" "$npmu" stripe put rmdown "$dir/s1" --k 2 --m 1 --n 6

# placed puts restore; rm deletes every member
expect 0 "version 1, .*committed on every unit, placed" "$npmu" stripe put --placed pl "$dir/s2"
expect 0 '"durability":"placed".*"degraded":false' "$npmu" --json stripe put --placed pl "$dir/s3"
expect 0 "got version 2" "$npmu" stripe get pl "$dir/out"
cmp -s "$dir/s3" "$dir/out" || fail "a placed put restores other bytes"
expect 0 "old entry point: version 1 restored" "$build/tests/stripe_abi" "$S" abi
expect 0 "deleted set pl" "$npmu" stripe rm pl
expect 1 "no such region" "$npmu" stripe stat pl
[ -z "$("$npmu" region ls | grep 'pl\.s')" ] || fail "stripe rm left members: $("$npmu" region ls)"
expect 1 "pl: no such region" "$npmu" stripe rm pl
expect 2 "Usage: npmu stripe" "$npmu" stripe rm
expect 0 "rm NAME" "$npmu" stripe --help

# one unit down (holding deg's data sub-segment 1): a put goes on degraded, said
x=$(unit_of deg 1); xaddr=$(cat "$dir/u$x.addr"); kill_unit "$x"
expect 0 "writing without members deg.s1 \($xaddr, unit down\).*keeps 5 of its 4\+2.*degraded.*version 3, .*committed on 5 of 6 units .DEGRADED" \
  "$npmu" stripe put deg "$dir/s3"
expect 0 "version 3: .*manifest on 5 of 6 members .DEGRADED" "$npmu" stripe stat deg
expect 0 '"degraded":true' "$npmu" --json stripe stat deg
expect 0 "got version 3" "$npmu" stripe get deg "$dir/out"
cmp -s "$dir/s3" "$dir/out" || fail "the degraded version restores other bytes"
expect 0 "keeps 5 of its 5\+1 sub-segments .unprotected.*version 2" "$npmu" stripe put xor "$dir/s2"
expect 0 "got version 2" "$npmu" stripe get xor "$dir/out"
cmp -s "$dir/s2" "$dir/out" || fail "the unprotected version restores other bytes"
# a new set of six units with five up: made with five members, degraded, restorable, and
# brought to six members by a rebuild once the unit is back (below)
expect 0 "made with 5 of its 6 members.*committed on 5 of 6 units .DEGRADED" "$npmu" stripe put new6 "$dir/s1"
expect 0 "got version 1" "$npmu" stripe get new6 "$dir/out"
cmp -s "$dir/s1" "$dir/out" || fail "a set made with five of six units restores other bytes"
# a creation that stopped before writing any header (a member made, nothing in it): the next
# put deletes what it left and makes the set
expect 0 "" "$npmu" region create unborn.s0 1M
expect 0 "" "$npmu" region create unborn.s3 1M
expect 1 "no such region" "$npmu" stripe stat unborn
expect 0 "left by a creation that never finished.*version 1" "$npmu" stripe put unborn "$dir/s1"
expect 0 "got version 1" "$npmu" stripe get unborn "$dir/out"
cmp -s "$dir/s1" "$dir/out" || fail "a set made over an unfinished creation restores other bytes"
# rm with a unit down: the others deleted, the one left named
r=$("$npmu" --json stripe stat rmdown | grep -o "\"unit\":\"$xaddr\"" | wc -l)
expect 1 "rmdown.s[0-9] \($xaddr: .*\).*again once" "$npmu" stripe rm rmdown
left=$("$npmu" region ls | grep -c 'rmdown\.s' || true)
[ "$left" = 0 ] || fail "rm with a unit down left $left member(s) on units that answer"
[ "$r" = 1 ] || fail "rmdown had $r member(s) on the unit down (want 1)"

# two units down (m): refused, naming both; nothing written
y=$(unit_of deg 2); yaddr=$(cat "$dir/u$y.addr"); kill_unit "$y"
expect 1 "not written: members .*$xaddr.*$yaddr.* do not answer.*keep 4 of its 4\+2" \
  "$npmu" stripe put deg "$dir/s4"
expect 0 "version 3: .*manifest on 4 of 6" "$npmu" stripe stat deg
expect 1 "needs 6 units, only 4 answer" "$npmu" stripe put new6b "$dir/s1"

# both back: deg.s1 holds version 1's sub-segment in version 3's slot: fails its checksum
back_unit "$x"; back_unit "$y"
expect 0 "1 sub-segment.s. failed their checksum: deg.s1 .* checksum failed.*got version 3" \
  "$npmu" stripe get deg "$dir/out"
cmp -s "$dir/s3" "$dir/out" || fail "version 3 with a stale member restores other bytes"
expect 0 "written back; every member healthy" "$npmu" stripe rebuild deg
expect 0 "version 3: .*manifest on 6 of 6 members  " "$npmu" stripe stat deg
expect 0 "written back; every member healthy" "$npmu" stripe rebuild new6
expect 0 "version 1: .*manifest on 6 of 6 members" "$npmu" stripe stat new6
expect 0 "rmdown" "$npmu" region ls
expect 0 "deleted set rmdown" "$npmu" stripe rm rmdown

# rebuild without a spare unit: the lost member beside another; full redundancy again
z=$(unit_of spare 2); zaddr=$(cat "$dir/u$z.addr"); kill_unit "$z"
expect 0 "no spare unit: member spare.s2 placed on .*reduced fault tolerance.*every member healthy" \
  "$npmu" stripe rebuild spare
expect 0 "version 1: .*manifest on 6 of 6 members" "$npmu" stripe stat spare
distinct=$("$npmu" --json stripe stat spare | grep -o '"unit":"[^"]*"' | sort -u | wc -l)
[ "$distinct" = 5 ] || fail "spare's members on $distinct units (want 5: two on one)"
# two more units down, each holding one member: restored, as with full redundancy
shared=$("$npmu" --json stripe stat spare | grep -o '"unit":"[^"]*"' | sort | uniq -d | cut -d'"' -f4)
down=()
for i in 1 2 3 4 5 6; do
  a=$(cat "$dir/u$i.addr")
  [ "$i" != "$z" ] && [ "$a" != "$shared" ] && [ ${#down[@]} -lt 2 ] && down+=("$i")
done
for i in "${down[@]}"; do kill_unit "$i"; done
expect 0 "2 member.s. lost.*got version 1" "$npmu" stripe get spare "$dir/out"
cmp -s "$dir/s1" "$dir/out" || fail "restore after a rebuild without a spare differs"
for i in "${down[@]}"; do back_unit "$i"; done
# the lost unit back: its stale spare.s2 is deleted there, the set stays healthy
back_unit "$z"
"$npmu" unit ls > /dev/null
for _ in $(seq 100); do grep -q "back holding spare.s2" "$dir/pmmd.log" && break; sleep 0.05; done
grep -q "back holding spare.s2.*deleted here" "$dir/pmmd.log" || fail "the stale spare.s2 on $zaddr was not deleted"
expect 0 "version 1: .*manifest on 6 of 6 members" "$npmu" stripe stat spare
expect 0 "got version 1" "$npmu" stripe get spare "$dir/out"

if [ "$fails" -ne 0 ]; then echo "$fails check(s) failed"; exit 1; fi
echo "all stripe ops checks passed"
