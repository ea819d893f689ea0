#!/usr/bin/env bash
# A weight file that is a FIFO or a directory (issue 15, item 9): refused by name, exit 2, on
# every rank. Before, a directory was skipped and reported as a missing weight ("is not in
# DIR"), and a FIFO the same.
#   weights_not_regular.sh SHARDRT_BINARY SOURCE_DIR WORK_DIR
set -uo pipefail
bin=$1 src=$2 work=$3
. "$(dirname "$0")/hand_made_checkpoint.sh"
rm -rf "$work" && mkdir -p "$work"
hand_made_checkpoint "$work/ckpt"
w="$work/ckpt/model.norm.weight.npy"
failed=0
for kind in FIFO directory; do
  rm -rf "$w"
  if [ $kind = FIFO ]; then mkfifo "$w"; else mkdir "$w"; fi
  out=$(timeout 60 "${run[@]}" --weights "$work/ckpt" 2>&1); rc=$?
  n=$(grep -cE "^shardrt: rank [01] on [^ ]+: error: --weights: .*/model\.norm\.weight\.npy is not a regular file \(a $kind\)$" <<<"$out")
  if [ $rc -ne 2 ] || [ "$n" -ne 2 ]; then
    echo "$kind: exit $rc (want 2), $n matching lines (want 2):"; echo "$out" | head; failed=1
  else
    echo "$kind: refused on both ranks"
  fi
done
[ $failed -eq 0 ] && echo "weights_not_regular: OK"
exit $failed
