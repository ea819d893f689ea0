#!/usr/bin/env bash
# Does tp=2 really share one layer's work between two ranks on the CPU, and how close do the
# GEMMs inside a run come to OpenBLAS alone? The figures in docs/benchmarks.md come from here.
#   bench/cpu_scaling.sh [BUILD_DIR (default build)]
#   env: ROUNDS (3), KEEP=1 keeps the temp dir, QUIET_WAIT (seconds, 600)
# tp=1 and tp=2 alternate round by round and each figure printed is the median over rounds.
# On a 2-core machine a neighbour that takes one core halves tp=2 (the slowest rank sets the
# step time) but hardly touches tp=1, so each round first waits for an idle machine, records
# how many cores others used while it ran ("others"), and is run again (twice at most) when
# others took more than 0.15 of a core.
set -euo pipefail

build=${1:-build}
rounds=${ROUNDS:-3}
shardrt="$build/shardrt"
gemm_bench="$build/bench/gemm_bench"
for exe in "$shardrt" "$gemm_bench"; do
  [[ -x $exe ]] || { echo "cpu_scaling.sh: $exe not found; build first" >&2; exit 2; }
done

tmp=$(mktemp -d)
if [[ ${KEEP:-0} == 1 ]]; then echo "keeping $tmp"; else trap 'rm -rf "$tmp"' EXIT; fi

# bench/cpu_layer.json: one layer, its strategy written out so that the file reads as a
# complete deployment (bench/compare_builds.sh runs the same layer).
cp "$(dirname "$0")/cpu_layer.json" "$tmp/layer.json"
shapes=(--tokens 2048 --hidden 1024 --heads 16 --kv-heads 16 --head-dim 64 --ffn 4096
        --activation swiglu)

mpirun_flags=(--oversubscribe)
[[ $(id -u) == 0 ]] && mpirun_flags+=(--allow-run-as-root)

busy_ticks() {  # CPU ticks of everything on the machine: user nice system irq softirq steal
  awk '/^cpu /{print $2 + $3 + $4 + $7 + $8 + $9; exit}' /proc/stat
}

children_cpu_seconds() {  # CPU time of this shell's finished children, into $tmp/NAME.cpu
  times >"$tmp/times"  # in this shell: in a $(...) subshell `times` would count none of them
  awk 'NR == 2 {for (i = 1; i <= 2; ++i) {split($i, p, /[ms]/); s += p[1] * 60 + p[2]} print s}' \
    "$tmp/times" >"$tmp/$1.cpu"
}

wait_quiet() {  # until one second with < 10% of the machine busy, or QUIET_WAIT seconds
  local deadline=$((SECONDS + ${QUIET_WAIT:-600})) b0 b1
  while ((SECONDS < deadline)); do
    b0=$(busy_ticks); sleep 1; b1=$(busy_ticks)
    (((b1 - b0) * 10 < $(getconf CLK_TCK) * $(nproc))) && return 0
  done
  echo "  (machine still busy after ${QUIET_WAIT:-600} s; measuring anyway)"
}

measured() {  # measured NAME CMD...: runs CMD, writes NAME.others (cores others used meanwhile)
  local name=$1 b0 t0
  shift
  children_cpu_seconds "$name.start"; b0=$(busy_ticks); t0=$EPOCHREALTIME
  "$@"
  children_cpu_seconds "$name.end"
  python3 -c 'import sys; hz, b0, b1, c0, c1, t0, t1 = map(float, sys.argv[1:])
print(f"{max(0.0, ((b1 - b0) / hz - (c1 - c0)) / (t1 - t0)):.3f}")' \
    "$(getconf CLK_TCK)" "$b0" "$(busy_ticks)" "$(<"$tmp/$name.start.cpu")" \
    "$(<"$tmp/$name.end.cpu")" "$t0" "$EPOCHREALTIME" >"$tmp/$name.others"
}

run_layer() {  # run_layer NP OUT_DIR [extra shardrt args...]
  local np=$1 out=$2
  shift 2
  mpirun "${mpirun_flags[@]}" -np "$np" "$shardrt" run "$tmp/layer.json" \
    --device cpu --set strategy.tp="$np" --out "$out" "$@" >"$out.log" 2>&1 ||
    { cat "$out.log" >&2; exit 1; }
}

bench_gemms() {  # bench_gemms TP OUT_JSON
  "$gemm_bench" "${shapes[@]}" --tp "$1" --threads 1 --warmup 2 --iters 10 --json >"$2"
}

bench_gemms_on_both_cores() {  # two tp=2 gemm_bench at once, one per core: a tp=2 run's ceiling
  taskset -c 0 "$gemm_bench" "${shapes[@]}" --tp 2 --threads 1 --warmup 2 --iters 10 --json \
    >"$1.core0" &
  taskset -c 1 "$gemm_bench" "${shapes[@]}" --tp 2 --threads 1 --warmup 2 --iters 10 --json \
    >"$1.core1"
  wait $!
}

noisy() {  # noisy FILE...: true when others used more than 0.15 cores during any of them
  awk '$1 > 0.15 {bad = 1} END {exit !bad}' "$@"
}

echo "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE-<unset>}, $(nproc) cores, $rounds rounds"
"$gemm_bench" "${shapes[@]}" --warmup 0 --iters 1 | sed -n 1p  # the OpenBLAS build line

