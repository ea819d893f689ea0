#!/usr/bin/env bash
# calibrate_and_check.sh CHECK_PROFILE OUT RANKS -- COMMAND...
# Runs COMMAND (an `mpirun -np RANKS shardrt bench --calibrate --out OUT`), then reads the
# profile it wrote with CHECK_PROFILE, the planner's loader; passes when both exit 0.
set -u
check=$1 out=$2 ranks=$3
shift 3
[ "$1" = "--" ] && shift
rm -f "$out"
"$@" 2>&1
rc=$?
echo "---- calibrate_and_check: calibration exit $rc"
[ "$rc" -eq 0 ] || { echo "calibrate_and_check: FAIL: calibration exit $rc"; exit 1; }
"$check" "$out" "$ranks" || { echo "calibrate_and_check: FAIL: the profile does not load"; exit 1; }
echo "calibrate_and_check: OK"
