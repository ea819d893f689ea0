#!/usr/bin/env bash
# expect_fault.sh BOUND EXIT PATTERN COUNT MARKER -- COMMAND...
# Runs COMMAND (an mpirun job in which a rank fails on purpose) and passes when the job ends
# within BOUND seconds (a hang is the failure this guards against, not a slow run), with exit
# code EXIT ("nonzero": any but 0), when COUNT lines match the extended regex PATTERN ("+": at
# least one), and when no process whose command line holds MARKER is left behind.
set -u
bound=$1 want_exit=$2 pattern=$3 want_count=$4 marker=$5
shift 5
[ "$1" = "--" ] && shift
fail() { echo "expect_fault: FAIL: $*"; exit 1; }

start=$(date +%s.%N)
out=$(timeout -k 5 "$bound" "$@" 2>&1)
got_exit=$?
elapsed=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f", b - a }')
printf '%s\n' "$out"
echo "---- expect_fault: exit $got_exit (want $want_exit) after ${elapsed}s (bound ${bound}s)"
[ "$got_exit" -ne 124 ] && [ "$got_exit" -ne 137 ] || fail "the job did not end within ${bound}s"
if [ "$want_exit" = "nonzero" ]; then
  [ "$got_exit" -ne 0 ] || fail "exit code 0, expected a failure"
else
  [ "$got_exit" -eq "$want_exit" ] || fail "exit code $got_exit, expected $want_exit"
fi
count=$(printf '%s\n' "$out" | grep -cE -- "$pattern")
if [ "$want_count" = "+" ]; then
  [ "$count" -ge 1 ] || fail "no line matches /$pattern/"
else
  [ "$count" -eq "$want_count" ] || fail "$count lines match /$pattern/, expected $want_count"
fi
sleep 1  # mpirun returns as it kills; give the kernel a moment to reap
# The job's processes: ranks and the launcher (this script's own command line holds the
# marker too, so match by program name).
left=""
for pid in $(pgrep -f -- "$marker"); do
  case $(cat "/proc/$pid/comm" 2>/dev/null) in
    shardrt | mpirun | orterun | prterun) left="$left $pid" ;;
  esac
done
if [ -n "$left" ]; then
  ps -o pid,comm,args -p "$(echo $left | tr ' ' ',')"
  fail "processes of the job are still running:$left"
fi
echo "expect_fault: OK"
