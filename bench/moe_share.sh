#!/usr/bin/env bash
# What share of an MoE layer's time goes to moving tokens (dispatch + combine: capacity and
# routing bookkeeping, the permutations, both all-to-all(v) exchanges, the weighted combine and
# the tp all-gather) rather than to the router and the expert FFNs? Reads rank 0's --profile
# of one MoE layer (4096 tokens, hidden 1024, 8 experts, top-2) at ep=2, in ROUNDS runs.
#   bench/moe_share.sh [BUILD_DIR (default build)]     env: ROUNDS (3), EXPERT_FFN (4096)
set -euo pipefail
build=${1:-build}
rounds=${ROUNDS:-3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/moe.json" <<JSON
{
  "name": "moe_share_layer",
  "model": {"layers": 1, "hidden": 1024, "heads": 16, "kv_heads": 16, "head_dim": 64,
            "ffn_hidden": 4096, "norm": "rmsnorm", "activation": "swiglu",
            "moe": {"experts": 8, "top_k": 2, "expert_ffn_hidden": ${EXPERT_FFN:-4096}}},
  "workload": {"batch_size": 4, "seq_len": 1024},
  "strategy": {"tp": 1}
}
JSON
mpirun_flags=(--oversubscribe)
[[ $(id -u) == 0 ]] && mpirun_flags+=(--allow-run-as-root)

# label: extra --set arguments (ep=2 over a dp=2 or a tp=2 pair of ranks)
configs=("dp2_ep2:--set strategy.dp=2 --set strategy.ep=2"
         "tp2_ep2:--set strategy.tp=2 --set strategy.ep=2")
for ((r = 1; r <= rounds; ++r)); do
  for c in "${configs[@]}"; do
    label=${c%%:*}
    # shellcheck disable=SC2086
    mpirun "${mpirun_flags[@]}" -np 2 "$build/shardrt" run "$tmp/moe.json" ${c#*:} --device cpu \
      --threads 1 --warmup 1 --iters 3 --profile --out "$tmp/$label.$r" >/dev/null
  done
done

python3 - "$tmp" "$rounds" <<'PY'
import json, statistics, sys
tmp, rounds = sys.argv[1], int(sys.argv[2])
moe_ops = ("router", "dispatch", "expert_ffn", "combine")
for label in ("dp2_ep2", "tp2_ep2"):
    shares, layer_ms, parts = [], [], {op: [] for op in moe_ops}
    for r in range(1, rounds + 1):
        prof = {e["op"]: e["seconds"] for e in json.load(open(f"{tmp}/{label}.{r}/result.json"))["profile"]}
        moe = sum(prof.get(op, 0.0) for op in moe_ops)
        shares.append((prof.get("dispatch", 0.0) + prof.get("combine", 0.0)) / moe)
        layer_ms.append(moe * 1e3)
        for op in moe_ops:
            parts[op].append(prof.get(op, 0.0) * 1e3)
    detail = ", ".join(f"{op} {statistics.median(v):.1f} ms" for op, v in parts.items())
    print(f"{label}: MoE layer {statistics.median(layer_ms):.1f} ms ({detail}); "
          f"dispatch+combine share median {100 * statistics.median(shares):.1f}% "
          f"(rounds: {', '.join(f'{100 * s:.1f}%' for s in shares)})")
PY
