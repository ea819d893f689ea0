#!/usr/bin/env bash
# A full filesystem under --out, --dump and plan --out (issue 15, item 1): the job ends non-zero
# with one line naming the file and the system's reason, and leaves no partial file and no
# temporary. Needs root to mount a small tmpfs; says so and is skipped (exit 77) otherwise.
#   full_disk.sh SHARDRT_BINARY SOURCE_DIR
set -uo pipefail
bin=$1 src=$2
mnt=$(mktemp -d)
cleanup() { umount "$mnt" 2>/dev/null; rm -rf "$mnt"; }
trap cleanup EXIT
if ! mount -t tmpfs -o size=4k tmpfs "$mnt" 2>/dev/null; then
  echo "full_disk: cannot mount a 4 KiB tmpfs here (needs root): skipped"
  exit 77
fi
head -c 3000 /dev/urandom >"$mnt/filler"  # about 1 KiB left: less than any file below
mpi=(mpirun --oversubscribe)
[ "$(id -u)" -eq 0 ] && mpi+=(--allow-run-as-root)
failed=0
# expect NAME EXIT FILE CMD...: exit code EXIT, FILE named with ENOSPC, nothing left but filler.
expect() {
  local name=$1 want=$2 file=$3; shift 3
  "$@" >"$mnt.out" 2>"$mnt.err"; local rc=$?
  local left
  left=$(cd "$mnt" && find . -mindepth 1 ! -name filler | sort | tr '\n' ' ')
  if [ "$rc" -ne "$want" ]; then
    echo "$name: exit $rc, expected $want"; failed=1
  elif ! grep -q "cannot write $file: No space left on device" "$mnt.err"; then
    echo "$name: no line naming $file and the reason:"; cat "$mnt.err"; failed=1
  elif grep -q "^  result " "$mnt.out"; then
    echo "$name: the summary names a result that was not written"; failed=1
  elif [ -n "${left// /}" ] && [ "$name" != dump ]; then
    echo "$name: left behind: $left"; failed=1
  else
    echo "$name: exit $rc, $file named, nothing partial left"
  fi
}
expect result 3 "$mnt/result.json" "${mpi[@]}" -np 2 "$bin" run "$src/examples/tiny-llama.json" \
  --device cpu --iters 1 --warmup 0 --out "$mnt"
expect plan 2 "$mnt/plan.json" "$bin" plan "$src/examples/plan/small-moe-2cpu.json" \
  --out "$mnt/plan.json"
# --dump writes a directory of files: the one that did not fit is named, and none is partial.
expect dump 3 "$mnt/dump/[^ ]*" "${mpi[@]}" -np 2 "$bin" run "$src/examples/tiny-llama.json" \
  --device cpu --iters 1 --warmup 0 --out "$mnt.res" --dump "$mnt/dump"
partial=$(find "$mnt/dump" -name '*.tmp.*' 2>/dev/null)
[ -z "$partial" ] || { echo "dump: temporaries left: $partial"; failed=1; }
rm -rf "$mnt.out" "$mnt.err" "$mnt.res"
[ "$failed" -eq 0 ] && echo "full_disk: all three refused as they must"
exit "$failed"
