#!/usr/bin/env bash
# dump_and_check.sh EXPECT DUMP_DIR -- COMMAND...
# Runs COMMAND (a `shardrt run ... --dump DUMP_DIR`), then recomputes the dump with NumPy
# (check_dump.py) and passes when the check's exit code is EXPECT (0: agrees, 1: disagrees).
# Exits 77, which ctest reports as skipped, when no Python with NumPy is installed.
set -u
expect=$1 dump=$2
shift 2
[ "$1" = "--" ] && shift
here=$(cd "$(dirname "$0")" && pwd)

. "$here/find_numpy.sh"

rm -rf "$dump"
"$@" || { echo "dump_and_check: FAIL: the run itself failed"; exit 1; }
"$python" "$here/check_dump.py" "$dump"
got=$?
[ "$got" -eq "$expect" ] || { echo "dump_and_check: FAIL: check exited $got, expected $expect"; exit 1; }
echo "dump_and_check: OK"
