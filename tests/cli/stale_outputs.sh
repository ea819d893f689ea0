#!/usr/bin/env bash
# No stale or mixed outputs (issue 15, item 3). The rule: --dump and --trace directories are
# written whole under a staging name and swapped in (nothing of an earlier run stays), carry
# shardrt-output.json (what the run wrote, with sizes and times), and a directory that holds
# files shardrt did not write is refused; --weights refuses a dump directory whose files are not
# those its run wrote; result.json of an earlier run is removed at start-up.
#   stale_outputs.sh SHARDRT_BINARY SOURCE_DIR WORK_DIR
set -uo pipefail
bin=$1 src=$2 work=$3
mpi=(mpirun --oversubscribe)
[ "$(id -u)" -eq 0 ] && mpi+=(--allow-run-as-root)
llama=("$bin" run "$src/examples/tiny-llama.json" --device cpu)
rm -rf "$work" && mkdir -p "$work"
failed=0
fail() { echo "FAIL: $*"; failed=1; }
ok() { echo "ok: $*"; }

# 1. The issue's case: an 8-layer dump overwritten by a 4-layer one of another seed, then read
#    back as 8 layers. It used to load the mixture and --validate passed.
"${mpi[@]}" -np 2 "${llama[@]}" --set model.layers=8 --set seed=1 --dump "$work/D" --out "$work/o" >/dev/null 2>&1
"${mpi[@]}" -np 2 "${llama[@]}" --set seed=2 --dump "$work/D" --out "$work/o" >/dev/null 2>&1
out=$("${mpi[@]}" -np 2 "${llama[@]}" --set model.layers=8 --weights "$work/D" --validate --out "$work/o" 2>&1); rc=$?
if [ $rc -eq 2 ] && grep -q "rank 0 on [^ ]*: error: --weights: model.layers.4.* is not in" <<<"$out"; then
  ok "a dump replaced whole: layer 4 of the earlier dump is gone, the 8-layer run is refused"
else fail "mixed dump: exit $rc"; echo "$out" | grep -E "error|validate" | head -3; fi

# 2. A file copied in from another dump (same name and size, other values): refused by the
#    manifest.
"${mpi[@]}" -np 2 "${llama[@]}" --set seed=3 --dump "$work/E" --out "$work/o" >/dev/null 2>&1
cp "$work/E/model.norm.weight.npy" "$work/D/model.norm.weight.npy"
out=$("${mpi[@]}" -np 2 "${llama[@]}" --weights "$work/D" --out "$work/o" 2>&1); rc=$?
if [ $rc -eq 2 ] && grep -q "rank 0 on [^ ]*: error: --weights: model.norm.weight.npy has changed since the run that wrote" <<<"$out"; then
  ok "a file from another dump refused"
else fail "copied file: exit $rc"; echo "$out" | grep error | head -3; fi

# 3. A directory shardrt did not write is not replaced.
mkdir -p "$work/mine" && echo notes >"$work/mine/notes.txt"
out=$("${mpi[@]}" -np 2 "${llama[@]}" --dump "$work/mine" --out "$work/o" 2>&1); rc=$?
if [ $rc -eq 2 ] && grep -q "rank 0 on [^ ]*: error: --dump: .*/mine holds files shardrt did not write" <<<"$out" &&
   [ -f "$work/mine/notes.txt" ]; then
  ok "a directory shardrt did not write refused, its file kept"
else fail "foreign directory: exit $rc"; echo "$out" | grep error | head -3; fi

# 4. A trace of 4 ranks, then one of 2 into the same directory: no rank 2 or 3 file stays.
"${mpi[@]}" -np 4 "${llama[@]}" --set strategy.tp=4 --trace "$work/T" --out "$work/o" >/dev/null 2>&1
"${mpi[@]}" -np 2 "${llama[@]}" --trace "$work/T" --out "$work/o" >/dev/null 2>&1
ranks=$(ls "$work/T/ranks" | tr '\n' ' ')
if [ "$ranks" = "rank0.trace.json rank1.trace.json " ]; then ok "trace directory replaced whole: $ranks"
else fail "trace ranks left: $ranks"; fi

# 4b. A directory named with a trailing slash, as the README's `--trace trace/` does: the same
#     directory (its staging one used to be made inside it, and the swap failed).
"${mpi[@]}" -np 2 "${llama[@]}" --trace "$work/T2/" --out "$work/o" >/dev/null 2>&1; rc=$?
if [ $rc -eq 0 ] && [ -f "$work/T2/trace.json" ] && [ -f "$work/T2/dags.json" ]; then
  ok "--trace DIR/ writes DIR"
else fail "--trace DIR/: exit $rc"; ls "$work/T2" 2>&1 | head -3; fi

# 5. A failed run does not leave an earlier result.json as if it were its own.
"${mpi[@]}" -np 2 "${llama[@]}" --out "$work/R" >/dev/null 2>&1
[ -f "$work/R/result.json" ] || fail "the first run wrote no result.json"
"${mpi[@]}" -np 2 "${llama[@]}" --set model.heads=7 --out "$work/R" >/dev/null 2>&1; rc=$?
if [ $rc -ne 0 ] && [ ! -e "$work/R/result.json" ]; then ok "failed run (exit $rc): no result.json left"
else fail "after a failed run (exit $rc) result.json is still there"; fi

# 6. No staging directory is left anywhere.
left=$(find "$work" -maxdepth 1 -name "*.tmp.*" | wc -l)
[ "$left" -eq 0 ] && ok "no staging directory left" || fail "$left staging directories left"
[ $failed -eq 0 ] && echo "stale_outputs: OK"
exit $failed
