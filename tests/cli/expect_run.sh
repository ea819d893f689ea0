#!/usr/bin/env bash
# expect_run.sh EXIT PATTERN COUNT -- COMMAND...
# Runs COMMAND and passes when it exits with EXIT, when exactly COUNT lines of its output
# (stdout and stderr together) match the extended regex PATTERN (COUNT "+" = at least one),
# and when nothing in the output looks like a crash (uncaught exception, signal, backtrace).
set -u
want_exit=$1 pattern=$2 want_count=$3
shift 3
[ "$1" = "--" ] && shift

out=$("$@" 2>&1)
got_exit=$?
printf '%s\n' "$out"
echo "---- expect_run: exit $got_exit (want $want_exit), pattern /$pattern/ x $want_count"

fail() { echo "expect_run: FAIL: $*"; exit 1; }
[ "$got_exit" -eq "$want_exit" ] || fail "exit code $got_exit, expected $want_exit"
count=$(printf '%s\n' "$out" | grep -cE -- "$pattern")
if [ "$want_count" = "+" ]; then
  [ "$count" -ge 1 ] || fail "no line matches /$pattern/"
else
  [ "$count" -eq "$want_count" ] || fail "$count lines match /$pattern/, expected $want_count"
fi
if printf '%s\n' "$out" | grep -qE 'terminate called|Segmentation fault|core dumped|Backtrace|what\(\):|signal [0-9]+'; then
  fail "the output shows a crash"
fi
echo "expect_run: OK"
