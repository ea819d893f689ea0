#!/usr/bin/env bash
# A rank frozen at start-up (issue 15, item 8): one rank is stopped (SIGSTOP) as soon as it
# exists, inside MPI_Init or just after; the other's start-up watch must end the job within
# --timeout + 2 s with exit 4 and one line naming its rank and the phase, and leave no process.
# Before, the job hung whatever --timeout said (bounded here at 30 s).
#   startup_stall.sh SHARDRT_BINARY SOURCE_DIR WORK_DIR
set -uo pipefail
bin=$1 src=$2 work=$3
mkdir -p "$work"
mpi=(mpirun --oversubscribe -np 2)
[ "$(id -u)" -eq 0 ] && mpi+=(--allow-run-as-root)
start=$(date +%s.%N)
timeout -s KILL 30 "${mpi[@]}" "$bin" run "$src/examples/tiny-llama.json" --device cpu --timeout 3 \
  --out "$work/out" >"$work/log" 2>&1 &
job=$!
pid=""
for _ in $(seq 1 500); do
  pid=$(pgrep -f "^$bin run .* --out $work/out" | head -1)  # this test's ranks only
  [ -n "$pid" ] && break
  sleep 0.01
done
[ -n "$pid" ] || { echo "startup_stall: no rank appeared"; kill $job; exit 1; }
kill -STOP "$pid"
wait $job; rc=$?
elapsed=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
line=$(grep -E "^shardrt: rank [01] on [^ ]+: error: start-up: .* has not finished after 3\.[0-9] s \(--timeout 3\.0\): another rank is stopped, gone or unreachable$" "$work/log")
left=$(pgrep -f "^$bin run .* --out $work/out" | wc -l)
kill -KILL $(pgrep -f "^$bin run .* --out $work/out") 2>/dev/null
echo "startup_stall: rank $pid stopped; job ended after ${elapsed} s, exit $rc: $line"
failed=0
[ "$rc" -eq 4 ] || { echo "startup_stall: FAIL: exit $rc, expected 4"; cat "$work/log" | head; failed=1; }
[ -n "$line" ] || { echo "startup_stall: FAIL: no start-up line"; failed=1; }
awk -v e="$elapsed" 'BEGIN { exit !(e > 5.0 + 1.0) }' && { echo "startup_stall: FAIL: over --timeout + 2 s (and 1 s to launch)"; failed=1; }
[ "$left" -eq 0 ] || { echo "startup_stall: FAIL: $left rank process(es) left"; failed=1; }
[ $failed -eq 0 ] && echo "startup_stall: OK"
exit $failed
