#!/usr/bin/env bash
# Records what the shardrt command writes, minus timings, so that a refactoring can prove it
# changed no behaviour: run it with the build from before and after, then `diff -r` the two
# folders (docs/architecture.md, "Refactoring without changing behaviour").
#   scripts/golden-outputs.sh BUILD_DIR OUT_DIR
# Recorded: the DOT files and dags.json of every deployment's dry run, a traced run's DOT
# files, result.json of validated runs (timings removed), `plan` reports and plan files of
# every condition file, and the messages and exit codes of bad input.
set -uo pipefail
cd "$(dirname "$0")/.."
bin=$(realpath "$1")/shardrt
out=$(realpath -m "$2")
rm -rf "$out" && mkdir -p "$out"
mpi=(mpirun --oversubscribe)
[ "$(id -u)" -eq 0 ] && mpi+=(--allow-run-as-root)
work=$(mktemp -d)
near=$(mktemp -d -p .)
trap 'rm -rf "$work" "$near"' EXIT

# Timings and measured figures vary from run to run; everything else must not.
strip_timings() {
  python3 - "$@" <<'PY'
import json, re, sys
timed = re.compile(r"(seconds|_ms|_s$|time|flops|gbps|bandwidth|bubble|measured|load_s|per_s|threads|host|device$|commit|version)", re.I)
def clean(v):
    if isinstance(v, dict):
        return {k: ("<timing>" if timed.search(k) else clean(x)) for k, x in v.items()}
    if isinstance(v, list):
        return [clean(x) for x in v]
    return v
for path in sys.argv[1:]:
    with open(path) as f:
        data = json.load(f)
    with open(path, "w") as f:
        json.dump(clean(data), f, indent=1, sort_keys=True)
PY
}
# A command's stdout and stderr with the lines that carry times masked, and its exit code.
record() {
  local name=$1; shift
  "$@" >"$work/o" 2>"$work/e"; local rc=$?
  # mpirun's own notices name whichever process ended first, and ranks' lines arrive in any
  # order: keep the ranks' lines, sorted.
  grep -vE '^-{20,}$|Primary job|non-zero exit code|Per user-direction|mpirun detected|job to be terminated|Process name:|Exit code:|^\s*$|^\[[^]]*:[0-9]+\]|MPI_ABORT|You may or may not see output|exactly when Open MPI kills|with errorcode|ORTE_ERROR_LOG' \
    "$work/e" | sort >"$work/e.sorted"
  { echo "exit $rc"; echo "--- stdout"; cat "$work/o"; echo "--- stderr"; cat "$work/e.sorted"; } |
    sed -E "s#$work#<tmp>#g; s#$out#<out>#g; s#$near#<near>#g" |
    sed -E 's/[0-9]+(\.[0-9]+)?(e[-+]?[0-9]+)? ?(ms|s|us|GFLOP\/s|TFLOP\/s|GB\/s|MiB\/s|GiB\/s)\b/<t>/g;
            s/\b(forward|measured|predicted|bubble|took|busiest)\b.*/\1 <timed>/' \
      >"$out/$name.txt"
}

for f in examples/*.json examples/dag/*.json tests/deployments/*.json; do
  n=$(basename "$f" .json)
  record "dag-$n" "$bin" dag "$f" --out "$out/dag-$n"
  [ -f "$out/dag-$n/dags.json" ] && strip_timings "$out/dag-$n/dags.json"
  rm -f "$out"/dag-"$n"/*.svg
done
for f in examples/plan/*.json; do
  n=$(basename "$f" .json)
  # Written beside the tree, then moved: a plan names its profile by a path relative to itself.
  record "plan-$n" "$bin" plan "$f" --top 5 --out "$near/plan-$n.json" --json "$out/plan-$n.report.json"
  [ -f "$near/plan-$n.json" ] && mv "$near/plan-$n.json" "$out/"
  [ -f "$out/plan-$n.report.json" ] && strip_timings "$out/plan-$n.report.json"
done
for t in "tiny-llama 2" "tiny-moe 2" "small-gpt 4"; do
  set -- $t
  record "run-$1" "${mpi[@]}" -np "$2" "$bin" run "examples/$1.json" --validate --iters 1 --warmup 0 \
    --out "$out/run-$1"
  strip_timings "$out/run-$1/result.json"
done
record run-moe-pp2-dp2 "${mpi[@]}" -np 8 "$bin" run examples/tiny-moe.json --validate --iters 1 \
  --warmup 0 --set strategy.pp=2 --set strategy.dp=2 --set strategy.microbatches=2 --out "$out/run-moe-pp2-dp2"
strip_timings "$out/run-moe-pp2-dp2/result.json"
record trace-tiny-moe "${mpi[@]}" -np 2 "$bin" run examples/tiny-moe.json --iters 1 --warmup 0 \
  --trace "$out/trace-tiny-moe" --out "$work/trace-result"
rm -rf "$out"/trace-tiny-moe/*.svg "$out"/trace-tiny-moe/*.json "$out"/trace-tiny-moe/ranks
# Bad input: one line naming the field and the rule, exit 2.
for f in tests/hostile/* tests/deployments/bad/*; do
  n=$(basename "$f")
  case "$f" in
    *.dot) record "bad-dagcheck-$n" "$bin" dag check "$f" ;;
    *.safetensors) record "bad-weights-$n" "${mpi[@]}" -np 2 "$bin" run examples/tiny-llama.json \
                     --weights "$f" --out "$work/bad" ;;
    *) record "bad-run-$n" "${mpi[@]}" -np 2 "$bin" run "$f" --out "$work/bad"
       record "bad-plan-$n" "$bin" plan "$f" ;;
  esac
done
for f in tests/dags/*.dot; do record "dagcheck-$(basename "$f")" "$bin" dag check "$f"; done
record bad-set "${mpi[@]}" -np 2 "$bin" run examples/tiny-llama.json --set model.heads=0 --out "$work/bad"
record bad-world "${mpi[@]}" -np 3 "$bin" run examples/tiny-llama.json --out "$work/bad"
record bad-device "${mpi[@]}" -np 2 "$bin" run examples/tiny-llama.json --device tpu --out "$work/bad"
record bad-fault "${mpi[@]}" -np 2 "$bin" run examples/tiny-llama.json --test-fault 1:x --out "$work/bad"
record fault-skip-allreduce "${mpi[@]}" -np 2 "$bin" run examples/tiny-llama.json --validate \
  --test-fault-skip-allreduce --iters 1 --warmup 0 --out "$work/bad"
record fault-nan-weight "${mpi[@]}" -np 2 "$bin" run examples/tiny-llama.json --validate --check-numerics \
  --test-fault-nan-weight model.layers.1.mlp.up_proj.weight --iters 1 --warmup 0 --out "$work/bad"
record fault-throw "${mpi[@]}" -np 2 "$bin" run examples/tiny-llama.json --test-fault 1:q_proj:throw \
  --iters 1 --warmup 0 --out "$work/bad"
record fault-skip "${mpi[@]}" -np 2 "$bin" run examples/tiny-llama.json --check-collectives \
  --test-fault 1:7:skip --iters 1 --warmup 0 --out "$work/bad"
# Paths inside the output folder are written as <out>, so two folders compare.
grep -rlF "$out" "$out" | xargs -r sed -i "s#$out#<out>#g"
echo "golden-outputs: $(find "$out" -type f | wc -l) files in $out"
