# Sourced by bench/gpu_carried_check.sh (section "extra"): generation on the GPU (issue 17),
# beyond the gpu.generate.* ctest cases. Uses that script's check, $S, $O and $W.
#   1. decode steps eager against replayed from CUDA graphs (item 9), examples/decode-1024.json
#      in bf16 at batch 1 and 8: `bench decode`'s table for each, the ratio read from the two
#      tables (launch-bound small batches are where graphs pay);
#   2. generate --cuda-graphs --validate on the small dense deployment with two microbatches:
#      the replayed steps against the unsharded eager reference (tokens identical).
for mode in eager graphs; do
  flags=(); [ $mode = graphs ] && flags=(--cuda-graphs)
  check decode-1024-$mode 0 orterun -np 1 $S bench decode examples/decode-1024.json --device cuda \
    --set workload.dtype=bf16 --batch 1 8 --context 256 1024 --new-tokens 32 --warmup 1 \
    "${flags[@]}" --json $O/decode-1024-$mode.json
done
check generate-cuda-graphs-validated 0 orterun -np 2 $S generate tests/deployments/generate-small.json \
  --device cuda --cuda-graphs --validate --prompts tests/deployments/generate-prompts.json \
  --set strategy.microbatches=2 --out $W/gen-graphs
grep -hE "validation|CUDA graphs" $O/generate-cuda-graphs-validated.txt | head -3
