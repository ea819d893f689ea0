#!/usr/bin/env bash
# generate_schedules.sh SHARDRT RANKS OUT DEPLOYMENT PROMPTS [generate options...] -- MPIRUN...
# The two schedules of a generation's rounds (docs/generate.md, "Rounds and the pipeline") on
# one strategy:
#   1. `--schedule overlap` and `--schedule lockstep` both pass --validate, say in
#      generate.json which schedule ran, and choose the same tokens with the same finishes
#      (the prompts' requests end at different rounds, so microbatches leave at different
#      times);
#   2. with pp > 1 and at least two microbatches, the traces show the schedules apart, in the
#      first stage's own order of ops (no timing): overlapped, it runs microbatch 0's decode
#      step (round 1) before it takes microbatch 1's new tokens of the prefill (round 0);
#      in lockstep every op of round 1 comes after every op of round 0.
set -u
shardrt=$1 ranks=$2 out=$3 deployment=$4 prompts=$5
shift 5
args=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do args+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
mpirun=("$@")
fail() { echo "generate_schedules: FAIL: $*"; exit 1; }

rm -rf "$out" && mkdir -p "$out"
for schedule in overlap lockstep; do
  "${mpirun[@]}" -np "$ranks" "$shardrt" generate "$deployment" --device cpu --prompts "$prompts" \
    --validate --schedule "$schedule" --trace "$out/$schedule/trace" --out "$out/$schedule" \
    "${args[@]}" > "$out/$schedule.log" 2>&1 ||
    { cat "$out/$schedule.log"; fail "generate --schedule $schedule failed"; }
  grep -q "validation: PASS" "$out/$schedule.log" || fail "$schedule: no PASS"
done

python3 - "$out" <<'PY'
import json, os, sys
out = sys.argv[1]
runs = {s: json.load(open(os.path.join(out, s, "generate.json"))) for s in ("overlap", "lockstep")}
ok = True
for s, g in runs.items():
    if g["schedule"] != s:
        print(f"{s}: generate.json says schedule {g['schedule']}")
        ok = False
a, b = runs["overlap"]["requests"], runs["lockstep"]["requests"]
for i, (x, y) in enumerate(zip(a, b)):
    if (x["tokens"], x["finish"]) != (y["tokens"], y["finish"]):
        print(f"request {i}: overlap {x['tokens']} ({x['finish']}), lockstep {y['tokens']} ({y['finish']})")
        ok = False
if len({len(r["tokens"]) for r in a}) < 2:
    print("every request ran as long: no microbatch left early")
    ok = False

s = runs["overlap"]["strategy"]
if s["pp"] > 1 and s["microbatches"] > 1:
    def rank0(schedule):
        events = json.load(open(os.path.join(out, schedule, "trace", "trace.json")))["traceEvents"]
        ops = [e for e in events if e.get("ph") == "X" and e.get("pid") == 0
               and "seq" in e.get("args", {}) and "round" in e["args"]]
        return sorted(ops, key=lambda e: e["args"]["seq"])
    ops = rank0("overlap")
    step = [e["args"]["seq"] for e in ops if e["args"]["round"] == 1
            and e["args"].get("microbatch") == 0 and e["args"]["kind"] == "compute"]
    handover = [e["args"]["seq"] for e in ops if e["args"]["round"] == 0
                and e["args"].get("microbatch") == 1 and e["name"] == "new_tokens"]
    if not step or not handover or min(step) > handover[0]:
        print(f"overlap: rank 0 did not start microbatch 0's decode step before microbatch 1's "
              f"prefill tokens arrived (round-1 mb-0 ops from seq {min(step) if step else None}, "
              f"hand-over at {handover})")
        ok = False
    ops = rank0("lockstep")
    last0 = max(e["args"]["seq"] for e in ops if e["args"]["round"] == 0)
    first1 = min(e["args"]["seq"] for e in ops if e["args"]["round"] == 1)
    if first1 < last0:
        print(f"lockstep: rank 0 ran round 1 (seq {first1}) before round 0 ended (seq {last0})")
        ok = False
print("generate_schedules:", "OK" if ok else "FAIL")
sys.exit(0 if ok else 1)
PY
