#!/usr/bin/env bash
# The GPU check for a bare GPU machine, from what bench/gpu_carry_prepare.sh packed into
# .gpucarry/: the CUDA kernel tests against the CPU kernels, then validated multi-rank runs on
# one GPU through the host-staged MPI path and through NCCL 2.30 (NCCL_MULTI_RANK_GPU_ENABLE=1),
# a traced run with its DAG checked, --check-numerics and the two test faults (which must fail).
# Run from the repository root; the log goes to $OUT/log.txt (the device tool's $OUT).
# Prints "gpu check: N passed, M failed" last. (bench/gpu_suite.sh is the fuller suite for a
# machine that already has MPI and ctest.)
set -uo pipefail
C=$PWD/.gpucarry; W=/tmp/gpuw
mkdir -p $W/root $W/nccl $W/bin
O=${OUT:-/tmp/out}; mkdir -p $O; LOG=$O/log.txt
exec > >(tee -a $LOG) 2>&1
python3 - <<PY
import lzma, shutil, tarfile, glob, os
shutil.copyfileobj(lzma.open("$C/libnccl.so.2.xz"), open("$W/nccl/libnccl.so.2", "wb"))
tarfile.open("$C/mpi.tar.xz").extractall("$W/root")
for f in glob.glob("$C/bin/*.xz"):
    out = "$W/bin/" + os.path.basename(f)[:-3]
    shutil.copyfileobj(lzma.open(f), open(out, "wb")); os.chmod(out, 0o755)
PY
R=$W/root
export OPAL_PREFIX=$R/usr PMIX_INSTALL_PREFIX=$R/usr PATH=$R/usr/bin:$PATH
cudalibs=$(python3 -c "import glob,os; print(':'.join(sorted({os.path.dirname(p) for p in glob.glob('/usr/local/cuda*/lib*/libcublas.so.13')+glob.glob('/usr/local/cuda*/targets/*/lib/libcublas.so.13')+glob.glob('/opt/torch/.venv/lib/python3*/site-packages/nvidia/*/lib/libcu*.so.13')})))" 2>/dev/null)
export LD_LIBRARY_PATH=$W/nccl:$R/usr/lib/x86_64-linux-gnu:$R/usr/lib/x86_64-linux-gnu/openmpi/lib:$R/usr/lib/x86_64-linux-gnu/pmix2/lib:$R/usr/lib/x86_64-linux-gnu/openblas-pthread:$R/lib/x86_64-linux-gnu:$cudalibs:${LD_LIBRARY_PATH:-}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export PMIX_MCA_pcompress_base_silence_warning=1  # the carried PMIx finds no zlib plugin there
nvidia-smi -L; date -u; echo "cuda libs: $cudalibs"
S=$W/bin/shardrt
ldd $S | grep -E "not found|nccl|cublas|mpi.so|openblas"
pass=0; fail=0
check() {  # check NAME EXPECTED_EXIT CMD...: runs, records, counts
  local name=$1 want=$2; shift 2
  echo "=== $name"; timeout 120 "$@" > $W/o.txt 2>&1; local rc=$?
  grep -vE "^\s*$" $W/o.txt | head -40
  if [ $rc -eq $want ]; then pass=$((pass+1)); echo "--- $name: ok (exit $rc)"; else fail=$((fail+1)); echo "--- $name: FAILED (exit $rc, wanted $want)"; fi
}
for t in $W/bin/gpu_test_*; do check "$(basename $t)" 0 $t --gtest_brief=1; done
for mode in staged nccl; do
  if [ $mode = nccl ]; then export NCCL_MULTI_RANK_GPU_ENABLE=1; else unset NCCL_MULTI_RANK_GPU_ENABLE; fi
  check $mode.tiny-llama.tp2.fp32 0 orterun -np 2 $S run examples/tiny-llama.json --device cuda --validate --out $W/r
  check $mode.tiny-llama.tp2.bf16 0 orterun -np 2 $S run examples/tiny-llama.json --device cuda --set workload.dtype=bf16 --validate --out $W/r
  check $mode.tiny-moe.tp2ep2.bf16 0 orterun -np 2 $S run examples/tiny-moe.json --device cuda --set workload.dtype=bf16 --validate --out $W/r
  check $mode.small-gpt.tp4.bf16 0 orterun -np 4 $S run examples/small-gpt.json --device cuda --set workload.dtype=bf16 --validate --out $W/r
  check $mode.tiny-moe.pp2dp2.fp32 0 orterun -np 8 $S run examples/tiny-moe.json --device cuda --validate --set strategy.pp=2 --set strategy.dp=2 --set strategy.microbatches=2 --out $W/r
done
export NCCL_MULTI_RANK_GPU_ENABLE=1
check trace.tiny-moe 0 orterun -np 2 $S run examples/tiny-moe.json --device cuda --trace $W/trace --out $W/r
for d in $W/trace/*.dot; do check dagcheck 0 $S dag check $d; done
check numerics.tiny-llama 0 orterun -np 2 $S run examples/tiny-llama.json --device cuda --check-numerics --out $W/r
check fault.nan-weight 1 orterun -np 2 $S run examples/tiny-llama.json --device cuda --check-numerics --test-fault-nan-weight model.layers.1.mlp.up_proj.weight --out $W/r
check fault.skip-allreduce 1 orterun -np 2 $S run examples/tiny-llama.json --device cuda --validate --test-fault-skip-allreduce --out $W/r
echo "gpu check: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
