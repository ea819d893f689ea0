#!/usr/bin/env bash
# The GPU check for a bare GPU machine, from what bench/gpu_carry_prepare.sh packed into
# .gpucarry/. Run from the repository root. The device tool returns only a few files, so every
# output is kept in /tmp/gpuw/out and packed at the end into $OUT/results.tar.gz, beside
# $OUT/log.txt. DEADLINE=S (seconds from the start, default 540): nothing starts after it, so
# that the pack is written inside the tool's limit; what did not run is counted as failed.
# Sections (SECTIONS="..." picks some; default all; they run in this order):
#   staged      two validated multi-rank runs through the host-staged MPI path, for comparison
#   checks      a traced run and its DAG checked, --check-numerics, the two test faults
#   collectives `bench collectives` on 2 and 4 ranks through NCCL (#wrong must be 0; the times
#               of ranks sharing one GPU mean nothing, and the table says so)
#   kernels     bench/cuda_kernel_bench, fp32 and bf16: each kernel against a device copy,
#               the GEMMs against cuBLAS alone
#   layers      the Llama-3-8B-shaped dense and the Mixtral-shaped MoE layer, bf16, in shardrt
#               (--profile, one traced pass) and in PyTorch eager (TORCH_COMPILE=1: and
#               torch.compile), on the same GPU
#   watchdog    --nccl-watchdog on (off by default: docs/reliability.md): a validated run, and a stall that
#               must end in exit 4 with the watchdog's line, within --timeout + 2 s of the
#               stalled collective's start (its elapsed time printed), leaving no process on the GPU
#   cudnn       `run --attention cudnn` (cuDNN's fused attention, first run 2026-12-04):
#               its GPU test, validated bf16 runs of the examples (tp 2, MoE, tp 4), the dense
#               layer profiled with it; each run prints which attention ran ("attention rank 0")
#   ctest       every GPU test of the CUDA build's ctest listing (kernel tests against the CPU
#               kernels, validated strategy runs: tp, ep, pp, dp and mixes, fp32 and bf16),
#               multi-rank ones through NCCL 2.30 with the ranks sharing the GPU
#               (bench/gpu_ctest_run.py); CTEST_SKIP_PASSED=FILE leaves out what an earlier
#               run's listing shows passed
#   extra       any bench/gpu_extra_*.sh (checks of paths not yet proven on a GPU)
# Prints "gpu check: N passed, M failed" last; exits 1 if anything failed.
set -uo pipefail
C=$PWD/.gpucarry; W=/tmp/gpuw
mkdir -p $W/root $W/nccl $W/build
O=$W/out; rm -rf $O; mkdir -p $O; LOG=$O/log.txt; DEST=${OUT:-/tmp/out}; mkdir -p $DEST
exec > >(tee -a $LOG) 2>&1
T0=$(date +%s); DEADLINE=${DEADLINE:-540}
left() { echo $(( DEADLINE - ($(date +%s) - T0) )); }
pack() { tar -C $W -czf $DEST/results.tar.gz out; cp $LOG $DEST/log.txt; }
trap pack EXIT
section() { echo; echo "##### $1 (t = $(( $(date +%s) - T0 )) s)"; }
python3 - <<PY
import lzma, shutil, tarfile, glob, os
shutil.copyfileobj(lzma.open("$C/libnccl.so.2.xz"), open("$W/nccl/libnccl.so.2", "wb"))
tarfile.open("$C/mpi.tar.xz").extractall("$W/root")
for f in glob.glob("$C/bin/**/*.xz", recursive=True):
    out = "$W/build/" + os.path.relpath(f, "$C/bin")[:-3]
    os.makedirs(os.path.dirname(out), exist_ok=True)
    shutil.copyfileobj(lzma.open(f), open(out, "wb")); os.chmod(out, 0o755)
