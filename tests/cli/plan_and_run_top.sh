#!/usr/bin/env bash
# plan_and_run_top.sh SHARDRT OUT_DIR DEPLOYMENT K -- MPIRUN...
# Plans DEPLOYMENT, writes its top K plans, then runs every one of them with `run --validate`
# on as many ranks as it uses: each must exit 0 and print PASS. A plan the planner prints
# must run (issue 6: a peer tool's users report top configurations that failed to deploy).
set -u
shardrt=$1 out=$2 deployment=$3 k=$4
shift 4
[ "$1" = "--" ] && shift
fail() { echo "plan_and_run_top: FAIL: $*"; exit 1; }

rm -rf "$out" && mkdir -p "$out"
"$shardrt" plan "$deployment" --top "$k" --out-top "$out/top" > "$out/plan.txt" 2>&1 \
  || { cat "$out/plan.txt"; fail "shardrt plan exited $?"; }
cat "$out/plan.txt"
plans=("$out"/top/plan-*.json)
[ "${#plans[@]}" -eq "$k" ] || fail "expected $k plan files, found ${#plans[@]}"
for plan in "${plans[@]}"; do
  ranks=$(python3 -c "import json,sys; s=json.load(open(sys.argv[1]))['strategy']; print(s['tp']*s['pp']*s['dp'])" "$plan") \
    || fail "$plan has no strategy"
  log="$plan.run.txt"
  "$@" -np "$ranks" "$shardrt" run "$plan" --validate --device cpu --warmup 0 --iters 1 \
    > "$log" 2>&1
  code=$?
  grep -E "strategy|validate" "$log" | sed "s|^|$(basename "$plan"): |"
  [ "$code" -eq 0 ] || { cat "$log"; fail "$plan exited $code"; }
  grep -qE "validate .* PASS$" "$log" || { cat "$log"; fail "$plan did not PASS"; }
done
echo "plan_and_run_top: OK: all $k plans ran and passed validation"
