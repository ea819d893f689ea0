#!/usr/bin/env bash
# Checks that every #include in the source tree goes down the layers, never up or across:
#   common <- kernels, comm, config <- runtime <- dag <- bench, launch; config <- planner.
# The build enforces the same rules (each layer's target sees only the headers of the layers
# it links, CMakeLists.txt); this script says which rule an include breaks, in words.
#   scripts/check-layers.sh [ROOT]     exit 0: all includes allowed; 1: each offence named
set -euo pipefail
root=${1:-$(dirname "$0")/..}
cd "$root"

# Who may use whom (a layer may always use itself). docs/architecture.md draws this table.
declare -A may=(
  [common]="common"
  [kernels]="kernels common"
  [comm]="comm common"
  [config]="config common"
  [runtime]="runtime kernels comm config common"
  [dag]="dag runtime kernels comm config common"
  [planner]="planner config common"
  [bench]="bench runtime planner kernels comm config common"
  [launch]="launch bench dag planner runtime kernels comm config common"
)

bad=0
for layer in "${!may[@]}"; do
  [ -d "$layer" ] || continue
  while IFS=: read -r file line text; do
    target=$(sed -E 's/.*#include "([^"]*)".*/\1/' <<<"$text")
    case "$target" in
      ../*|*/../*)
        echo "layers: $file:$line includes \"$target\": includes name a layer's folder, never a relative path up"
        bad=1; continue ;;
    esac
    used=${target%%/*}
    [ "$used" = "$target" ] && continue   # a file beside this one (none today)
    [ -n "${may[$used]:-}" ] || continue  # not a layer: a system or third-party header
    if [[ " ${may[$layer]} " != *" $used "* ]]; then
      echo "layers: $file:$line includes $target: $layer/ may use only ${may[$layer]// /, } (docs/architecture.md, \"Layers\")"
      bad=1
    fi
  done < <(grep -rnE '^\s*#\s*include\s+"' "$layer" --include='*.h' --include='*.cpp' \
             --include='*.cu' --include='*.cuh' || true)
done
if [ "$bad" -ne 0 ]; then exit 1; fi
echo "layers: every include in ${!may[*]} goes down the layers"
