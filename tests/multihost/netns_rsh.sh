#!/usr/bin/env bash
# mpirun's remote shell for the namespace hosts of netns_hosts.sh, in place of ssh:
#   netns_rsh.sh 10.231.0.K COMMAND...
# runs COMMAND (the orted that mpirun starts on each host) in host K-1's network namespace,
# in a UTS namespace named node(K-1), as ssh would run it on that machine. The namespace
# prefix comes from SHARDRT_NETNS_PREFIX, which mpirun passes on to its agent.
set -eu
host=$1
shift
case $host in
  10.231.0.*) index=$((${host##*.} - 1)) ;;
  *) echo "netns_rsh.sh: $host is not one of the namespace hosts (10.231.0.K)" >&2; exit 2 ;;
esac
exec ip netns exec "$SHARDRT_NETNS_PREFIX-h$index" \
  unshare --uts /bin/sh -c "hostname node$index && $*"
