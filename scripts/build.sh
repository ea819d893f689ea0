#!/usr/bin/env bash
# Configures and builds shardrt into build/ (or $BUILD_DIR). CUDA is compiled when nvcc is
# found (SHARDRT_CUDA=AUTO); pass -DSHARDRT_CUDA=OFF in CMAKE_ARGS to skip it.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build}
# nvcc lives outside PATH on most CUDA installs; let CMake find it there.
if ! command -v nvcc >/dev/null && [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH="/usr/local/cuda/bin:$PATH"
fi
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release ${CMAKE_ARGS:-}
cmake --build "$build_dir" -j "$(nproc)"
