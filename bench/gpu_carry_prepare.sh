#!/usr/bin/env bash
# Packs what a bare GPU machine lacks for bench/gpu_carried_check.sh into .gpucarry/ (ignored
# by git; name it in the device tool's `carry`), under its 64 MiB: NCCL 2.30 from
# ../shared/gpu (several ranks on one GPU), Open MPI and OpenBLAS's runtime from Debian's
# packages (apt-get download + dpkg -x, relocated there with OPAL_PREFIX), and the stripped,
# xz-compressed shardrt and GPU test binaries of a CUDA build.
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
cp "$build/shardrt" "$build"/tests/gpu_test_* "$carry/bin/"
rm -f "$carry"/bin/*.cmake
strip "$carry"/bin/*
xz -T2 "$carry"/bin/*
echo "gpu_carry_prepare: $(du -sh "$carry" | cut -f1) in $carry; run bench/gpu_carried_check.sh there with carry [\"$carry\"]"
