#!/usr/bin/env bash
# install-deps.sh -- install the Debian packages npmu needs to build and test, when missing;
# `install-deps.sh bench` adds what `make bench` needs (its baselines and plots),
# `install-deps.sh fuzz` what `make fuzz` needs (clang with libFuzzer), `install-deps.sh fault`
# what `make fault` needs (nftables: packet loss where the kernel has no tc netem).
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libfabric-dev libfabric-bin   # the RDMA network (tcp provider on Ethernet and loopback)
  libpmem2-dev                  # persistence of the pool
  libisal-dev                   # checksums (CRC-64) and erasure coding
  libsodium-dev                 # CSPRNG keys, authentication, encryption
  libcmocka-dev                 # unit tests
  libmicrohttpd-dev             # the daemons' metrics endpoint (--metrics)
  libsystemd-dev                # systemd's notifications (Type=notify, watchdog); optional
  libcurl4-openssl-dev          # npmu unit stat and npmu top read the daemons' metrics
  curl                          # tests: scraping the metrics
  iproute2 procps               # tests: network namespaces, process checks
  python3                       # tests: scripts/check-layers.py
  openmpi-bin libopenmpi-dev    # examples/mpi_heat.c and its test (a real MPI job)
  python3-dev python3-numpy     # the Python module (python/) for /usr/bin/python3,
  python3-torch python3-pytest  # npmu.torch, make demo-train, and its tests (tests/python)
)
if [ "${1:-}" = fuzz ]; then
  packages+=(clang libclang-rt-14-dev)        # libFuzzer and the sanitizers' runtimes
fi
if [ "${1:-}" = fault ]; then
  packages+=(nftables)                        # random packet loss on a link (nft numgen)
fi
if [ "${1:-}" = bench ]; then
  packages+=(
    redis-server redis-tools libhiredis-dev  # the Redis baseline (started by the benchmark)
    gnuplot-nox                               # the plots
  )
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
