#!/usr/bin/env bash
# Packs what a bare GPU machine lacks for bench/gpu_carried_check.sh into .gpucarry/ (ignored
# by git; name it in the device tool's `carry`), under its 64 MiB: NCCL 2.30 from
# ../shared/gpu (several ranks on one GPU), Open MPI and OpenBLAS's runtime from Debian's
# packages (apt-get download + dpkg -x, relocated there with OPAL_PREFIX), and the stripped,
# xz-compressed shardrt, GPU test and kernel bench binaries of a CUDA build, with the listing
# of its GPU tests (ctest --show-only=json-v1 -L gpu).
#   bench/gpu_carry_prepare.sh [CUDA_BUILD_DIR (default build-cuda)]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-cuda}
[[ -x $build/shardrt ]] || { echo "gpu_carry_prepare: $build/shardrt not found; build with CUDA first" >&2; exit 2; }
nccl=../shared/gpu/libnccl.so.2.xz
[[ -f $nccl ]] || { echo "gpu_carry_prepare: $nccl not found" >&2; exit 2; }
carry=.gpucarry
rm -rf "$carry" && mkdir -p "$carry/bin"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$nccl" "$carry/"
(cd "$work" && apt-get download openmpi-bin libopenmpi3 openmpi-common libpmix2 libhwloc15 \
  libevent-2.1-7 libevent-core-2.1-7 libevent-pthreads-2.1-7 libfabric1 libucx0 libibverbs1 \
  librdmacm1 libnl-3-200 libnl-route-3-200 libpsm2-2 libnuma1 libltdl7 libmunge2 \
  libopenblas0-pthread libgfortran5 libquadmath0 libpsm-infinipath1 >/dev/null)
mkdir "$work/root"
for deb in "$work"/*.deb; do dpkg -x "$deb" "$work/root"; done
rm -rf "$work"/root/usr/share/{doc,man} "$work"/root/usr/lib/x86_64-linux-gnu/libmpi_java*
tar -C "$work/root" -cJf "$carry/mpi.tar.xz" .
# The binaries keep their place in the build tree (shardrt, tests/, bench/), so that the ctest
# listing's commands find them once the build folder's path is replaced.
mkdir -p "$carry/bin/tests" "$carry/bin/bench"
cp "$build/shardrt" "$carry/bin/"
cp "$build"/tests/gpu_test_* "$carry/bin/tests/"
cp "$build/bench/cuda_kernel_bench" "$carry/bin/bench/"
rm -f "$carry"/bin/tests/*.cmake
strip "$carry"/bin/shardrt "$carry"/bin/tests/* "$carry"/bin/bench/*
xz -T2 "$carry"/bin/shardrt "$carry"/bin/tests/* "$carry"/bin/bench/*
# Every GPU test as ctest would run it (bench/gpu_ctest_run.py runs them there).
source=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$build/CMakeCache.txt")
(cd "$build" && ctest --show-only=json-v1 -L gpu) > "$work/ctest.json"
python3 - "$source" "$(cd "$build" && pwd)" "$work/ctest.json" "$carry/gpu_tests.json" <<'PY'
import json, sys
source, build, listing, out = sys.argv[1:]
json.dump({"source": source, "build": build, "ctest": json.load(open(listing))}, open(out, "w"))
PY
echo "gpu_carry_prepare: $(du -sh "$carry" | cut -f1) in $carry; run bench/gpu_carried_check.sh there with carry [\"$carry\"]"
