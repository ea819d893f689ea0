#!/usr/bin/env bash
# A checkpoint holding NaN or Inf is refused at load (issue 15, item 5): the rank that reads the
# bad value ends the job with exit 2 and one line naming the file, the tensor and the index.
# The checkpoint is tiny-llama's --dump with one value overwritten in place (stdlib python).
#   weights_nan.sh SHARDRT_BINARY SOURCE_DIR WORK_DIR
set -uo pipefail
bin=$1 src=$2 work=$3
. "$(dirname "$0")/hand_made_checkpoint.sh"
rm -rf "$work" && mkdir -p "$work"
hand_made_checkpoint "$work/ckpt"  # edited in place below: no longer the dump's own files
# poke FILE ROW COL BITS: element [ROW, COL] of a 2-D fp32 .npy set to the float with BITS.
poke() {
  python3 - "$@" <<'PY'
import ast, struct, sys
path, row, col, bits = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4], 16)
with open(path, "r+b") as f:
    head = f.read(10)
    assert head[:6] == b"\x93NUMPY" and head[6] == 1
    n = struct.unpack("<H", head[8:10])[0]
    shape = ast.literal_eval(f.read(n).decode())["shape"]
    f.seek(10 + n + 4 * (row * shape[1] + col))
    f.write(struct.pack("<I", bits))
PY
}
failed=0
# expect NAME PATTERN: a tp 2 run on the poked checkpoint exits 2 with one line matching PATTERN.
expect() {
  local out rc
  out=$("${run[@]}" --weights "$work/ckpt" 2>&1)
  rc=$?
  if [ $rc -ne 2 ]; then
    echo "$1: exit $rc, expected 2"; echo "$out" | head -20; failed=1
  elif [ "$(grep -cE "$2" <<<"$out")" -ne 1 ]; then
    echo "$1: not one line matching /$2/:"; echo "$out" | head -20; failed=1
  else
    echo "$1: $(grep -E "$2" <<<"$out")"
  fi
}
w=model.layers.1.mlp.up_proj.weight  # (688, 256): rows 0-343 on tp rank 0, 344-687 on rank 1
poke "$work/ckpt/$w.npy" 3 232 7fc00000
expect nan "^shardrt: rank 0 on [^ ]+: error: .*/$w\.npy: $w: holds NaN at \[3, 232\] \(the first in this rank's slice"
poke "$work/ckpt/$w.npy" 3 232 3f800000  # back to a finite value
poke "$work/ckpt/$w.npy" 500 7 ff800000  # -Inf, in rank 1's rows
expect inf "^shardrt: rank 1 on [^ ]+: error: .*/$w\.npy: $w: holds -Inf at \[500, 7\]"
[ $failed -eq 0 ] && echo "weights_nan: OK"
exit $failed