# What a rank picks when --threads is not given: cores / ranks on this node.
for np in 1 2; do
  run_layer "$np" "$tmp/default_np$np" --warmup 0 --iters 1
done

for ((r = 1; r <= rounds; ++r)); do
  for try in 1 2 3; do
    wait_quiet
    for tp in 1 2; do
      measured "r$r.tp$tp" run_layer "$tp" "$tmp/r$r.tp$tp" \
        --threads 1 --warmup 2 --iters 7 --profile
      measured "r$r.gemm$tp" bench_gemms "$tp" "$tmp/r$r.gemm$tp.json"
    done
    measured "r$r.both" bench_gemms_on_both_cores "$tmp/r$r.both"
    echo "round $r/$rounds try $try: others used $(cat "$tmp"/r"$r".*.others | tr '\n' ' ')cores"
    noisy "$tmp"/r"$r".*.others || break
  done
done

# The default thread count against mpirun's binding: Open MPI binds each of <= 2 ranks to one
# core, so a lone rank's default of 2 threads may share one core unless --bind-to none.
wait_quiet
plain_flags=("${mpirun_flags[@]}")
for bind in core none; do
  mpirun_flags=("${plain_flags[@]}" --bind-to "$bind")
  measured "default.bind-$bind" run_layer 1 "$tmp/default.bind-$bind" --warmup 1 --iters 3
done
mpirun_flags=("${plain_flags[@]}")

python3 - "$tmp" "$rounds" <<'PY'
import glob, json, statistics, sys

tmp, rounds = sys.argv[1], int(sys.argv[2])
med = statistics.median


def load(path):
    with open(path) as f:
        return json.load(f)


def others(pattern):
    return max(float(open(p).read()) for p in glob.glob(f"{tmp}/{pattern}.others"))


def op(result, name):
    return next(e for e in result["profile"] if e["op"] == name)


for np in (1, 2):
    threads = load(f"{tmp}/default_np{np}/result.json")["blas_threads_per_rank"]
    print(f"default BLAS threads per rank, {np} rank(s) on this node: {threads}")
for bind in ("core", "none"):
    d = load(f"{tmp}/default.bind-{bind}/result.json")
    print(f"  1 rank, default threads ({d['blas_threads_per_rank']}), mpirun --bind-to {bind}: "
          f"forward {d['forward']['median_seconds'] * 1e3:.1f} ms "
          f"(others {others(f'default.bind-{bind}'):.2f} cores)")

# A round still noisy after its retries would bias tp=2 against tp=1: leave it out when any
# quiet round is left.
quiet = [r for r in range(1, rounds + 1) if others(f"r{r}.*") <= 0.15]
used = quiet or list(range(1, rounds + 1))
print(f"\nrounds used: {used} of {rounds}" + ("" if quiet else " (none was quiet: all used)"))

fwd, lin, gb = {}, {}, {}
for tp in (1, 2):
    res = [load(f"{tmp}/r{r}.tp{tp}/result.json") for r in used]
    gem = [load(f"{tmp}/r{r}.gemm{tp}.json") for r in used]
    per_round = [x["forward"]["median_seconds"] for x in res]
    fwd[tp] = med(per_round)
    lin[tp] = med(op(x, "linear")["flops"] / op(x, "linear")["seconds"] / 1e9 for x in res)
    gb[tp] = med(g["total"]["gflops"] for g in gem)
    rounds_ms = ", ".join(f"{s * 1e3:.1f}" for s in per_round)
    print(f"\ntp={tp}: forward median {fwd[tp] * 1e3:.1f} ms (per round: {rounds_ms})")
    print("  rank 0 profile (one pass), median over rounds:")
    total = med(sum(e["seconds"] for e in x["profile"]) for x in res)
    for e in res[0]["profile"]:
        s = med(op(x, e["op"])["seconds"] for x in res)
        rate = f"  {e['flops'] / s / 1e9:7.2f} GFLOP/s" if e["flops"] else ""
        print(f"    {e['op']:<13} {e['calls']:3d} calls {s * 1e3:9.1f} ms "
              f"{100 * s / total:5.1f}%{rate}")
    print(f"    {'total':<13} {'':9} {total * 1e3:9.1f} ms")
    print(f"  gemm_bench (one process alone): total {gb[tp]:.2f} GFLOP/s, "
          f"{med(g['total']['median_seconds'] for g in gem) * 1e3:.1f} ms")
    print(f"  in-run linear {lin[tp]:.2f} GFLOP/s / gemm_bench {gb[tp]:.2f} GFLOP/s = "
          f"{lin[tp] / gb[tp]:.3f} (goal >= 0.70)")

both = [min(load(f"{tmp}/r{r}.both.core{c}")["total"]["gflops"] for c in (0, 1)) for r in used]
print(f"\ngemm_bench tp=2 shapes, two processes at once (one per core): slower one "
      f"{med(both):.2f} GFLOP/s")
print(f"forward tp2/tp1 = {fwd[2] * 1e3:.1f} / {fwd[1] * 1e3:.1f} ms = "
      f"{fwd[2] / fwd[1]:.3f} (goal <= 0.60)")
PY
