#!/usr/bin/env bash
# Signals a user sends (issue 15, item 9), on one process started without mpirun:
#  - SIGUSR1 as soon as the process catches it (SigCgt in /proc/PID/status), which is now the
#    first thing main does, before MPI_Init: the run goes on to exit 0 (before, the handler
#    came after MPI_Init, and a SIGUSR1 during it killed the rank). A fixed delay instead
#    (50 ms) raced the loader on a loaded machine;
#  - SIGINT (Ctrl-C) during the forward: one line "interrupted (SIGINT) in op ..." and exit 130
#    (before: exit 1, the code of a validation FAIL, and no word).
#   signals_at_start.sh SHARDRT_BINARY SOURCE_DIR WORK_DIR
set -uo pipefail
bin=$1 src=$2 work=$3
mkdir -p "$work"
run=("$bin" run "$src/examples/tiny-llama.json" --device cpu --set strategy.tp=1 --out "$work")
failed=0
"${run[@]}" --iters 2 >"$work/usr1.log" 2>&1 &
pid=$!
caught() {  # bit 10 of SigCgt: SIGUSR1 has a handler
  local mask
  mask=$(sed -n 's/^SigCgt:\s*//p' /proc/$pid/status 2>/dev/null)
  [ -n "$mask" ] && (( 0x$mask & 512 ))
}
for _ in $(seq 1 2000); do caught && break; sleep 0.001; done
kill -USR1 $pid
wait $pid; rc=$?
if [ $rc -ne 0 ]; then echo "SIGUSR1 at start: exit $rc, expected 0"; cat "$work/usr1.log"; failed=1
else echo "SIGUSR1 at start: exit 0 ($(grep -c SIGUSR1 "$work/usr1.log") SIGUSR1 line)"; fi
"${run[@]}" --iters 100000 >"$work/int.log" 2>&1 &
pid=$!
sleep 3
kill -INT $pid
wait $pid; rc=$?
if [ $rc -ne 130 ]; then echo "SIGINT: exit $rc, expected 130"; failed=1
elif ! grep -qE "^shardrt: rank 0 on [^ ]+: interrupted \(SIGINT\) in op " "$work/int.log"; then
  echo "SIGINT: no 'interrupted' line:"; cat "$work/int.log"; failed=1
else echo "SIGINT: exit 130, $(grep interrupted "$work/int.log")"; fi
[ $failed -eq 0 ] && echo "signals_at_start: OK"
exit $failed
