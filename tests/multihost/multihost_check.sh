#!/usr/bin/env bash
# shardrt across hosts (issue 15, item 10), with network namespaces on this machine as the
# hosts: netns_hosts.sh makes three (node0, node1, node2 at 10.231.0.1-3), mpirun runs in
# node0 and starts its daemons on the others through netns_rsh.sh instead of ssh, and every
# address used is inside those namespaces (mpirun's oob and tcp btl are held to 10.231.0.0/24,
# the lifeline listens only on what the namespace has). Two slots per host, so ranks 0-1 run
# on node0, 2-3 on node1, 4-5 on node2. Checks:
#   - tp, ep (with dp) and pp deployments spanning the hosts pass --validate; result.json
#     places every rank on its host with its index among that host's ranks (which GPU it
#     would take), and no run reports a lost rank or a missing lifeline;
#   - bad input: every rank's error line names its own host;
#   - a host that disappears mid-run (all of node2's processes killed): the job ends within
#     --timeout, a line names the lost rank, its host and the host's other rank, and nothing
#     is left running in any namespace.
#   multihost_check.sh SHARDRT MPIRUN SOURCE_DIR WORK_DIR
# Exits 77 (ctest: skipped) with the reason where namespaces cannot be made (not root, no
# iproute2, a sandbox without CAP_NET_ADMIN).
set -uo pipefail
bin=$1 mpirun=$2 src=$3 work=$4
here=$(cd "$(dirname "$0")" && pwd)
skip() { echo "SKIPPED: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "making network namespaces needs root"
command -v ip >/dev/null && command -v unshare >/dev/null || skip "needs ip (iproute2) and unshare"
prefix="srt$$"
ip netns add "$prefix-probe" 2>/dev/null || skip "this machine does not allow network namespaces"
ip netns del "$prefix-probe"
trap '"$here/netns_hosts.sh" down "$prefix"' EXIT
"$here/netns_hosts.sh" up "$prefix" 3 || { echo "FAIL: could not make the hosts"; exit 1; }
export SHARDRT_NETNS_PREFIX=$prefix OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
rm -rf "$work" && mkdir -p "$work"
printf '10.231.0.1 slots=2\n10.231.0.2 slots=2\n10.231.0.3 slots=2\n' >"$work/hostfile"

failed=0
fail() { echo "FAIL: $*"; failed=1; }

# launch NP ARGS...: mpirun in node0 across the hosts.
launch() {
  local np=$1
  shift
  ip netns exec "$prefix-h0" unshare --uts /bin/sh -c 'hostname node0 && exec "$@"' sh \
    "$mpirun" --oversubscribe --hostfile "$work/hostfile" -np "$np" \
    --mca plm_rsh_agent "$here/netns_rsh.sh" \
    --mca oob_tcp_if_include 10.231.0.0/24 --mca btl_tcp_if_include 10.231.0.0/24 \
    "$bin" "$@"
}

# validated NAME NP DEPLOYMENT ARGS...: a run spanning the hosts must PASS and place its ranks.
validated() {
  local name=$1 np=$2 deployment=$3
  shift 3
  local out="$work/$name"
  launch "$np" run "$deployment" --device cpu --validate --warmup 0 --iters 1 --out "$out" "$@" \
    >"$work/$name.log" 2>&1
  local rc=$?
  sed 's/^/    /' "$work/$name.log"
  [ $rc -eq 0 ] || { fail "$name: exit $rc"; return; }
  grep -qE "^  validate .* PASS$" "$work/$name.log" || fail "$name: no validate PASS line"
  ! grep -qE "lifeline|: error: " "$work/$name.log" || fail "$name: a lifeline or error line"
  # Rank r runs on node(r/2) as the (r%2)-th rank there: what the hostfile's slots say.
  python3 - "$out/result.json" "$np" <<'PY' || fail "$name: result.json does not place the ranks"
import json, sys
ranks = json.load(open(sys.argv[1]))["ranks"]
assert len(ranks) == int(sys.argv[2]), len(ranks)
for r in ranks:
    want = ("node%d" % (r["rank"] // 2), r["rank"] % 2, "cpu")
    got = (r["host"], r["node_rank"], r["device"])
    assert got == want, "rank %d: %s, expected %s" % (r["rank"], got, want)
print("    placement: " + ", ".join("%d@%s#%d" % (r["rank"], r["host"], r["node_rank"]) for r in ranks))
PY
  echo "  $name: ok"
}

echo "== validated runs across the hosts"
validated tp4 4 "$src/examples/tiny-llama.json" --set strategy.tp=4
validated tp2_dp2_ep4 4 "$src/examples/tiny-moe.json" --set strategy.tp=2 --set strategy.dp=2 \
  --set strategy.ep=4
validated tp2_pp3 6 "$src/examples/small-gpt.json" --set strategy.tp=2 --set strategy.pp=3 \
  --set strategy.microbatches=2

echo "== bad input: each rank's line names its host"
launch 4 run "$src/examples/tiny-llama.json" --device cpu --set strategy.tp=2 \
  --out "$work/bad" >"$work/bad.log" 2>&1
rc=$?
sed 's/^/    /' "$work/bad.log"
[ $rc -eq 2 ] || fail "bad input: exit $rc, expected 2"
for r in 0 1 2 3; do
  n=$(grep -cE "^shardrt: rank $r on node$((r / 2)): error: strategy: tp\*pp\*dp = 2\*1\*1 = 2 must equal the number of ranks launched \(4\)$" "$work/bad.log")
  [ "$n" -eq 1 ] || fail "bad input: $n lines for rank $r on node$((r / 2)), expected 1"
done

echo "== node2 disappears mid-run"
launch 6 run "$src/examples/small-gpt.json" --device cpu --set strategy.tp=2 --set strategy.pp=3 \
  --warmup 0 --iters 100000 --timeout 20 --out "$work/lost" >"$work/lost.log" 2>&1 &
job=$!
# Wait until node2's ranks are in the forward (its processes have been up a while), then kill
# everything on node2, its daemon included, as a host that loses power would lose them.
for _ in $(seq 1 100); do
  [ "$(ip netns pids "$prefix-h2" | wc -l)" -ge 3 ] && break
  sleep 0.1
done
sleep 2
killed_at=$(date +%s.%N)
ip netns pids "$prefix-h2" | xargs -r kill -9
# Bounded by the run's --timeout: the watchdog's bound, which the job must not outlive.
timeout -k 2 20 tail --pid=$job -f /dev/null
ended=$(awk -v a="$killed_at" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
wait $job
rc=$?
sed 's/^/    /' "$work/lost.log" | grep -vE '^    shardrt: rank [0-9]+ on node[0-9]:   '
echo "  the job ended ${ended} s after node2's processes were killed, exit $rc"
awk -v t="$ended" 'BEGIN { exit !(t < 20) }' || fail "node2 lost: the job outlived --timeout 20"
[ $rc -ne 0 ] || fail "node2 lost: exit 0"
grep -qE "^shardrt: rank [0-3] on node[01]: error: lost rank 4 on node2: its lifeline closed without a farewell \(the process was killed, or node2 went away\); node2 also ran rank 5; this rank ends" "$work/lost.log" ||
  fail "node2 lost: no line names rank 4 on node2 and its other rank"
sleep 1
for h in 0 1 2; do
  left=$(ip netns pids "$prefix-h$h" | wc -l)
  [ "$left" -eq 0 ] || { fail "node$h: $left processes left behind"; ps -o pid,args -p "$(ip netns pids "$prefix-h$h" | paste -sd,)"; }
done

[ $failed -eq 0 ] && echo "multihost_check: OK"
exit $failed
