#!/usr/bin/env bash
# How close is the planner's prediction of a generation to the measured one (issue 17, item 8)?
# Plans a condition file with a generation objective, writes its top K plans, generates on
# every plan ROUNDS times with the objective's requests (the batch's prompts of prompt_tokens
# random ids, new_tokens each, greedy, --ignore-eos) and prints, per plan, the predicted and
# measured (median over the rounds) time to first token and time per output token, and
# measured / predicted.
#   bench/generate_accuracy.sh [BUILD_DIR (build)] [CONDITION.json (examples/plan/decode-1024-2cpu.json)]
#   env: TOP (5), ROUNDS (3)
# Calibrate first, on the machine that measures: a profile from another machine predicts that
# machine (mpirun -np 2 build/shardrt bench --calibrate --out examples/profiles/cpu-2core-decode.json).
set -euo pipefail
build=${1:-build}
file=${2:-examples/plan/decode-1024-2cpu.json}
top=${TOP:-5} rounds=${ROUNDS:-3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mpirun_flags=(--oversubscribe)
[[ $(id -u) == 0 ]] && mpirun_flags+=(--allow-run-as-root)

"$build/shardrt" plan "$file" --top "$top" --out-top "$tmp/plans" > /dev/null
python3 - "$file" "$tmp/prompts.json" <<'PY'
import json, random, sys
d = json.load(open(sys.argv[1]))
o, b = d["objective"], d["workload"]["batch_size"]
vocab = d["model"]["vocab_size"]
rng = random.Random(5)
reqs = [{"tokens": [rng.randrange(vocab) for _ in range(o["prompt_tokens"])],
         "max_new_tokens": o["new_tokens"]} for _ in range(b)]
json.dump({"requests": reqs}, open(sys.argv[2], "w"))
PY
printf '%-6s %-16s %12s %12s %6s %12s %12s %6s\n' plan "tp pp ep dp mb" ttft_pred ttft_meas ratio \
  tpot_pred tpot_meas ratio
for plan in "$tmp/plans"/plan-*.json; do
  read -r ranks degrees < <(python3 -c "
import json, sys
s = json.load(open(sys.argv[1]))['strategy']
print(s['tp'] * s['pp'] * s['dp'], s['tp'], s['pp'], s['ep'], s['dp'], s['microbatches'])" "$plan")
  ttft=() tpot=()
  for ((r = 1; r <= rounds; ++r)); do
    mpirun "${mpirun_flags[@]}" -np "$ranks" "$build/shardrt" generate "$plan" --device cpu \
      --threads 1 --prompts "$tmp/prompts.json" --ignore-eos --out "$tmp/out" > /dev/null
    read -r a b c d < <(python3 -c "
import json, sys
g = json.load(open(sys.argv[1]))
t, p = g['timings'], g['prediction']
print(t['time_to_first_token']['median_ms'], t['time_per_output_token']['median_ms'],
      p['time_to_first_token']['median_ms'], p['time_per_output_token']['median_ms'])" \
      "$tmp/out/generate.json")
    ttft+=("$a") tpot+=("$b") pttft=$c ptpot=$d
  done
  med() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
  mt=$(med "${ttft[@]}") mp=$(med "${tpot[@]}")
  printf '%-6s %-16s %12.2f %12.2f %6.2f %12.2f %12.2f %6.2f\n' \
    "$(basename "$plan" .json | cut -d- -f2)" "$degrees" "$pttft" "$mt" \
    "$(awk -v m="$mt" -v p="$pttft" 'BEGIN {print m / p}')" "$ptpot" "$mp" \
    "$(awk -v m="$mp" -v p="$ptpot" 'BEGIN {print m / p}')"
done
