#!/usr/bin/env bash
# Everything that needs a GPU, in one command, for anyone who has one:
#   bench/gpu_suite.sh [BUILD_DIR (default build)] [OUT_DIR (default gpu-suite-out)]
# 1. the GPU tests (ctest -L gpu: every CUDA kernel against the CPU one, and shardrt runs with
#    --device cuda for dense and MoE strategies, several ranks on one GPU where needed);
# 2. validated runs of the examples on the GPU, in fp32 and bf16, and traced runs whose DAG
#    `shardrt dag check` must pass;
# 3. each kernel's bandwidth against a device-to-device copy and cuBLAS's GEMM rate on the
#    layer's shapes (bench/cuda_kernel_bench);
# 4. where PyTorch exists, the Llama-3-8B-shaped dense layer and the Mixtral-shaped MoE layer
#    in PyTorch (bench/torch_layers.py) and in shardrt, on the same GPU, in bf16
#    (LAYER_DTYPE=fp32 for fp32), for docs/benchmarks.md; each layer also traced once, for the
#    cost of tracing (the traced pass beside the untraced median).
# Needs the build (with CUDA), mpirun and the CUDA/NCCL libraries on the library path.
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
out=${2:-gpu-suite-out}
mkdir -p "$out"
root_flag=()
[[ $(id -u) == 0 ]] && root_flag=(--allow-run-as-root)
# A hung rank must not hang the suite: every run has a wall-clock bound.
mpirun=(timeout 300 mpirun "${root_flag[@]}" --oversubscribe)
layer_dtype=${LAYER_DTYPE:-bf16}
status=0

nvidia-smi -L | tee "$out/device.txt" || { echo "gpu_suite: no GPU visible"; exit 2; }
date -u | tee -a "$out/device.txt"

echo "== 1. GPU tests"
(cd "$build" && ctest -L gpu --output-on-failure --timeout 300) 2>&1 | tee "$out/ctest-gpu.txt" || status=1

echo "== 2. examples on the GPU, validated"
for spec in tiny-llama:2 small-gpt:4 tiny-moe:2 llama3-8b-one-layer:2; do
  name=${spec%%:*} ranks=${spec#*:}
  for dtype in fp32 bf16; do
    "${mpirun[@]}" -np "$ranks" "$build/shardrt" run "examples/$name.json" --device cuda \
      --set workload.dtype=$dtype --validate --out "$out/$name-$dtype" 2>&1 |
      tee "$out/$name-$dtype.txt" || status=1
  done
done

echo "== 2b. traced GPU runs: the deployment DAG checked, the timeline written"
for spec in tiny-moe:2 llama3-8b-one-layer:2; do
  name=${spec%%:*} ranks=${spec#*:}
  "${mpirun[@]}" -np "$ranks" "$build/shardrt" run "examples/$name.json" --device cuda \
    --trace "$out/trace-$name" --out "$out/trace-$name/run" 2>&1 | tee "$out/trace-$name.txt" ||
    status=1
  for dot in "$out/trace-$name"/*.dot; do "$build/shardrt" dag check "$dot" || status=1; done
done

echo "== 3. kernels against a device-to-device copy, GEMMs against cuBLAS alone"
for dtype in fp32 bf16; do
  "$build/bench/cuda_kernel_bench" --dtype "$dtype" 2>&1 | tee "$out/kernels-$dtype.txt" || status=1
done

echo "== 4. layers against PyTorch"
layer_json() {  # layer_json moe|dense: one layer of the shapes bench/torch_layers.py uses
  local moe=""
  [[ $1 == moe ]] && moe=', "moe": {"experts": 8, "top_k": 2, "expert_ffn_hidden": 14336}'
  cat <<JSON
{"name": "$1-layer", "model": {"layers": 1, "hidden": 4096, "heads": 32, "kv_heads": 8,
 "head_dim": 128, "ffn_hidden": 14336, "norm": "rmsnorm", "activation": "swiglu",
 "rope_theta": 500000.0$moe}, "workload": {"batch_size": 8, "seq_len": 2048, "dtype": "$layer_dtype"}}
JSON
}
for kind in dense moe; do
  layer_json $kind >"$out/$kind-layer.json"
  "${mpirun[@]}" -np 1 "$build/shardrt" run "$out/$kind-layer.json" --device cuda --warmup 2 \
    --iters 10 --profile --trace "$out/shardrt-$kind/trace" --out "$out/shardrt-$kind" 2>&1 |
    tee "$out/shardrt-$kind.txt" || status=1
done
if python3 -c "import torch; assert torch.cuda.is_available()" 2>/dev/null; then
  timeout 500 python3 bench/torch_layers.py --dtype "$layer_dtype" --compile --json | tee "$out/torch.json" || status=1
else
  echo "no PyTorch with CUDA here: the PyTorch comparison is left out" | tee "$out/torch.json"
fi
echo "gpu_suite: results in $out/ (status $status)"
exit $status
