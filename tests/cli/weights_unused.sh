#!/usr/bin/env bash
# Tensors a checkpoint holds under model.layers. that the model does not compute with (issue 15,
# item 4): each refused on every rank with its name and what it would have done, exit 2,
# instead of running another model than the checkpoint's. A rotary_emb.inv_freq buffer passes
# when it holds rope_theta's frequencies and is refused when it holds others (a RoPE scaling);
# tensors outside the layers (lm_head) pass, and the summary names them.
# The checkpoint is tiny-llama's hand-made checkpoint (hand_made_checkpoint.sh) plus one .npy
# written by stdlib python.
#   weights_unused.sh SHARDRT_BINARY SOURCE_DIR WORK_DIR
set -uo pipefail
bin=$1 src=$2 work=$3
. "$(dirname "$0")/hand_made_checkpoint.sh"
rm -rf "$work" && mkdir -p "$work"
hand_made_checkpoint "$work/clean"
# add NAME DIM...: a copy of the clean checkpoint with NAME.npy (fp32) added: zeros, or with
# ROPE=THETA the 1-D rotary frequencies THETA^(-2i/head_dim) for head_dim 2 * DIM.
add() {
  rm -rf "$work/ckpt" && cp -r "$work/clean" "$work/ckpt"
  ROPE=${ROPE:-} python3 - "$work/ckpt/$1.npy" "${@:2}" <<'PY'
import os, struct, sys
path, dims = sys.argv[1], [int(d) for d in sys.argv[2:]]
header = "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }" % "".join(f"{d}, " for d in dims)
header += " " * (63 - (10 + len(header)) % 64) + "\n"
n = 1
for d in dims: n *= d
with open(path, "wb") as f:
    data = bytes(4 * n)
    if os.environ["ROPE"]:
        data = struct.pack(f"<{n}f", *(float(os.environ["ROPE"]) ** (-i / n) for i in range(n)))
    f.write(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + data)
PY
}
failed=0
# refused NAME WHAT DIM...: the run exits 2 with one line per rank naming NAME and WHAT.
refused() {
  local name=$1 what=$2; shift 2
  add "$name" "$@"
  local out rc n
  out=$("${run[@]}" --weights "$work/ckpt" 2>&1); rc=$?
  n=$(grep -cF -- "--weights: $name in $work/ckpt/$name.npy is not used by this model: $what; running without it would compute another model" <<<"$out")
  if [ $rc -ne 2 ] || [ "$n" -ne 2 ]; then
    echo "$name: exit $rc (want 2), $n lines (want 2):"; echo "$out" | head -5; failed=1
  else
    echo "$name: refused ($what)"
  fi
}
refused model.layers.0.self_attn.q_proj.bias "a bias added to that projection's output" 256
refused model.layers.1.self_attn.k_norm.weight "a per-head norm of the queries or keys" 32
refused model.layers.2.mlp.gate.e_score_correction_bias "a bias on the router's scores when choosing experts" 8
refused model.layers.0.mlp.shared_expert_gate.weight "a gate that scales the shared expert's output" 1 256
refused model.layers.4.mlp.up_proj.weight "a weight this model's config does not compute with" 688 256
# A rotary buffer of another theta (as a RoPE scaling would store): refused, naming element 1.
ROPE=500000 add model.layers.0.self_attn.rotary_emb.inv_freq 16
out=$("${run[@]}" --weights "$work/ckpt" 2>&1); rc=$?
n=$(grep -cE -- "--weights: model\.layers\.0\.self_attn\.rotary_emb\.inv_freq in .*: holds rotary frequencies other than rope_theta 10000\.0+ gives \(element 1: .*\): a RoPE scaling this model's config does not have$" <<<"$out")
if [ $rc -ne 2 ] || [ "$n" -ne 2 ]; then
  echo "inv_freq of theta 500000: exit $rc (want 2), $n lines (want 2):"; echo "$out" | head -5; failed=1
else
  echo "inv_freq of theta 500000: refused"
fi
# Passes: rope_theta's own rotary buffer, and lm_head outside the layers, both named by the
# summary.
ROPE=10000 add model.layers.0.self_attn.rotary_emb.inv_freq 16
python3 - "$work/ckpt/lm_head.weight.npy" <<'PY'
import shutil, sys
shutil.copy(sys.argv[1].replace("lm_head.weight", "model.norm.weight"), sys.argv[1])
PY
out=$("${run[@]}" --weights "$work/ckpt" 2>&1); rc=$?
if [ $rc -ne 0 ] || ! grep -qF "4 not used by the model: input, lm_head.weight, model.layers.0.self_attn.rotary_emb.inv_freq, output)" <<<"$out"; then
  echo "inv_freq and lm_head: exit $rc (want 0), or the summary does not name them:"; echo "$out" | grep -E "weights|error" | head -5; failed=1
else
  echo "inv_freq and lm_head: pass, named in the summary"
fi
[ $failed -eq 0 ] && echo "weights_unused: OK"
exit $failed
