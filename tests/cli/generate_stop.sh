#!/usr/bin/env bash
# generate_stop.sh SHARDRT DEPLOYMENT PROMPTS OUT MPIRUN...
# Requests end at their own max_new_tokens, and at a stop token. First every request runs to
# its own length (--ignore-eos) on tp 2; then the third new token of request 2 is made the
# model's eos_token_id and the same prompts run again on tp 2 x pp 2 with --validate: each
# request must end at the first stop token it chooses ("stop", the token kept) or run to its
# length as before, and its tokens up to there must be the first run's.
set -eu
shardrt=$1 deployment=$2 prompts=$3 out=$4
shift 4
mkdir -p "$out"
"$@" -np 2 "$shardrt" generate "$deployment" --prompts "$prompts" --ignore-eos --device cpu \
  --out "$out/all"
stop=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['requests'][2]['tokens'][2])" \
  "$out/all/generate.json")
echo "generate_stop: stop token $stop"
"$@" -np 4 "$shardrt" generate "$deployment" --prompts "$prompts" --device cpu --validate \
  --set strategy.pp=2 --set "model.eos_token_id=$stop" --out "$out/stop"
python3 - "$prompts" "$out/all/generate.json" "$out/stop/generate.json" "$stop" <<'PY'
import json, sys
asked = json.load(open(sys.argv[1]))["requests"]
full = json.load(open(sys.argv[2]))["requests"]
stopped = json.load(open(sys.argv[3]))
stop = int(sys.argv[4])
ok = stopped["validation"]["passed"]
for i, (a, f, s) in enumerate(zip(asked, full, stopped["requests"])):
    if len(f["tokens"]) != a["max_new_tokens"] or f["finish"] != "length":
        print("request %d ran %d tokens (%s), asked %d" % (i, len(f["tokens"]), f["finish"], a["max_new_tokens"]))
        ok = False
    want = f["tokens"][: f["tokens"].index(stop) + 1] if stop in f["tokens"] else f["tokens"]
    finish = "stop" if stop in f["tokens"] else "length"
    if s["tokens"] != want or s["finish"] != finish:
        print("request %d: %s (%s), want %s (%s)" % (i, s["tokens"], s["finish"], want, finish))
        ok = False
if not any(s["finish"] == "stop" for s in stopped["requests"]):
    print("no request stopped")
    ok = False
print("generate_stop:", "OK" if ok else "FAIL")
sys.exit(0 if ok else 1)
PY
