# `run --weights`: checkpoints written by NumPy (tests/cli/write_checkpoint.py) in each format
# and dtype, run sharded with --validate, then checked from outside: the weights the run used
# are the file's bit for bit, and NumPy recomputes the output from them
# (tests/cli/weights_and_check.sh).
function(weights_check name example ranks format dtype shards)
  set(dir ${CMAKE_CURRENT_BINARY_DIR}/out/weights/${name})
  add_test(NAME cli.weights.${name}
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/cli/weights_and_check.sh ${dir} ${format} ${dtype}
                   ${shards} -- ${SHARDRT_MPIRUN} -np ${ranks} $<TARGET_FILE:shardrt> run
                   ${PROJECT_SOURCE_DIR}/examples/${example}.json --device cpu --validate
                   --warmup 0 --iters 1 ${ARGN})
  set_tests_properties(cli.weights.${name} PROPERTIES LABELS cli TIMEOUT 180
                       SKIP_RETURN_CODE 77 ENVIRONMENT "${SHARDRT_MPI_ENV}")
endfunction()
weights_check(llama_tp2_safetensors_bf16 tiny-llama 2 safetensors BF16 2)
weights_check(llama_pp2_npy_f32 tiny-llama 2 npy F32 1 --set strategy.tp=1 --set strategy.pp=2)
weights_check(moe_tp2_ep2_safetensors_f16 tiny-moe 2 safetensors F16 3)
weights_check(moe_dp2_ep2_npy_f16 tiny-moe 2 npy F16 1 --set strategy.tp=1 --set strategy.dp=2)

# The dump of a run read back with --weights reproduces the run's output byte for byte (same
# plan, same input): --dump and --weights are inverses.
add_test(NAME cli.weights.dump_round_trip
         COMMAND bash -c "set -e; rm -rf \"$0\"; $1 --dump \"$0/a\" --out \"$0/out-a\" && $1 --weights \"$0/a\" --dump \"$0/b\" --out \"$0/out-b\" && cmp \"$0/a/output.npy\" \"$0/b/output.npy\" && cmp \"$0/a/model.layers.1.mlp.experts.5.up_proj.weight.npy\" \"$0/b/model.layers.1.mlp.experts.5.up_proj.weight.npy\" && echo round trip: same bytes"
                 ${CMAKE_CURRENT_BINARY_DIR}/out/weights/round_trip
                 "${MPIEXEC_EXECUTABLE} --oversubscribe -np 2 $<TARGET_FILE:shardrt> run ${PROJECT_SOURCE_DIR}/examples/tiny-moe.json --device cpu --warmup 0 --iters 1")
set_tests_properties(cli.weights.dump_round_trip PROPERTIES LABELS cli TIMEOUT 180
                     ENVIRONMENT "${SHARDRT_MPI_ENV}")

# On a GPU (skipped, with the reason, where none is visible): a BF16 checkpoint run in bf16 on
# the cuda backend with --validate, checked by NumPy at bf16's tolerance.
if(SHARDRT_HAVE_CUDA)
  set(dir ${CMAKE_CURRENT_BINARY_DIR}/out/weights/gpu_llama_bf16)
  add_test(NAME gpu.weights.llama_tp2_safetensors_bf16
           COMMAND bash -c "command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1 || { echo 'SKIP: no GPU visible (nvidia-smi -L failed or is missing)'; exit 77; }; exec \"$@\"" _
                   ${CMAKE_CURRENT_SOURCE_DIR}/cli/weights_and_check.sh ${dir} safetensors BF16 2 --
                   ${SHARDRT_MPIRUN} -np 2 $<TARGET_FILE:shardrt> run
                   ${PROJECT_SOURCE_DIR}/examples/tiny-llama.json --device cuda
                   --set workload.dtype=bf16 --validate --warmup 0 --iters 1)
  set_tests_properties(gpu.weights.llama_tp2_safetensors_bf16 PROPERTIES LABELS gpu TIMEOUT 180
                       SKIP_RETURN_CODE 77 ENVIRONMENT "${SHARDRT_MPI_ENV}")
endif()

# Ranks given different checkpoints of one layout (here: the dumps of seeds 1234 and 2, as two
# fine-tunes at one path on two nodes would be) refuse to start, named, instead of computing a
# mix of both. MPMD: rank 0 reads one, rank 1 the other.
set(dir ${CMAKE_CURRENT_BINARY_DIR}/out/weights/other_checkpoints)
# One string, not a list: bash splits it (a CMake list would reach bash joined by ';').
set(run_llama "$<TARGET_FILE:shardrt> run ${PROJECT_SOURCE_DIR}/examples/tiny-llama.json --device cpu --warmup 0 --iters 1")
add_test(NAME cli.weights.ranks_read_other_checkpoints
         COMMAND bash -c "set -e; rm -rf \"$0\"; $1 -np 2 $2 --dump \"$0/a\" --out \"$0/out\" >/dev/null; $1 -np 2 $2 --set seed=2 --dump \"$0/b\" --out \"$0/out\" >/dev/null; exec $3 2 '^shardrt: rank 0 on [^ ]+: error: --weights: ranks 1 read other weights than rank 0 from .*/a [(]every rank must see the same checkpoint[)]$' 1 -- $1 -np 1 $2 --weights \"$0/a\" : -np 1 $2 --weights \"$0/b\""
                 ${dir} "${MPIEXEC_EXECUTABLE} --oversubscribe" "${run_llama}" ${SHARDRT_EXPECT})
set_tests_properties(cli.weights.ranks_read_other_checkpoints PROPERTIES LABELS cli TIMEOUT 180
                     ENVIRONMENT "${SHARDRT_MPI_ENV}")

# The --weights scripts on a hand-made checkpoint (tests/cli/hand_made_checkpoint.sh).
function(weights_script_case name script)
  add_test(NAME cli.weights.${name}
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/cli/${script} $<TARGET_FILE:shardrt>
                   ${PROJECT_SOURCE_DIR} ${CMAKE_CURRENT_BINARY_DIR}/out/weights/${name})
  set_tests_properties(cli.weights.${name} PROPERTIES LABELS cli TIMEOUT 180
                       ENVIRONMENT "${SHARDRT_MPI_ENV}")
endfunction()
# NaN or Inf in a checkpoint: refused at load by the rank that reads it, exit 2 (issue 15, item 5).
weights_script_case(nan_refused weights_nan.sh)
# A .npy that is a FIFO or a directory: refused by name, exit 2 (issue 15, item 9).
weights_script_case(not_a_regular_file weights_not_regular.sh)
# Tensors under model.layers. that the model does not use: refused by name (issue 15, item 4);
# a rotary buffer is held to rope_theta.
weights_script_case(unused_layer_tensors_refused weights_unused.sh)
