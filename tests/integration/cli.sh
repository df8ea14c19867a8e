#!/usr/bin/env bash
# cli.sh -- the npmud and npmu commands as a user runs them: help, put/get, JSON, and clear errors
# (exit status and message) for bad arguments, missing or corrupt pools, and bad requests.
set -euo pipefail
build=$1
npmud="$build/npmud"
npmu="$build/npmu"
dir=$(mktemp -d /tmp/npmu-cli-XXXXXX)
pid=""
cleanup() { [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
fails=0
# expect STATUS PATTERN CMD... -- run CMD, check its exit status and that its output matches PATTERN
expect() {
  local want=$1 pattern=$2; shift 2
  local out rc=0
  out=$("$@" 2>&1) || rc=$?
  if [ "$rc" != "$want" ] || ! grep -qE -- "$pattern" <<<"$out"; then
    echo "FAIL: $* -> status $rc (want $want), output:"; echo "$out" | head -5; fails=$((fails + 1))
  fi
}
# expect_json STATUS TEXT CMD... -- run CMD: its exit status, TEXT (fixed) in its standard output,
# which must be valid JSON (checked when python3 is there)
expect_json() {
  local want=$1 text=$2; shift 2
  local out rc=0
  out=$("$@" 2>/dev/null) || rc=$?
  if [ "$rc" != "$want" ] || ! grep -qF -- "$text" <<<"$out"; then
    echo "FAIL: $* -> status $rc (want $want), output:"; echo "$out" | head -5; fails=$((fails + 1))
  elif [ -x /usr/bin/python3 ] && ! /usr/bin/python3 -c 'import json,sys; json.load(sys.stdin)' <<<"$out" 2>/dev/null; then
    echo "FAIL: $* -> not valid JSON: $out"; fails=$((fails + 1))
  fi
}

expect 0 "Usage: npmud" "$npmud" --help
expect 2 "--pool is required" "$npmud"
expect 1 "does not exist; give --size" "$npmud" --pool "$dir/none.pool"
expect 2 "--size '12Q': invalid size" "$npmud" --pool "$dir/x.pool" --size 12Q
expect 1 "too small" "$npmud" --pool "$dir/x.pool" --size 100K
head -c 4M /dev/urandom > "$dir/junk.pool"
expect 1 "corrupt, or not of the expected format" "$npmud" --pool "$dir/junk.pool"
expect 2 "--listen '\[::1': invalid address" "$npmud" --pool "$dir/x.pool" --size 8M --listen "[::1"

"$npmud" --pool "$dir/unit.pool" --size 16M --listen 127.0.0.1:0 --addr-file "$dir/addr" 2>"$dir/log" &
pid=$!
for _ in $(seq 500); do [ -s "$dir/addr" ] && break; sleep 0.01; done
export NPMU_SERVER=$(cat "$dir/addr")
expect 1 "in use by another process" "$npmud" --pool "$dir/unit.pool" --listen 127.0.0.1:0

expect 0 "Usage: npmu " "$npmu" --help
expect 0 "Usage: npmu put" "$npmu" put --help
expect 0 "Usage: npmu get" "$npmu" get --help
expect 0 "Usage: npmu region" "$npmu" region create --help
expect 2 "unknown command" "$npmu" frobnicate
expect 2 "wrong arguments" "$npmu" region create onlyname
expect 2 "invalid size" "$npmu" region create r 0
expect 0 "r +1 +1 MiB" "$npmu" region create r 1M
expect 1 "already exists" "$npmu" region create r 1M
expect 1 "invalid region name" "$npmu" region create "no/slash" 1M
expect 1 "the pool is full" "$npmu" region create big 1T
expect 1 "no such region" "$npmu" region stat missing
expect 1 '"error":"no such region"' "$npmu" --json region stat missing
head -c 300000 /dev/urandom > "$dir/in.bin"
expect 0 "persistent" "$npmu" put r "$dir/in.bin"
expect 0 "got 293.0 KiB" "$npmu" get --length 300000 r "$dir/out.bin"
cmp -s "$dir/in.bin" "$dir/out.bin" || { echo "FAIL: get returned other bytes"; fails=$((fails + 1)); }
expect 0 '"bytes":300000' "$npmu" --json put --offset 4096 r "$dir/in.bin"
expect 1 "does not fit" "$npmu" put --offset 900K r "$dir/in.bin"
expect 0 "persistent" "$npmu" put --create newr "$dir/in.bin"
expect 0 '"name":"newr","id":[0-9]+,"size":300000' "$npmu" --json region ls
expect 0 '"name":"newr",.*"copies":1,"units":\["127\.0\.0\.1:[0-9]+"\]' "$npmu" --json region ls
expect 0 "r +1 +2 MiB" "$npmu" region grow r 2M
expect 1 "can only grow" "$npmu" region grow r 1M
expect 1 "outside the region" "$npmu" get --offset 3M r "$dir/out.bin"
expect 0 '"deleted":"r"' "$npmu" --json region rm r
expect 1 "no such region" "$npmu" region rm r
expect 1 "nothing answers at 127.0.0.1:1" "$npmu" --server 127.0.0.1:1 region ls
# checkpoint streams: stat and dump only look
"$build/npmu-demo" create kv
expect 0 "kv \(append mode\)" "$npmu" ckpt stat kv
expect 0 "lease +none: no writer yet" "$npmu" ckpt stat kv
expect 0 '"mode":"append","epoch":0,"seq":0' "$npmu" --json ckpt stat kv
expect 0 "dumped 0 bytes of kv" "$npmu" ckpt dump kv "$dir/kv.bin"
expect 1 "not of the expected format" "$npmu" ckpt stat newr
expect 0 "Usage: npmu ckpt" "$npmu" ckpt --help
expect_json 0 '"mode":"append"' "$npmu" --json ckpt stat kv
expect_json 0 '"name":"newr"' "$npmu" --json region ls

# whole numbers are plain decimal (a size takes K, M, G; a count or a version does not), and an
# error names the option
expect 2 "npmu stripe get: --version: expected a whole number, got '1K'" "$npmu" stripe get s "$dir/s.out" --version 1K
expect 2 "npmu stripe put: --k: expected a whole number, got '4K'" "$npmu" stripe put s "$dir/in.bin" --k 4K
expect 2 "--keep: expected a whole number from 0 to 4294967295, got '4294967298'" "$npmu" stripe put s "$dir/in.bin" --keep 4294967298
expect 2 "npmu stripe get: --version: needs a value" "$npmu" stripe get s "$dir/s.out" --version
expect 2 "npmu put: unknown option '--frob'" "$npmu" put --frob r "$dir/in.bin"
expect 2 "npmu get: --offset: invalid size '1x'" "$npmu" get --offset 1x r "$dir/out.bin"
# JSON stays JSON whatever a string holds: an error's context echoes what was asked for
expect_json 1 '"context":"a\"b\\c"' "$npmu" --json region stat 'a"b\c'
expect_json 1 '"context":"tab\u0009\u0001"' "$npmu" --json region stat $'tab\t\x01'
expect_json 1 '"context":"cannot reach 127.0.0.1:1\"x"' "$npmu" --json --server '127.0.0.1:1"x' region ls
grep -qE "rejected CREATE r from 127.0.0.1:[0-9]+: a region with that name already exists" "$dir/log" ||
  { echo "FAIL: the unit did not log the duplicate create"; fails=$((fails + 1)); }

# clear errors: each names the thing at fault and the problem
expect 1 "already exists" "$npmu" region create newr 1T            # not "the pool is full"
for bad in 0x10M 1e3 010 +5 1Ki; do expect 2 "invalid size" "$npmu" region create s "$bad"; done
expect 1 "credentials $dir/nope: no such file" env NPMU_CREDENTIALS="$dir/nope" "$npmu" region ls
"$npmu" keygen "$dir/k" > /dev/null
printf 'principal a\nkey-file %s\n' "$dir/k" > "$dir/c"; chmod 600 "$dir/c"
chmod 644 "$dir/k"
expect 1 "key file $dir/k: readable by group or others" env NPMU_CREDENTIALS="$dir/c" "$npmu" region ls
printf 'principal a\nkey-file %s\n' "$dir/missing" > "$dir/c"
expect 1 "key file $dir/missing: no such file" env NPMU_CREDENTIALS="$dir/c" "$npmu" region ls
echo garbage > "$dir/g"; chmod 600 "$dir/g"
printf 'principal a\nkey-file %s\n' "$dir/g" > "$dir/c"
expect 1 "key file $dir/g: not a key" env NPMU_CREDENTIALS="$dir/c" "$npmu" region ls
printf 'principal a\nkey 12\n' > "$dir/c"
expect 1 "credentials $dir/c line 2: not a key" env NPMU_CREDENTIALS="$dir/c" "$npmu" region ls
chmod 644 "$dir/c"
expect 1 "credentials $dir/c: readable by group or others" env NPMU_CREDENTIALS="$dir/c" "$npmu" region ls
expect 2 "cluster key $dir/missing: no such file" "$npmud" --pool "$dir/k.pool" --size 8M --cluster-key "$dir/missing"
# NPMU_SERVER="" is unset: the default address is used (nothing listens there in this test)
expect 1 "nothing answers at 127.0.0.1:7411" env NPMU_SERVER= "$npmu" region ls
# a damaged newest superblock: the unit starts from the copy before, and says so
kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
gen0=$(od -An -tu8 -j48 -N8 "$dir/unit.pool" | tr -d ' '); gen1=$(od -An -tu8 -j$((4096 + 48)) -N8 "$dir/unit.pool" | tr -d ' ')
newest=0; [ "$gen1" -gt "$gen0" ] && newest=1
printf 'X' | dd of="$dir/unit.pool" bs=1 seek=$((newest * 4096 + 20)) conv=notrunc 2>/dev/null
"$npmud" --pool "$dir/unit.pool" --listen 127.0.0.1:0 --addr-file "$dir/addr2" 2>"$dir/log2" &
pid=$!
for _ in $(seq 500); do [ -s "$dir/addr2" ] && break; sleep 0.01; done
grep -q "superblock copy $newest is damaged: using copy $((1 - newest))" "$dir/log2" ||
  { echo "FAIL: a damaged superblock was passed over silently: $(cat "$dir/log2")"; fails=$((fails + 1)); }

if [ "$fails" -ne 0 ]; then echo "$fails check(s) failed"; exit 1; fi
echo "all command-line checks passed"
