#!/usr/bin/env bash
# Installs what shardrt needs to build and test, from Debian packages, when it is missing, and
# from PyPI what Debian lacks: the cuDNN frontend's C++ headers (cmake/cudnn.cmake).
# The CUDA toolkit (nvcc, cuBLAS, NCCL, cuDNN) is optional and not installed here: without nvcc
# the build is CPU-only, and without cuDNN it has no `--attention cudnn`.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libopenmpi-dev openmpi-bin      # the mpi Communicator and mpirun
  nlohmann-json3-dev              # deployment files, result.json
  libcli11-dev                    # the command line
  libopenblas-dev                 # CPU GEMMs
  libgtest-dev                    # unit tests
  python3 python3-numpy           # the independent NumPy check of --dump
  python3-pip                     # the cuDNN frontend headers, below
  graphviz                        # dot: the deployment DAG rendered to SVG
  clang libclang-rt-dev           # libFuzzer for fuzz/run.sh (its runtime is only recommended)
)

# The cuDNN frontend: header-only C++, shipped by PyPI's nvidia-cudnn-frontend under include/.
# Pinned; --no-deps because its Python half pulls in CUTLASS's DSL and more that the headers
# do not need; --target (a folder cmake/cudnn.cmake also searches) because Debian's python3
# refuses installs into its own environment (PEP 668).
cudnn_frontend=nvidia-cudnn-frontend==1.32.0
pip_target=/opt/shardrt/python

sudo=""
need_root() {
  if [ "$(id -u)" -ne 0 ] && [ -z "$sudo" ]; then
    command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: $*" >&2; exit 1; }
    sudo="sudo"
  fi
}

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
else
  need_root "${missing[*]}"
  echo "install-deps: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

have_frontend() {
  PYTHONPATH="$pip_target${PYTHONPATH:+:$PYTHONPATH}" python3 -c \
    "import importlib.metadata as m; m.distribution('nvidia-cudnn-frontend')" 2>/dev/null
}
if have_frontend; then
  echo "install-deps: nvidia-cudnn-frontend present"
else
  need_root "$cudnn_frontend"
  echo "install-deps: installing $cudnn_frontend into $pip_target"
  $sudo python3 -m pip install -q --no-deps --target "$pip_target" "$cudnn_frontend"
fi
