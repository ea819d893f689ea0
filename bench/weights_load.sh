#!/usr/bin/env bash
# bench/weights_load.sh BUILD_DIR [WORK_DIR] [ROUNDS]
# How long building the shards takes with `run --weights` against generating the weights, for
# the Llama-3-8B-shaped layer of examples/llama3-8b-one-layer.json (218 M parameters):
#   generated        the weights made from the seed (SplitMix64, runtime/weight_generator.h)
#   npy F32          the --dump of that run read back (837 MB)
#   safetensors BF16 the same shapes as BF16 in 2 shards, written by tests/cli/write_checkpoint.py
# each at tp 1 and tp 2, ROUNDS (default 3) rounds in alternation; prints each case's medians
# of result.json's weights.build_seconds (the slowest rank's whole build: allocating, filling
# and storing every weight) and read_seconds_of_that_rank (reading and widening the files'
# bytes, by the rank that read the most), and max_bytes_read_per_rank. The files
# are read from the page cache after the first round: this measures parsing, slicing and
# widening, not the disk.
set -euo pipefail
build=${1:?usage: bench/weights_load.sh BUILD_DIR [WORK_DIR] [ROUNDS]}
work=${2:-/tmp/shardrt-weights-load}
rounds=${3:-3}
here=$(cd "$(dirname "$0")/.." && pwd)
mpirun=(mpirun --oversubscribe)
[ "$(id -u)" -eq 0 ] && mpirun+=(--allow-run-as-root)
run=("$build/shardrt" run "$here/examples/llama3-8b-one-layer.json" --device cpu --warmup 0 --iters 1)

if [ ! -d "$work/ckpt" ]; then
  rm -rf "$work"
  "${mpirun[@]}" -np 1 "${run[@]}" --set strategy.tp=1 --dump "$work/npy" --out "$work/out" >/dev/null
  /usr/bin/python3 "$here/tests/cli/write_checkpoint.py" "$work/npy" "$work/ckpt" "$work/expected" \
    --format safetensors --dtype BF16 --shards 2 >/dev/null
fi

declare -A seconds reading bytes
cases=()
for tp in 1 2; do
  for source in generated npy ckpt; do cases+=("$source:$tp"); done
done
for ((round = 0; round < rounds; ++round)); do
  for c in "${cases[@]}"; do
    source=${c%:*} tp=${c#*:}
    extra=()
    [ "$source" != generated ] && extra=(--weights "$work/$source")
    "${mpirun[@]}" -np "$tp" "${run[@]}" --set strategy.tp="$tp" "${extra[@]}" --out "$work/out-$c" >/dev/null
    read -r s rs b < <(/usr/bin/python3 -c "import json,sys; w=json.load(open(sys.argv[1]))['weights']; print(w['build_seconds'], w.get('read_seconds_of_that_rank', 0), w['max_bytes_read_per_rank'])" "$work/out-$c/result.json")
    seconds[$c]+="$s "
    reading[$c]+="$rs "
    bytes[$c]=$b
  done
done
median() { printf '%s\n' $1 | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
printf '%-18s %3s %10s %16s %9s %10s\n' source tp "build (s)" "read/rank (MB)" "read (s)" "read GB/s"
for c in "${cases[@]}"; do
  source=${c%:*} tp=${c#*:}
  m=$(median "${seconds[$c]}") rm=$(median "${reading[$c]}")
  name=$source; [ "$source" = npy ] && name="npy F32"; [ "$source" = ckpt ] && name="safetensors BF16"
  awk -v n="$name" -v tp="$tp" -v m="$m" -v r="$rm" -v b="${bytes[$c]}" 'BEGIN {
    printf "%-18s %3d %10.3f %16.1f %9s %10s\n", n, tp, m, b / 1e6, (b > 0 ? sprintf("%.3f", r) : "-"),
           (b > 0 ? sprintf("%.2f", b / r / 1e9) : "-") }'
done
