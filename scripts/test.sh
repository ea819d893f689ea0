#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite (unit, multi-rank, CLI).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
cd "${BUILD_DIR:-build}"
# The gpu-labelled tests skip themselves without a GPU; say so up front, with the reason.
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L; then
  echo "test.sh: GPU visible: the gpu-labelled tests run"
else
  echo "test.sh: no GPU visible: the gpu-labelled tests (ctest -L gpu) report themselves skipped"
fi
ctest --output-on-failure -j "$(nproc)"
# The file parsers' fuzzers, about 60 s each (fuzz/run.sh; docs/reliability.md, "Hostile input").
cd - >/dev/null
fuzz/run.sh
