#!/usr/bin/env bash
# dag_compare.sh SHARDRT RANKS OUT_DIR DEPLOYMENT [--set ...] -- MPIRUN...
# The graph of a traced run against the graph of the dry run of the same deployment:
#   1. `mpirun -np RANKS shardrt run --trace` (cpu) and `shardrt dag` both succeed;
#   2. `shardrt dag check` passes on both graphs;
#   3. the two graphs are the same node for node and edge for edge: equal .dot files once the
#      title line is dropped and the sizes that depend on the data (tokens an expert received,
#      index lengths) are masked -- the dry run routes uniformly, the real run by scores;
#   4. the dry run is deterministic (a second one writes a byte-identical .dot);
#   5. the timeline holds events of every rank and one file per rank, and dags.json lists the
#      graph with a load entry per GPU;
#   6. every tp all-reduce says which projection it follows, and every top-k which of its two
#      outputs is which (issue 16, item 5);
#   7. attention is drawn as its three operators in fused-kernel groups, never as one node
#      (issue 16, item 5; `dag check` enforces it too, rule operator-level), and the timeline
#      keeps one timed slice per attention call: as many slices as groups;
#   8. in both SVGs, every communication node of several GPUs lies between the clusters of the
#      GPUs it joins (tests/cli/dag_layout.py; skipped where dot did not draw the graph).
set -u
shardrt=$1 ranks=$2 out=$3 deployment=$4
shift 4
sets=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do sets+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
mpirun=("$@")
fail() { echo "dag_compare: FAIL: $*"; exit 1; }

rm -rf "$out" && mkdir -p "$out"
"${mpirun[@]}" -np "$ranks" "$shardrt" run "$deployment" --device cpu --warmup 0 --iters 1 \
  --trace "$out/traced" --out "$out/run" "${sets[@]}" > "$out/run.log" 2>&1 ||
  { cat "$out/run.log"; fail "the traced run failed"; }
"$shardrt" dag "$deployment" --out "$out/dry" "${sets[@]}" > "$out/dag.log" 2>&1 ||
  { cat "$out/dag.log"; fail "the dry run failed"; }
"$shardrt" dag "$deployment" --out "$out/dry2" "${sets[@]}" > /dev/null 2>&1 ||
  fail "the second dry run failed"

traced=$(ls "$out"/traced/*.dot) dry=$(ls "$out"/dry/*.dot)
for f in "$traced" "$dry"; do
  "$shardrt" dag check "$f" || fail "dag check rejects $f"
done
cmp -s "$dry" "$out/dry2/$(basename "$dry")" || fail "two dry runs wrote different .dot files"

normalise() {
  grep -v '^  graph \[label=' "$1" | sed -E 's/(tokens|rows)=[0-9]+( \(of [0-9]+\))?/\1=N/g'
}
if ! diff <(normalise "$traced") <(normalise "$dry") > "$out/structure.diff"; then
  head -20 "$out/structure.diff"
  fail "the traced run's graph and the dry run's differ (see $out/structure.diff)"
fi
nodes=$(grep -c '\[shape=' "$traced")

python3 - "$out/traced" "$ranks" <<'PY' || fail "timeline or dags.json"
import json, os, sys
d, ranks = sys.argv[1], int(sys.argv[2])
trace = json.load(open(os.path.join(d, "trace.json")))
pids = {e["pid"] for e in trace["traceEvents"] if e.get("ph") == "X"}
assert pids == set(range(ranks)), f"timeline ranks {sorted(pids)}, expected 0..{ranks - 1}"
for r in range(ranks):
    one = json.load(open(os.path.join(d, "ranks", f"rank{r}.trace.json")))
    assert one["distributedInfo"]["rank"] == r and one["distributedInfo"]["world_size"] == ranks
dags = json.load(open(os.path.join(d, "dags.json")))["dags"]
assert len(dags) == 1 and len(dags[0]["load"]["per_gpu"]) == ranks, dags
PY
# Labels hold "\n" as two characters: a title ends at the first backslash.
unnamed=$(grep -o '(all_reduce, tp)[^\\]*' "$traced" | grep -vc ' after ')
[ "$unnamed" -eq 0 ] || fail "$unnamed tp all-reduces do not say which projection they follow"
unnamed=$(grep -o '(topk)[^\\]*' "$traced" | grep -vc 'outputs the experts chosen, then their weights')
[ "$unnamed" -eq 0 ] || fail "$unnamed top-k nodes do not name their outputs"
one_node=$(grep -c 'op="attention"' "$traced")
[ "$one_node" -eq 0 ] || fail "$one_node attention nodes drawn as one node"
groups=$(grep -c 'kind="fused_kernel";' "$traced")
scores=$(grep -c 'op="attention_scores"' "$traced")
slices=$(python3 -c 'import json, sys
events = json.load(open(sys.argv[1]))["traceEvents"]
print(sum(e.get("ph") == "X" and e["args"]["op"] == "attention" for e in events))' \
  "$out/traced/trace.json")
[ "$groups" -gt 0 ] && [ "$groups" -eq "$scores" ] && [ "$groups" -eq "$slices" ] ||
  fail "$groups fused-kernel groups, $scores Q·K^T nodes, $slices attention slices on the timeline"
for d in "$out/traced" "$out/dry"; do
  python3 "$(dirname "$0")/dag_layout.py" "$d" || fail "a communication node outside its GPUs in $d"
done
echo "dag_compare: OK ($nodes nodes, same structure traced and dry)"
