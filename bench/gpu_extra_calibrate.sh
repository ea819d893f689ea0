# Sourced by bench/gpu_carried_check.sh (section "extra"): the planner's profile of this GPU
# (issue 18, item 5), never measured on one yet. Uses that script's check, $S, $O and $W.
#   1. `bench --calibrate --device cuda` on one rank: $O/profile-gpu.json, to keep as
#      examples/profiles/<gpu>.json;
#   2. single-GPU forwards in bf16 priced with it and measured: `run` prints both ("predicted"
#      beside "forward") for a condition file holding one GPU with that profile. Goal: within
#      15% (docs/planner.md, "Calibrated profile").
check calibrate-cuda 0 orterun -np 1 $S bench --calibrate --device cuda --out $O/profile-gpu.json
python3 - "$O" "$W" <<'PY'
import json, sys
out, work = sys.argv[1], sys.argv[2]
cases = [("llama3-8b-one-layer", "examples/llama3-8b-one-layer.json", 1, 2048),
         ("llama3-8b-one-layer-b8", "examples/llama3-8b-one-layer.json", 8, 512),
         ("decode-1024-forward", "examples/decode-1024.json", 8, 1024)]
for name, path, batch, seq in cases:
    d = json.load(open(path))
    d["name"] = name
    d["workload"].update({"batch_size": batch, "seq_len": seq, "dtype": "bf16"})
    d["strategy"] = {"tp": 1, "pp": 1, "ep": 1, "dp": 1}
    d.pop("plan", None)
    d["cluster"] = {"groups": [{"name": "gpu", "nodes": 1, "gpus_per_node": 1,
                                "gpu": {"memory_gib": 100, "profile": out + "/profile-gpu.json"}}]}
    json.dump(d, open(f"{work}/predict-{name}.json", "w"), indent=1)
PY
for name in llama3-8b-one-layer llama3-8b-one-layer-b8 decode-1024-forward; do
  check predict-$name 0 orterun -np 1 $S run $W/predict-$name.json --device cuda --warmup 2 \
    --iters 10 --out $W/predict-out
  grep -hE "^  (forward|predicted)" $O/predict-$name.txt
done
