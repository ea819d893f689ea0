#!/usr/bin/env bash
# weights_and_check.sh WORK FORMAT DTYPE SHARDS -- COMMAND...
# A checkpoint written by NumPy, run by shardrt, checked by NumPy:
#   1. `COMMAND --dump WORK/names` once with generated weights, for the weights' names and shapes;
#   2. write_checkpoint.py writes new values for every weight as FORMAT (safetensors | npy) in
#      DTYPE over SHARDS files into WORK/ckpt;
#   3. `COMMAND --weights WORK/ckpt --dump WORK/run` (COMMAND carries --validate: the unsharded
#      reference reads the same files);
#   4. every weight the run dumped must equal what the checkpoint holds (widened to fp32),
#      bit for bit, and differ from the generated one;
#   5. check_dump.py recomputes the run's output from those weights in float64.
# Exits 77 (skipped) without a python3 with NumPy.
set -u
work=$1 format=$2 dtype=$3 shards=$4
shift 4
[ "$1" = "--" ] && shift
here=$(cd "$(dirname "$0")" && pwd)

. "$here/find_numpy.sh"
fail() { echo "weights_and_check: FAIL: $*"; exit 1; }

rm -rf "$work"
"$@" --dump "$work/names" --out "$work/out-names" >/dev/null || fail "the run with generated weights failed"
"$python" "$here/write_checkpoint.py" "$work/names" "$work/ckpt" "$work/expected" \
  --format "$format" --dtype "$dtype" --shards "$shards" || fail "write_checkpoint.py failed"
"$@" --weights "$work/ckpt" --dump "$work/run" --out "$work/out-run" || fail "the run with --weights failed"
"$python" - "$work" <<'PY' || fail "the run's weights are not the checkpoint's"
import os, sys
import numpy as np
work = sys.argv[1]
names = [f for f in sorted(os.listdir(os.path.join(work, "expected")))]
for f in names:
    want = np.load(os.path.join(work, "expected", f))
    got = np.load(os.path.join(work, "run", f))
    generated = np.load(os.path.join(work, "names", f))
    if got.shape != want.shape or not np.array_equal(got, want):
        sys.exit("%s: the run used other values than the checkpoint's" % f)
    if np.array_equal(got, generated):
        sys.exit("%s: equal to the generated weight: the test proves nothing" % f)
print("weights_and_check: all %d weights the run used are the checkpoint's, bit for bit" % len(names))
PY
"$python" "$here/check_dump.py" "$work/run" || fail "check_dump.py disagrees with the run's output"
echo "weights_and_check: OK"
