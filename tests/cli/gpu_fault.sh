#!/usr/bin/env bash
# gpu_fault.sh TIMEOUT BOUND EXIT PATTERN COUNT MARKER -- COMMAND...
# expect_fault.sh BOUND EXIT PATTERN COUNT MARKER -- COMMAND... where a GPU is visible; else
# exits 77, which ctest reports as skipped, and says why. TIMEOUT > 0: COMMAND stalls a
# collective on purpose under --timeout TIMEOUT, and the job must also end within TIMEOUT + 2 s
# of that collective's start. The start is the "still waiting" line of the collective log, in
# seconds since the rank began; the job's time here counts from the launch, before it, so the
# check errs on the strict side (a GPU job's start-up alone outlasts TIMEOUT + 2 s).
here=$(cd "$(dirname "$0")" && pwd)
if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
  echo "SKIP: no GPU visible (nvidia-smi -L failed or is missing)"
  exit 77
fi
timeout_s=$1
shift
out=$("$here/expect_fault.sh" "$@")
rc=$?
printf '%s\n' "$out"
[ "$rc" -eq 0 ] || exit "$rc"
[ "$timeout_s" = 0 ] && exit 0
elapsed=$(printf '%s\n' "$out" | sed -nE 's/^---- expect_fault: exit .* after ([0-9.]+)s .*/\1/p')
still_waiting='^shardrt: rank [0-9]+ on [^ ]+: .* start +([0-9.]+) s +still waiting$'
began=$(printf '%s\n' "$out" | sed -nE "s/$still_waiting/\\1/p" | head -1)
[ -n "$began" ] || { echo "gpu_fault: FAIL: no collective in the log is still waiting"; exit 1; }
after=$(awk -v e="$elapsed" -v b="$began" 'BEGIN { printf "%.3f", e - b }')
echo "gpu_fault: the stalled collective began ${began}s into the run; the job ended ${after}s" \
     "later (--timeout $timeout_s, allowed $timeout_s + 2 s)"
if awk -v a="$after" -v t="$timeout_s" 'BEGIN { exit !(a > t + 2) }'; then
  echo "gpu_fault: FAIL: the job outlived the stalled collective by more than --timeout + 2 s"
  exit 1
fi
echo "gpu_fault: OK"
