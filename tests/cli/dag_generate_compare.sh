#!/usr/bin/env bash
# dag_generate_compare.sh SHARDRT RANKS OUT_DIR DEPLOYMENT PROMPT_TOKENS [--moe] [--set ...] -- MPIRUN...
# `shardrt dag --generate` (a generation's dry run) against `generate --trace` (a traced one) of
# the same deployment: workload.batch_size requests of PROMPT_TOKENS tokens, two new tokens each.
#   1. both succeed, and `shardrt dag check` passes on all four graphs;
#   2. the prefill graphs are the same node for node and edge for edge, and so are the decode
#      step's: equal .dot files once the title line is dropped and the sizes that depend on the
#      data are masked (the dry run routes MoE tokens uniformly, the real run by scores).
# --moe (first after PROMPT_TOKENS): a MoE model. The real router's choices change the graph's
# structure, not only its sizes: an expert no token reached runs no FFN, and the rows a rank
# exchanges are split into as many views as the data makes (a prefill of 4 x 28 tokens already
# differs there from the dry run's uniform routing). Its graphs are held to `dag check` and the
# KV cache's nodes only; the dense cases are compared node for node.
set -u
shardrt=$1 ranks=$2 out=$3 deployment=$4 prompt=$5
shift 5
moe=0
[ "${1:-}" = "--moe" ] && { moe=1; shift; }
sets=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do sets+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
mpirun=("$@")
fail() { echo "dag_generate_compare: FAIL: $*"; exit 1; }

rm -rf "$out" && mkdir -p "$out"
batch=$(python3 -c "
import json, sys
d = json.load(open(sys.argv[1]))
b = d['workload']['batch_size']
for s in sys.argv[2:]:
    if s.startswith('workload.batch_size='): b = int(s.split('=')[1])
print(b)" "$deployment" $(printf '%s\n' "${sets[@]}" | grep -v '^--set$'))
ids=$(python3 -c "print(','.join(['0'] * $prompt))")
prompts=()
for ((i = 0; i < batch; ++i)); do prompts+=(--prompt "$ids"); done
"${mpirun[@]}" -np "$ranks" "$shardrt" generate "$deployment" --device cpu "${prompts[@]}" \
  --max-new-tokens 2 --ignore-eos --trace "$out/traced" --out "$out/gen" "${sets[@]}" \
  > "$out/generate.log" 2>&1 || { cat "$out/generate.log"; fail "the traced generation failed"; }
"$shardrt" dag "$deployment" --generate --prompt-tokens "$prompt" --out "$out/dry" "${sets[@]}" \
  > "$out/dag.log" 2>&1 || { cat "$out/dag.log"; fail "the generation dry run failed"; }
cat "$out/dag.log"

normalise() {
  grep -v '^  graph \[label=' "$1" | sed -E 's/(tokens|rows)=[0-9]+( \(of [0-9]+\))?/\1=N/g'
}
for phase in prefill decode; do
  traced=$(ls "$out"/traced/*-$phase.dot) dry=$(ls "$out"/dry/*-$phase.dot) ||
    fail "no $phase graph"
  for f in "$traced" "$dry"; do
    "$shardrt" dag check "$f" || fail "dag check rejects $f"
  done
  if [ $moe = 1 ]; then
    echo "dag_generate_compare: $phase: routed by scores, not compared node for node (--moe)"
    continue
  fi
  if ! diff <(normalise "$traced") <(normalise "$dry") > "$out/$phase.diff"; then
    head -20 "$out/$phase.diff"
    fail "the traced generation's $phase graph and the dry run's differ (see $out/$phase.diff)"
  fi
  echo "dag_generate_compare: $phase: $(grep -c '\[shape=' "$dry") nodes, the same in both"
done
grep -q "cache_write" "$out"/dry/*-decode.dot || fail "the decode graph draws no KV cache write"
echo "dag_generate_compare: PASS"
