#!/usr/bin/env bash
# The cost of tracing on this machine: `shardrt run --trace` times one traced forward pass
# beside the median of the untraced ones in the same run; ROUNDS runs of each deployment.
#   ROUNDS=5 bench/trace_overhead.sh [BUILD_DIR]
# Deployments: the one-layer dense layer of bench/cpu_scaling.sh at tp 2, and
# tests/deployments/small-moe.json at tp 2 x ep 2 (many small ops: the worst case per op).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
rounds=${ROUNDS:-5}
tmp=$(mktemp -d)
root=()
[[ $(id -u) == 0 ]] && root=(--allow-run-as-root)
cat >"$tmp/layer.json" <<JSON
{"name": "layer", "model": {"layers": 1, "hidden": 1024, "heads": 16, "kv_heads": 16,
 "head_dim": 64, "ffn_hidden": 4096, "norm": "rmsnorm", "activation": "swiglu"},
 "workload": {"batch_size": 4, "seq_len": 512}, "strategy": {"tp": 2}}
JSON
run() {  # run NAME DEPLOYMENT ARGS...: prints "NAME traced_ms untraced_ms ratio"
  local name=$1 deployment=$2
  shift 2
  mpirun --oversubscribe "${root[@]}" -np 2 "$build/shardrt" run "$deployment" --device cpu \
    --threads 1 --warmup 2 --iters 7 --trace "$tmp/trace" --out "$tmp/out" "$@" 2>&1 |
    awk -v n="$name" '/traced pass/ {t=$4; u=$8; printf "%s %s %s %.3f\n", n, t, u, t/u}'
}
for r in $(seq "$rounds"); do
  run dense-layer "$tmp/layer.json"
  run small-moe tests/deployments/small-moe.json --set strategy.tp=2 --set strategy.ep=2
done | tee "$tmp/all.txt"
echo "# median traced/untraced per deployment over $rounds rounds"
for name in dense-layer small-moe; do
  grep "^$name " "$tmp/all.txt" | awk '{print $4}' | sort -n |
    awk -v n="$name" '{a[NR]=$1} END {print n, a[int((NR+1)/2)]}'
done
rm -rf "$tmp"
