# netns.sh -- sourced by the multi-host tests: hosts as network namespaces, each with one veth
# link into a bridge, addresses in 198.18.0.0/15 only. After `netns_up P SUBNET HOST...`:
# namespace $P$HOST$$ per host, its address in $ip_HOST (SUBNET.1, .2, ... in order), and
#   on HOST CMD...       run CMD on HOST and wait for it (at most NETNS_ON_TIMEOUT s, default 120)
#   exec_on_bg HOST CMD  start CMD on HOST in the background ($! is its pid)
#   link HOST up|down    set HOST's link up or down
# netns_down kills whatever still runs in the namespaces and removes them and the bridge;
# netns_teardown, the EXIT trap of a test keeping its processes in $pids and files in $dir,
# also kills those and removes $dir.

netns_hosts=()
netns_br=""
netns_prefix=""

netns_up() { # netns_up PREFIX SUBNET(a.b.c) HOST...
  netns_prefix=$1 netns_subnet=$2; shift 2
  netns_hosts=("$@")
  netns_br=${netns_prefix}br$$
  ip link add "$netns_br" type bridge
  ip addr add "$netns_subnet.254/24" dev "$netns_br"
  ip link set "$netns_br" up
  local n=1 h ns
  for h in "${netns_hosts[@]}"; do
    ns=$netns_prefix$h$$
    ip netns add "$ns"
    ip link add "${netns_prefix}v$h$$" type veth peer name eth0 netns "$ns"
    ip link set "${netns_prefix}v$h$$" master "$netns_br" up
    ip netns exec "$ns" ip addr add "$netns_subnet.$n/24" dev eth0
    ip netns exec "$ns" ip link set eth0 up
    ip netns exec "$ns" ip link set lo up
    eval "ip_$h=$netns_subnet.$n"
    n=$((n + 1))
  done
}

netns_down() {
  local h
  for h in "${netns_hosts[@]}"; do # everything still running on a host, whoever started it
    ip netns pids "$netns_prefix$h$$" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
  done
  for h in "${netns_hosts[@]}"; do
    ip netns del "$netns_prefix$h$$" 2>/dev/null || true
    ip link del "${netns_prefix}v$h$$" 2>/dev/null || true # gone with the namespace, unless busy
  done
  ip link del "$netns_br" 2>/dev/null || true
}

on() { local h=$1; shift; timeout "${NETNS_ON_TIMEOUT:-120}" ip netns exec "$netns_prefix$h$$" "$@"; }
exec_on_bg() { local h=$1; shift; ip netns exec "$netns_prefix$h$$" "$@" & }
link() { on "$1" ip link set eth0 "$2"; }

# netns_usable -- root and iproute2 with namespaces
netns_usable() { [ "$(id -u)" = 0 ] && command -v ip >/dev/null && ip netns list >/dev/null 2>&1; }

# netns_teardown -- the namespaces down, every process of $pids killed, $dir removed
netns_teardown() {
  netns_down
  local p
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "${KEEP:-}" ] || rm -rf "$dir"
}
