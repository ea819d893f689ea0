#!/usr/bin/env bash
# generate_trace.sh SHARDRT RANKS OUT_DIR DEPLOYMENT PROMPTS [generate options...] -- MPIRUN...
# `shardrt generate --trace` (issue 17, item 7) on one strategy:
#   1. the traced generate succeeds (it checks itself that the traced generation chose the
#      measured tokens) and generate.json names the trace;
#   2. dags.json lists two graphs, the prefill's and the first decode step's, and
#      `shardrt dag check` passes on both;
#   3. each graph's model input holds the round's tokens: every prompt token in the prefill,
#      one a request still running in the decode step (the prompts' requests, max_new_tokens
#      from PROMPTS; run with --ignore-eos, so that none stops early);
#   4. in the decode graph, attention over the cache is drawn as its operators: each fused
#      group reads the k and v caches (two kv_cache_read nodes), each layer of each rank writes
#      them (one k_cache_write and one v_cache_write a group; with latent attention one
#      latent_cache_write, its rows being keys and values both), and the groups are as many as
#      the cached_attention slices of round 1 on the timeline;
#   5. the timeline has a "prefill" slice on every rank and, on the busiest rank, one slice per
#      round that generate.json reports.
set -u
shardrt=$1 ranks=$2 out=$3 deployment=$4 prompts=$5
shift 5
args=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do args+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
mpirun=("$@")
fail() { echo "generate_trace: FAIL: $*"; exit 1; }

rm -rf "$out" && mkdir -p "$out"
"${mpirun[@]}" -np "$ranks" "$shardrt" generate "$deployment" --device cpu --prompts "$prompts" \
  --ignore-eos --trace "$out/trace" --out "$out/gen" "${args[@]}" > "$out/generate.log" 2>&1 ||
  { cat "$out/generate.log"; fail "the traced generate failed"; }
grep -q "trace: $out/trace (" "$out/generate.log" || fail "the summary does not name the trace"

graphs=$(python3 - "$out" "$prompts" <<'PY'
import json, os, sys
out, prompts = sys.argv[1], sys.argv[2]
gen = json.load(open(os.path.join(out, "gen", "generate.json")))
trace = gen["trace"]
assert trace["dir"] == os.path.join(out, "trace"), trace
dags = json.load(open(os.path.join(out, "trace", "dags.json")))["dags"]
names = [d["name"] for d in dags]
assert len(dags) == 2 and names[0].endswith("-prefill") and names[1].endswith("-decode"), names
print(" ".join(os.path.join(out, "trace", d["dot"]) for d in dags))
PY
) || fail "generate.json or dags.json"
for f in $graphs; do
  "$shardrt" dag check "$f" || fail "dag check rejects $f"
done
set -- $graphs
prefill=$1 decode=$2

python3 - "$prefill" "$decode" "$prompts" "$out/trace/trace.json" "$out/gen/generate.json" <<'PY' ||
import json, re, sys
prefill, decode, prompts, timeline, generated = sys.argv[1:]
requests = json.load(open(prompts))["requests"]
want_prefill = sum(len(r["tokens"]) for r in requests)
want_decode = sum(1 for r in requests if r["max_new_tokens"] > 1)

def input_tokens(path):
    text = open(path).read()
    m = re.search(r'"input" \[[^\n]*Output: \[tokens=(\d+)\]', text)
    assert m, f"{path}: no model input with its tokens"
    return int(m.group(1))

assert input_tokens(prefill) == want_prefill, (input_tokens(prefill), want_prefill)
assert input_tokens(decode) == want_decode, (input_tokens(decode), want_decode)

text = open(decode).read()
count = lambda pattern: len(re.findall(pattern, text))
groups = count(r'kind="fused_kernel";')
reads = count(r'op="kv_cache_read"')
k_writes = count(r'label="(k|latent)_cache_write \(kv_cache_write\)')
v_writes = count(r'label="(v|latent)_cache_write \(kv_cache_write\)')
assert count(r'op="cached_attention"') == 0, "cached attention drawn as one node"
events = json.load(open(timeline))["traceEvents"]
slices = sum(1 for e in events if e.get("ph") == "X" and e.get("cat") == "kernel"
             and e["args"]["op"] == "cached_attention" and e["args"].get("round") == 1)
assert groups > 0 and reads == 2 * groups and k_writes == groups and v_writes == groups \
    and slices == groups, (groups, reads, k_writes, v_writes, slices)

rounds = json.load(open(generated))["trace"]["rounds"]
assert rounds == max(r["max_new_tokens"] for r in requests), rounds
steps = {}
for e in events:
    if e.get("ph") == "X" and e.get("cat") == "user_annotation":
        steps.setdefault(e["pid"], []).append(e["name"])
assert steps and all("prefill" in names for names in steps.values()), steps
busiest = max(steps.values(), key=len)
assert len(busiest) == rounds and busiest[-1] == f"decode step {rounds - 1}", busiest
print(f"generate_trace: {groups} cached-attention groups in the decode step, {rounds} rounds")
PY
  fail "the graphs or the timeline"
echo "generate_trace: OK"
