#!/usr/bin/env bash
# Installs what shardrt needs to build and test, from Debian packages, when it is missing.
# The CUDA toolkit (nvcc, cuBLAS, NCCL) is optional and not installed here: without nvcc the
# build is CPU-only.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libopenmpi-dev openmpi-bin      # the mpi Communicator and mpirun
  nlohmann-json3-dev              # deployment files, result.json
  libcli11-dev                    # the command line
  libopenblas-dev                 # CPU GEMMs
  libgtest-dev                    # unit tests
  python3 python3-numpy           # the independent NumPy check of --dump
  graphviz                        # dot: the deployment DAG rendered to SVG
  clang libclang-rt-dev           # libFuzzer for fuzz/run.sh (its runtime is only recommended)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "install-deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
