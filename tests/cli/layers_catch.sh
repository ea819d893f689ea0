#!/usr/bin/env bash
# Proves scripts/check-layers.sh can fail: on a copy of the tree with one include planted
# against the layering (runtime/ using dag/), it must exit 1 and name the file and the rule.
set -euo pipefail
src=$1
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
cp -r "$src"/{common,kernels,comm,config,runtime,dag,planner,bench,launch} "$t"/
"$src"/scripts/check-layers.sh "$t" >/dev/null || { echo "the unchanged copy failed"; exit 1; }
sed -i '1i #include "dag/deployment_graph.h"' "$t/runtime/tensor.h"
set +e
out=$("$src"/scripts/check-layers.sh "$t")
rc=$?
set -e
echo "$out"
[ "$rc" -eq 1 ] || { echo "expected exit 1, got $rc"; exit 1; }
grep -q 'runtime/tensor.h:1 includes dag/deployment_graph.h: runtime/ may use only' <<<"$out" ||
  { echo "the offence was not named"; exit 1; }
echo "check-layers caught the planted include"
