#!/usr/bin/env bash
# install.sh -- `make install` into a temporary prefix gives a working npmud, npmu, header,
# libraries and pkg-config file: an example built against the installed copy talks to the
# installed npmud; so does the installed Python package (when built), on the installed libnpmu.
set -euo pipefail
build=$1
src=$2
dir=$(mktemp -d /tmp/npmu-install-XXXXXX)
pid=""
cleanup() { [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT

cmake --install "$build" --prefix "$dir/prefix" >/dev/null
pc=$(find "$dir/prefix" -name npmu.pc)
export PKG_CONFIG_PATH=$(dirname "$pc")
pkgc() { pkg-config --define-variable=prefix="$dir/prefix" "$@"; }
cc -o "$dir/hello" "$src/examples/hello_checkpoint.c" $(pkgc --cflags --libs npmu) \
  -Wl,-rpath,"$(pkgc --variable=libdir npmu)"
cc -o "$dir/hello_static" "$src/examples/hello_checkpoint.c" $(pkgc --cflags npmu) \
  "$(pkgc --variable=libdir npmu)/libnpmu.a" $(pkgc --static --libs-only-l npmu | sed 's/-lnpmu//')

"$dir/prefix/bin/npmud" --pool "$dir/p.pool" --size 8M --listen 127.0.0.1:0 --addr-file "$dir/addr" 2>"$dir/log" &
pid=$!
for _ in $(seq 500); do [ -s "$dir/addr" ] && break; sleep 0.01; done
[ -s "$dir/addr" ] || { cat "$dir/log"; exit 1; }
"$dir/hello" "$(cat "$dir/addr")" | grep -q identical
"$dir/hello_static" "$(cat "$dir/addr")" | grep -q identical
NPMU_SERVER=$(cat "$dir/addr") "$dir/prefix/bin/npmu" region ls | grep -q hello.state
echo "installed npmud, npmu, libnpmu (shared and static) and npmu.pc work"
ext=$(find "$dir/prefix" -path '*-packages/npmu/_npmu*.so')
if [ -n "$ext" ]; then
  ldd "$ext" | grep "$dir/prefix/.*libnpmu.so" > /dev/null || { echo "installed _npmu does not load the installed libnpmu"; ldd "$ext"; exit 1; }
  PYTHONPATH=$(dirname "$(dirname "$ext")") /usr/bin/python3 -c \
    'import sys, npmu; print([r.name for r in npmu.Connection(sys.argv[1]).regions()])' \
    "$(cat "$dir/addr")" | grep -q hello.state
  echo "the installed Python package works"
fi
