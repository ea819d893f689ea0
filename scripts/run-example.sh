#!/usr/bin/env bash
# Installs what is missing, builds, and runs the main job: a validated tensor-parallel run of
# an example deployment on 2 ranks (the CPU backend; no GPU needed).
#   scripts/run-example.sh [DEPLOYMENT.json] [RANKS]
set -euo pipefail
cd "$(dirname "$0")/.."
deployment=${1:-examples/tiny-llama.json}
ranks=${2:-2}
scripts/install-deps.sh
scripts/build.sh
root_flag=""
[ "$(id -u)" -eq 0 ] && root_flag="--allow-run-as-root"
mpirun $root_flag --oversubscribe -np "$ranks" build/shardrt run "$deployment" \
  --set strategy.tp="$ranks" --validate --out shardrt-out