PY
R=$W/root
ln -sf orterun $R/usr/bin/mpirun; ln -sf orterun $R/usr/bin/mpiexec  # Debian's are alternatives links
export OPAL_PREFIX=$R/usr PMIX_INSTALL_PREFIX=$R/usr PATH=$R/usr/bin:$PATH
# libcudnn.so.9 (PyTorch's nvidia/cudnn/lib) matches libcu*; cuDNN's runtime-compiled engines
# dlopen NVRTC, hence its folder too.
cudalibs=$(python3 -c "import glob,os; print(':'.join(sorted({os.path.dirname(p) for p in glob.glob('/usr/local/cuda*/lib*/libcublas.so.13')+glob.glob('/usr/local/cuda*/targets/*/lib/libcublas.so.13')+glob.glob('/opt/torch/.venv/lib/python3*/site-packages/nvidia/*/lib/libcu*.so.*')+glob.glob('/opt/torch/.venv/lib/python3*/site-packages/nvidia/*/lib/libnvrtc*.so.*')})))" 2>/dev/null)
export LD_LIBRARY_PATH=$W/nccl:$R/usr/lib/x86_64-linux-gnu:$R/usr/lib/x86_64-linux-gnu/openmpi/lib:$R/usr/lib/x86_64-linux-gnu/pmix2/lib:$R/usr/lib/x86_64-linux-gnu/openblas-pthread:$R/lib/x86_64-linux-gnu:$cudalibs:${LD_LIBRARY_PATH:-}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export PMIX_MCA_pcompress_base_silence_warning=1  # the carried PMIx finds no zlib plugin there
export NCCL_MULTI_RANK_GPU_ENABLE=1               # several ranks on the one GPU (NCCL 2.30+)
nvidia-smi -L; date -u; echo "cuda libs: $cudalibs"
S=$W/build/shardrt
ldd $S | grep -E "not found|nccl|cublas|cudnn|mpi.so|openblas"
pass=0; fail=0
check() {  # check NAME EXPECTED_EXIT CMD...: runs, keeps the output in $O/NAME.txt, counts
  local name=$1 want=$2; shift 2
  local limit=$(left); [ $limit -gt ${CHECK_SECONDS:-120} ] && limit=${CHECK_SECONDS:-120}
  if [ $limit -lt 5 ]; then fail=$((fail+1)); echo "--- $name: NOT RUN (past DEADLINE $DEADLINE s)"; return; fi
  echo "=== $name"; local t=$(date +%s.%N)
  timeout $limit "$@" > $O/$name.txt 2>&1; local rc=$?
  grep -vE "^\s*$" $O/$name.txt | head -30
  local s=$(python3 -c "import time; print(f'{time.time() - $t:.1f}')")
  if [ $rc -eq $want ]; then pass=$((pass+1)); echo "--- $name: ok (exit $rc, $s s)"; else fail=$((fail+1)); echo "--- $name: FAILED (exit $rc, wanted $want, $s s)"; fi
}
want() { [[ " ${SECTIONS:-ctest staged checks collectives kernels layers watchdog cudnn extra} " == *" $1 "* ]]; }
layer_json() {  # the shapes bench/torch_layers.py uses
  local moe=""
  [[ $1 == moe ]] && moe=', "moe": {"experts": 8, "top_k": 2, "expert_ffn_hidden": 14336}'
  echo "{\"name\": \"$1-layer\", \"model\": {\"layers\": 1, \"hidden\": 4096, \"heads\": 32, \"kv_heads\": 8,
 \"head_dim\": 128, \"ffn_hidden\": 14336, \"norm\": \"rmsnorm\", \"activation\": \"swiglu\",
 \"rope_theta\": 500000.0$moe}, \"workload\": {\"batch_size\": 8, \"seq_len\": 2048, \"dtype\": \"bf16\"}}"
}

if want staged; then
  section "the host-staged MPI path"
  nostage=(env -u NCCL_MULTI_RANK_GPU_ENABLE orterun)  # NCCL 2.30 then refuses to share the GPU
  check staged.tiny-llama.tp2.fp32 0 "${nostage[@]}" -np 2 $S run examples/tiny-llama.json --device cuda --validate --out $W/r
  check staged.tiny-moe.pp2dp2.bf16 0 "${nostage[@]}" -np 8 $S run examples/tiny-moe.json --device cuda --set workload.dtype=bf16 --validate --set strategy.pp=2 --set strategy.dp=2 --set strategy.microbatches=2 --out $W/r
  grep -h "communicator" $O/staged.*.txt | head -2
