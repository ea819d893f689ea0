#!/usr/bin/env bash
# Hosts made of Linux network namespaces on this machine, for testing what crosses a network:
#   netns_hosts.sh up PREFIX N     N hosts PREFIX-h0 .. PREFIX-h(N-1), 10.231.0.1 .. 10.231.0.N/24,
#                                  joined by a bridge in a namespace of its own (PREFIX-sw), so
#                                  that nothing is added to this machine's own network
#   netns_hosts.sh down PREFIX     kills every process left in them and deletes them
# Each host is a namespace with its own loopback and one veth; its name ("node0", ...) comes
# from netns_rsh.sh, which starts its processes in a UTS namespace of their own. Needs root.
set -euo pipefail
cmd=$1 prefix=$2
case $cmd in
  up)
    n=$3
    ip netns add "$prefix-sw"
    ip -n "$prefix-sw" link set lo up
    ip -n "$prefix-sw" link add br0 type bridge
    ip -n "$prefix-sw" link set br0 up
    for ((i = 0; i < n; i++)); do
      ip netns add "$prefix-h$i"
      # Both ends are made inside their namespaces: no name is taken on this machine's own.
      ip -n "$prefix-sw" link add "port$i" type veth peer name eth0 netns "$prefix-h$i"
      ip -n "$prefix-sw" link set "port$i" master br0 up
      ip -n "$prefix-h$i" addr add "10.231.0.$((i + 1))/24" dev eth0
      ip -n "$prefix-h$i" link set eth0 up
      ip -n "$prefix-h$i" link set lo up
    done
    ;;
  down)
    for ns in $(ip netns list | awk '{print $1}' | grep -E "^$prefix-(h[0-9]+|sw)$" || true); do
      pids=$(ip netns pids "$ns" 2>/dev/null || true)
      [ -n "$pids" ] && kill -9 $pids 2>/dev/null || true
      ip netns del "$ns" 2>/dev/null || true
    done
    ;;
  *)
    echo "usage: netns_hosts.sh up PREFIX N | down PREFIX" >&2
    exit 2
    ;;
esac
