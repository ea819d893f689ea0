#!/usr/bin/env bash
# How close is the planner's prediction to the measured forward? Plans each condition file,
# writes its top K plans, runs every plan ROUNDS times (each run the median of ITERS forwards)
# and prints predicted, measured (the median of the rounds) and measured / predicted.
#   bench/plan_accuracy.sh [BUILD_DIR (build)] [CONDITION.json ...]
#   env: TOP (4), ROUNDS (3), ITERS (5)
# Default files: the two small examples, priced with examples/profiles/cpu-2core.json (run
# `mpirun -np 2 build/shardrt bench --calibrate --out examples/profiles/cpu-2core.json` on
# the machine first: a profile from another machine predicts that machine).
set -euo pipefail
build=${1:-build}
shift || true
files=("$@")
[[ ${#files[@]} -gt 0 ]] || files=(examples/plan/small-moe-2cpu.json examples/plan/small-dense-2cpu.json)
top=${TOP:-4} rounds=${ROUNDS:-3} iters=${ITERS:-5}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mpirun_flags=(--oversubscribe)
[[ $(id -u) == 0 ]] && mpirun_flags+=(--allow-run-as-root)

printf '%-18s %-4s %-16s %12s %12s %9s\n' file plan "tp pp ep dp mb" predicted_ms measured_ms ratio
for file in "${files[@]}"; do
  name=$(basename "$file" .json)
  "$build/shardrt" plan "$file" --top "$top" --out-top "$tmp/$name" > /dev/null
  for plan in "$tmp/$name"/plan-*.json; do
    read -r ranks degrees < <(python3 -c "
import json, sys
s = json.load(open(sys.argv[1]))['strategy']
print(s['tp'] * s['pp'] * s['dp'], s['tp'], s['pp'], s['ep'], s['dp'], s['microbatches'])" "$plan")
    measured=() predicted=
    for ((r = 1; r <= rounds; ++r)); do
      out=$(mpirun "${mpirun_flags[@]}" -np "$ranks" "$build/shardrt" run "$plan" --device cpu \
              --iters "$iters" --out "$tmp/out")
      measured+=("$(sed -n 's/^  forward *\([0-9.]*\) ms.*/\1/p' <<<"$out")")
      predicted=$(sed -n 's/^  predicted *\([0-9.]*\) ms.*/\1/p' <<<"$out")
    done
    median=$(printf '%s\n' "${measured[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    printf '%-18s %-4s %-16s %12.2f %12.2f %9.2f\n' "$name" "$(basename "$plan" .json | cut -d- -f2)" \
      "$degrees" "$predicted" "$median" "$(awk -v m="$median" -v p="$predicted" 'BEGIN {print m / p}')"
  done
done