fi
if want checks; then
  section "trace, numerics, faults"
  check trace.tiny-moe 0 orterun -np 2 $S run examples/tiny-moe.json --device cuda --trace $W/trace --out $W/r
  for d in $W/trace/*.dot; do check dagcheck-$(basename $d .dot) 0 $S dag check $d; done
  check numerics.tiny-llama 0 orterun -np 2 $S run examples/tiny-llama.json --device cuda --check-numerics --out $W/r
  check fault.nan-weight 1 orterun -np 2 $S run examples/tiny-llama.json --device cuda --check-numerics --test-fault-nan-weight model.layers.1.mlp.up_proj.weight --out $W/r
  check fault.skip-allreduce 1 orterun -np 2 $S run examples/tiny-llama.json --device cuda --validate --test-fault-skip-allreduce --out $W/r
fi
if want collectives; then
  section "bench collectives through NCCL (data checked; times of ranks sharing a GPU mean nothing)"
  for n in 2 4; do
    # Each call costs milliseconds when ranks time-share the GPU (4.5 ms on 2 ranks, 18-27 on
    # 4, whatever the size, on the H200 of 2026-12-04): a short sweep checks the data.
    check collectives.np$n 0 orterun -np $n $S bench collectives --device cuda --max-bytes ${COLL_MAX_BYTES:-67108864} --factor 8 --iters 5 --json $O/collectives-np$n.json
  done
fi
if want kernels; then
  section "kernels against a device copy and cuBLAS"
  for dtype in fp32 bf16; do check kernels-$dtype 0 $W/build/bench/cuda_kernel_bench --dtype $dtype --iters 10; done
fi
if want layers; then
  section "layers: shardrt and PyTorch on the same GPU, bf16"
  for kind in dense moe; do
    layer_json $kind > $O/$kind-layer.json
    check layer-$kind 0 orterun -np 1 $S run $O/$kind-layer.json --device cuda --warmup 2 --iters 10 \
      --profile ${LAYER_FLAGS:-} --trace $W/trace-$kind --out $O/shardrt-$kind
  done
  compile=(); [ "${TORCH_COMPILE:-0}" = 1 ] && compile=(--compile)
  check torch-layers 0 timeout ${TORCH_SECONDS:-110} python3 bench/torch_layers.py --dtype bf16 --iters 10 "${compile[@]}" --json
fi
# ---------------------------------------------------------------------------------------------
# The watched NCCL communicator (--nccl-watchdog on, issue 19 item 3; docs/reliability.md).
if want watchdog; then
  section "--nccl-watchdog on: the watched NCCL communicator"
  check watchdog.tiny-llama.tp2 0 orterun -np 2 $S run examples/tiny-llama.json --device cuda --nccl-watchdog on --validate --out $W/r
  grep -h "communicator" $O/watchdog.tiny-llama.tp2.txt | head -1
  t0=$(date +%s.%N)
  check watchdog.stall 4 orterun -np 2 $S run examples/tiny-llama.json --device cuda --nccl-watchdog on --timeout 3 --test-fault 1:20:stall --out $W/r
  t1=$(date +%s.%N)
  began=$(sed -nE 's/^shardrt: rank 0 on [^ ]+: .* start +([0-9.]+) s +still waiting$/\1/p' $O/watchdog.stall.txt | head -1)
  python3 -c "e = $t1 - $t0; b = float('${began:-nan}'); print(f'watchdog.stall: job ended after {e:.1f} s; the stalled collective began {b:.1f} s into rank 0, so the job ended {e - b:.1f} s after it (allowed: --timeout 3 + 2 s)')"
  grep -E "error: watchdog:|still waiting" $O/watchdog.stall.txt
  sleep 1; echo "processes on the GPU after the stall: $(nvidia-smi --query-compute-apps=pid --format=csv,noheader | wc -l)"
fi
# ---------------------------------------------------------------------------------------------
# cuDNN's fused attention (--attention cudnn; kernels/cuda/attention_cudnn.cuh). A shape cuDNN
# refuses falls back to our kernel, and the summary's "attention rank 0" line says how many
# calls ran which, so a silent fallback shows here. The examples' head_dims
# (32, 16, 32) are within what cuDNN 9 supports on sm_80+: each should say 0 fell back.
if want cudnn; then
  section "cuDNN attention (--attention cudnn)"
  check cudnn.gtest 0 $W/build/tests/gpu_test_attention_cudnn
  # The attention rows (ours and attn_cudnn) of the bf16 kernel bench, alone if `kernels` is skipped.
  check cudnn.bench 0 $W/build/bench/cuda_kernel_bench --dtype bf16 --iters 5
  grep -E "^(attention|attn_cudnn)" $O/cudnn.bench.txt
  cudnn_run=(run --device cuda --set workload.dtype=bf16 --attention cudnn --validate --out $W/r)
  check cudnn.tiny-llama.tp2.bf16 0 orterun -np 2 $S "${cudnn_run[@]}" examples/tiny-llama.json
  check cudnn.tiny-moe.tp2ep2.bf16 0 orterun -np 2 $S "${cudnn_run[@]}" examples/tiny-moe.json
  check cudnn.small-gpt.tp4.bf16 0 orterun -np 4 $S "${cudnn_run[@]}" examples/small-gpt.json
  layer_json dense > $O/dense-layer.json
  check cudnn.layer-dense 0 orterun -np 1 $S run $O/dense-layer.json --device cuda --warmup 2 --iters 10 \
    --profile --attention cudnn --out $O/shardrt-dense-cudnn
  grep -H "attention rank 0" $O/cudnn.*.txt
fi
# Last: with DEADLINE it gets the time the others left (tests not started are counted).
if want ctest; then
  section "ctest: every GPU test, multi-rank ones through NCCL"
  skip=(); [ -n "${CTEST_SKIP_PASSED:-}" ] && skip=(--skip-passed "$CTEST_SKIP_PASSED")
  CHECK_SECONDS=$(left) check ctest-all 0 python3 bench/gpu_ctest_run.py $C/gpu_tests.json --build $W/build \
    --mpiexec $R/usr/bin/orterun --jobs ${CTEST_JOBS:-4} --log $O/ctest --seconds $(( $(left) - 40 )) "${skip[@]}"
  grep -E "^(FAIL|SKIP|NOT RUN)|^gpu ctest" $O/ctest-all.txt | head -40
fi
# ---------------------------------------------------------------------------------------------
if want extra; then
  for x in bench/gpu_extra_*.sh; do [ -f "$x" ] && { section "$x"; . "$x"; }; done
fi
echo; echo "gpu check: $pass passed, $fail failed ($(( $(date +%s) - T0 )) s)"
[ "$fail" -eq 0 ]
