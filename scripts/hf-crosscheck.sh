#!/usr/bin/env bash
# shardrt against Hugging Face transformers, family by family (tests/reference/hf_crosscheck.py;
# issue 16, item 3). Heavy (PyTorch is about 5.6 GB installed), so not part of the default test
# run: ctest's reference.hf_crosscheck runs it when the environment below exists and says it is
# skipped when not.
#   scripts/hf-crosscheck.sh [--install] [BUILD_DIR] [WORK_DIR]
# The Python comes from SHARDRT_HF_PYTHON, else /opt/shardrt/hf-venv/bin/python; --install makes
# that virtual environment first (pip: torch, transformers, safetensors, numpy, from PyPI).
set -euo pipefail
cd "$(dirname "$0")/.."
install=0
if [ "${1:-}" = "--install" ]; then install=1; shift; fi
build=${1:-build}
work=${2:-$build/hf-crosscheck}
venv=/opt/shardrt/hf-venv
python=${SHARDRT_HF_PYTHON:-$venv/bin/python}
if [ $install -eq 1 ] && [ -z "${SHARDRT_HF_PYTHON:-}" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet torch transformers safetensors numpy
fi
if ! [ -x "$python" ] || ! "$python" -c "import torch, transformers, safetensors, numpy" 2>/dev/null; then
  echo "SKIPPED: no Python with torch, transformers, safetensors and numpy at $python" \
       "(scripts/hf-crosscheck.sh --install makes one, about 5.6 GB; or set SHARDRT_HF_PYTHON)"
  exit 77
fi
exec "$python" tests/reference/hf_crosscheck.py "$build/shardrt" "$work" --mpirun "$(command -v mpirun)"
