#!/usr/bin/env bash
# --out and --dump on a read-only filesystem (issue 15, item 2): refused at start-up with exit 2
# and the system's reason, before any work (no summary line), even for root, whom permission
# bits do not stop. Needs root to mount a read-only tmpfs; says so and is skipped (exit 77)
# otherwise.
#   output_read_only.sh SHARDRT_BINARY SOURCE_DIR
set -uo pipefail
bin=$1 src=$2
mnt=$(mktemp -d)
cleanup() { umount "$mnt" 2>/dev/null; rm -rf "$mnt"; }
trap cleanup EXIT
if ! mount -t tmpfs -o ro,size=64k tmpfs "$mnt" 2>/dev/null; then
  echo "output_read_only: cannot mount a read-only tmpfs here (needs root): skipped"
  exit 77
fi
mpi=(mpirun --oversubscribe -np 2)
[ "$(id -u)" -eq 0 ] && mpi+=(--allow-run-as-root)
failed=0
for args in "--out $mnt" "--out $mnt/new" "--dump $mnt/d"; do
  out=$("${mpi[@]}" "$bin" run "$src/examples/tiny-llama.json" --device cpu $args 2>&1)
  rc=$?
  option=${args%% *}
  if [ $rc -ne 2 ]; then
    echo "$args: exit $rc, expected 2"; failed=1
  elif ! grep -qE "^shardrt: rank 0 on [^ ]+: error: $option: .*\(Read-only file system\)$" <<<"$out"; then
    echo "$args: no line naming $option and the reason:"; echo "$out"; failed=1
  elif grep -q "^shardrt run:" <<<"$out"; then
    echo "$args: the run started before the refusal"; failed=1
  else
    echo "$args: refused: $(grep -E "rank 0 on [^ ]+: error" <<<"$out")"
  fi
done
[ $failed -eq 0 ] && echo "output_read_only: OK"
exit $failed
