#!/usr/bin/env bash
# numerics_same_result.sh DIR -- COMMAND...
# Runs COMMAND (a `shardrt run` without --check-numerics) twice, as given and with
# --check-numerics, each with --dump, and passes when both exit 0, the checked run says it found
# nothing, and the two outputs are the same bytes: the check only reads.
set -u
dir=$1
shift
[ "$1" = "--" ] && shift
rm -rf "$dir"
fail() { echo "numerics_same_result: FAIL: $*"; exit 1; }
"$@" --out "$dir/plain-out" --dump "$dir/plain" || fail "the run without --check-numerics failed"
checked=$("$@" --out "$dir/checked-out" --dump "$dir/checked" --check-numerics 2>&1)
rc=$?
printf '%s\n' "$checked"
[ "$rc" -eq 0 ] || fail "the run with --check-numerics exited $rc"
printf '%s\n' "$checked" | grep -qE '^  numerics  no NaN or Inf in any op output' ||
  fail "the checked run did not report its check"
cmp "$dir/plain/output.npy" "$dir/checked/output.npy" ||
  fail "--check-numerics changed the output"
echo "numerics_same_result: OK (output.npy identical)"
