#!/usr/bin/env bash
# Two builds of shardrt side by side, in one run, so that a refactoring's cost reads as a
# ratio (docs/benchmarks.md, "Refactoring"): the CPU layer of bench/cpu_scaling.sh at tp=1 and
# tp=2, and the 256-GPU dry run of examples/dag/deepseek-v3-like-256gpu.json. The builds
# alternate within each round (A then B, then B then A the next round), so drift and a busy
# neighbour fall on both; each figure is the median over rounds.
#   bench/compare_builds.sh BUILD_A BUILD_B        env: ROUNDS (5)
set -euo pipefail
cd "$(dirname "$0")/.."
a=$(realpath "$1")/shardrt
b=$(realpath "$2")/shardrt
rounds=${ROUNDS:-5}
for exe in "$a" "$b"; do
  [[ -x $exe ]] || { echo "compare_builds.sh: $exe not found; build first" >&2; exit 2; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mpi=(mpirun --oversubscribe)
[[ $(id -u) == 0 ]] && mpi+=(--allow-run-as-root)
cp bench/cpu_layer.json "$tmp/layer.json"  # the layer of bench/cpu_scaling.sh

# One measurement: prints seconds. layer TP: the median forward of 7 passes (result.json);
# dag: wall clock of the whole dry run, DOT and SVG written.
measure() {
  local exe=$1 what=$2
  case $what in
    tp1|tp2)
      local tp=${what#tp}
      "${mpi[@]}" -np "$tp" "$exe" run "$tmp/layer.json" --set strategy.tp="$tp" --threads 1 \
        --warmup 2 --iters 7 --out "$tmp/r" >/dev/null
      python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["forward"]["median_seconds"])' \
        "$tmp/r/result.json" ;;
    dag256)
      local t0 t1
      t0=$(date +%s.%N)
      "$exe" dag examples/dag/deepseek-v3-like-256gpu.json --out "$tmp/dag" >/dev/null
      t1=$(date +%s.%N)
      rm -rf "$tmp/dag"
      python3 -c "print($t1 - $t0)" ;;
  esac
}

declare -A samples
for ((r = 1; r <= rounds; r++)); do
  order=(A B); ((r % 2 == 0)) && order=(B A)
  for what in tp1 tp2 dag256; do
    for side in "${order[@]}"; do
      exe=$a; [[ $side == B ]] && exe=$b
      samples[$what.$side]+="$(measure "$exe" "$what") "
    done
  done
done

echo "compare_builds: $rounds rounds; A = $a, B = $b; medians in ms"
printf '%-8s %12s %12s %9s\n' what A_ms B_ms B/A
for what in tp1 tp2 dag256; do
  python3 - "$what" "${samples[$what.A]}" "${samples[$what.B]}" <<'PY'
import statistics, sys
what, a, b = sys.argv[1], [float(x) for x in sys.argv[2].split()], [float(x) for x in sys.argv[3].split()]
ma, mb = statistics.median(a), statistics.median(b)
print(f"{what:<8} {1e3*ma:12.1f} {1e3*mb:12.1f} {mb/ma:9.3f}")
PY
done
