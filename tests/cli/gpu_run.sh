#!/usr/bin/env bash
# gpu_run.sh ARGS...: runs expect_run.sh ARGS... when a GPU is visible; otherwise exits 77,
# which ctest reports as skipped, and says why.
here=$(cd "$(dirname "$0")" && pwd)
if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
  echo "SKIP: no GPU visible (nvidia-smi -L failed or is missing)"
  exit 77
fi
exec "$here/expect_run.sh" "$@"
