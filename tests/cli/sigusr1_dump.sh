#!/usr/bin/env bash
# sigusr1_dump.sh SHARDRT DEPLOYMENT OUT -- MPIRUN...
# Starts a 2-rank run in which rank 1 stalls (watchdog at 20 s), sends SIGUSR1 to both ranks
# after 3 s, and passes when each rank printed where it is and its last collectives, and the
# watchdog then ended the job.
set -u
shardrt=$1 deployment=$2 out=$3
shift 3
[ "$1" = "--" ] && shift
fail() { echo "sigusr1_dump: FAIL: $*"; exit 1; }
log=$(mktemp)
"$@" -np 2 "$shardrt" run "$deployment" --device cpu --warmup 0 --iters 1 --timeout 20 \
  --test-fault 1:20:stall --out "$out" > "$log" 2>&1 &
job=$!
sleep 3
pkill -USR1 -f -- "run $deployment .*--out $out" || fail "no rank to signal"
wait $job
code=$?
cat "$log"
grep -qE "^shardrt: rank 1 on [^ ]+: SIGUSR1: in op v_proj of layer 1, microbatch 0$" "$log" ||
  fail "rank 1 did not say where it is"
grep -qE "^shardrt: rank 0 on [^ ]+: SIGUSR1: in op all_reduce of layer 1, microbatch 0$" "$log" ||
  fail "rank 0 did not say where it is"
grep -qE "^shardrt: rank 0 on [^ ]+:   tp +all_reduce .* still waiting$" "$log" ||
  fail "rank 0's collective log is missing"
[ "$code" -ne 0 ] || fail "the stalled job exited 0"
echo "sigusr1_dump: OK (exit $code)"
