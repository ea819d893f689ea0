# `shardrt generate` end to end under mpirun (issue 17): the unsharded generation on rank 0
# must choose the same tokens and every chosen token's logits must agree (fp32, 1e-5), for
# every strategy and family; sampling with a seed draws alike on every strategy; requests of
# different lengths finish early without stalling the others; bad input is refused in one line.
set(gen_small ${SHARDRT_DEPLOYMENTS}/generate-small.json)
set(gen_moe ${SHARDRT_DEPLOYMENTS}/generate-moe.json)
set(gen_prompts ${SHARDRT_DEPLOYMENTS}/generate-prompts.json)
set(gen_pass "validation: PASS \\(tokens identical")

function(generate_case name ranks deployment)
  shardrt_add_cli_test(cli.generate.${name} RANKS ${ranks} EXIT 0 PATTERN "${gen_pass}" COUNT 1
    ARGS generate ${deployment} --validate --prompts ${gen_prompts}
         --out ${CMAKE_CURRENT_BINARY_DIR}/out/generate.${name} ${ARGN})
endfunction()

# The same on the cuda Backend (labelled gpu; skipped with the reason without a GPU), for the
# GPU run of issue 19's script: the generation ops' CUDA kernels end to end.
function(generate_gpu_case name ranks deployment)
  if(NOT SHARDRT_HAVE_CUDA)
    return()
  endif()
  add_test(NAME gpu.generate.${name}
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/cli/gpu_run.sh 0 "${gen_pass}" 1 --
                   ${SHARDRT_MPIRUN} -np ${ranks} $<TARGET_FILE:shardrt> generate ${deployment}
                   --device cuda --validate --prompts ${gen_prompts}
                   --out ${CMAKE_CURRENT_BINARY_DIR}/out/gpu.generate.${name} ${ARGN})
  set_tests_properties(gpu.generate.${name} PROPERTIES LABELS gpu TIMEOUT 300
                       SKIP_RETURN_CODE 77 ENVIRONMENT "${SHARDRT_MPI_ENV}")
endfunction()

# Dense, with a sliding window of 9 that the prompts and decode steps pass, a vocabulary of 97
# split unevenly over tp, GQA with kv heads straddling tp 3 ranks.
generate_case(small_tp1 1 ${gen_small} --set strategy.tp=1)
generate_case(small_tp2 2 ${gen_small})
generate_case(small_tp3 3 ${gen_small} --set strategy.tp=3)
generate_case(small_pp2_mb2 2 ${gen_small} --set strategy.tp=1 --set strategy.pp=2
              --set strategy.microbatches=2)
generate_case(small_tp2_dp2 4 ${gen_small} --set strategy.dp=2)
generate_case(small_tp2_pp2_mb2 4 ${gen_small} --set strategy.pp=2 --set strategy.microbatches=2)
# MoE with a shared expert and tied embeddings: experts over ep inside tp, across replicas
# (a replica whose requests are done still joins the all-to-alls with no tokens) and stages.
generate_case(moe_tp2_ep2 2 ${gen_moe} --set strategy.tp=2 --set strategy.ep=2)
generate_case(moe_dp2_ep2 2 ${gen_moe} --set strategy.dp=2 --set strategy.ep=2)
generate_case(moe_dp4_ep4 4 ${gen_moe} --set strategy.dp=4 --set strategy.ep=4)
generate_case(moe_tp2_pp2_ep2 4 ${gen_moe} --set strategy.tp=2 --set strategy.pp=2
              --set strategy.ep=2 --set strategy.microbatches=2)
generate_gpu_case(small_tp2_pp2_mb2 4 ${gen_small} --set strategy.pp=2
                  --set strategy.microbatches=2)
# Item 9: the decode steps replayed from CUDA graphs against the unsharded eager reference
# (tokens identical, logits within fp32 1e-5), two microbatches so that two graphs a token
# count are recorded; and the graphs were used.
generate_gpu_case(small_tp2_dp2_cuda_graphs 4 ${gen_small} --set strategy.dp=2 --cuda-graphs)
if(SHARDRT_HAVE_CUDA)
  add_test(NAME gpu.generate.cuda_graphs_replayed
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/cli/gpu_run.sh 0
                   "^  decode steps replayed from [1-9][0-9]* CUDA graphs" 1 --
                   ${SHARDRT_MPIRUN} -np 2 $<TARGET_FILE:shardrt> generate ${gen_small}
                   --device cuda --cuda-graphs --prompts ${gen_prompts} --set strategy.microbatches=2
                   --out ${CMAKE_CURRENT_BINARY_DIR}/out/gpu.generate.cuda_graphs_replayed)
  set_tests_properties(gpu.generate.cuda_graphs_replayed PROPERTIES LABELS gpu TIMEOUT 300
                       SKIP_RETURN_CODE 77 ENVIRONMENT "${SHARDRT_MPI_ENV}")
endif()
generate_gpu_case(moe_dp2_ep2 2 ${gen_moe} --set strategy.dp=2 --set strategy.ep=2)
generate_gpu_case(deepseek_v3_tp2_ep4_dp2 4 ${PROJECT_SOURCE_DIR}/examples/tiny-deepseek-v3-hf.json
                  --set workload.batch_size=4 --set strategy.dp=2 --set strategy.ep=4)
# generate --trace (item 7): the prefill's and a decode step's graphs pass `dag check`, draw
# the cache's writes and reads, and the timeline has every round (tests/cli/generate_trace.sh).
function(generate_trace_case name ranks deployment)
  add_test(NAME cli.generate.trace.${name}
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/cli/generate_trace.sh $<TARGET_FILE:shardrt> ${ranks}
                   ${CMAKE_CURRENT_BINARY_DIR}/out/generate.trace.${name} ${deployment}
                   ${gen_prompts} ${ARGN} -- ${SHARDRT_MPIRUN})
  set_tests_properties(cli.generate.trace.${name} PROPERTIES LABELS "cli;dag" TIMEOUT 180
                       ENVIRONMENT "${SHARDRT_MPI_ENV}")
endfunction()
generate_trace_case(small_tp2 2 ${gen_small})
generate_trace_case(small_tp2_pp2_mb2 4 ${gen_small} --set strategy.pp=2
                    --set strategy.microbatches=2)
generate_trace_case(small_tp2_dp2_sampled 4 ${gen_small} --set strategy.dp=2 --temperature 0.7
                    --top-k 9)
generate_trace_case(moe_tp2_ep2 2 ${gen_moe} --set strategy.tp=2 --set strategy.ep=2)
generate_trace_case(moe_dp2_ep2 2 ${gen_moe} --set strategy.dp=2 --set strategy.ep=2)
# A replica with no request (batch 8, the 4 requests all in replica 0) still joins its MoE
# all-to-alls: its zero-token steps are whole in the graphs, from the input to the output.
generate_trace_case(moe_dp2_ep2_pp2_empty_replica 4 ${gen_moe} --set strategy.dp=2
                    --set strategy.ep=2 --set strategy.pp=2 --set workload.batch_size=8)
# A dense replica with no request (batch 8, the 4 requests all in replica 0) computes nothing
# and hands nothing over: no send, recv or broadcast of new tokens hangs loose in its graphs,
# under either schedule (both drew a dangling one before).
generate_trace_case(small_dp2_pp2_empty_replica 4 ${gen_small} --set strategy.tp=1
                    --set strategy.dp=2 --set strategy.pp=2 --set strategy.microbatches=2
                    --set workload.batch_size=8)
generate_trace_case(small_dp2_pp2_empty_replica_lockstep 4 ${gen_small} --set strategy.tp=1
                    --set strategy.dp=2 --set strategy.pp=2 --set strategy.microbatches=2
                    --set workload.batch_size=8 --schedule lockstep)
generate_trace_case(deepseek_v3_tp2_ep2 2 ${PROJECT_SOURCE_DIR}/examples/tiny-deepseek-v3-hf.json
                    --set workload.batch_size=4 --set strategy.ep=2 --set strategy.tp=2)

# The rounds' two schedules (--schedule overlap, the default, and lockstep) choose the same
# tokens, validated; the traces show them apart in the first stage's order of ops
# (tests/cli/generate_schedules.sh). Microbatches more than, as many as and fewer than the
# stages; one left empty (batch 6 of 4 requests); replicas that each run their own rounds.
function(generate_schedules_case name ranks)
  add_test(NAME cli.generate.schedules.${name}
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/cli/generate_schedules.sh $<TARGET_FILE:shardrt>
                   ${ranks} ${CMAKE_CURRENT_BINARY_DIR}/out/generate.schedules.${name} ${gen_small}
                   ${gen_prompts} --ignore-eos --set strategy.tp=1 ${ARGN} -- ${SHARDRT_MPIRUN})
  set_tests_properties(cli.generate.schedules.${name} PROPERTIES LABELS cli TIMEOUT 240
                       ENVIRONMENT "${SHARDRT_MPI_ENV}")
endfunction()
generate_schedules_case(pp2_mb4 2 --set strategy.pp=2 --set strategy.microbatches=4)
generate_schedules_case(pp2_mb2 2 --set strategy.pp=2 --set strategy.microbatches=2)
generate_schedules_case(pp2_mb1 2 --set strategy.pp=2)
generate_schedules_case(pp3_mb3_empty 3 --set strategy.pp=3 --set strategy.microbatches=3
                        --set workload.batch_size=6)
generate_schedules_case(dp2_pp2_mb2 4 --set strategy.dp=2 --set strategy.pp=2
                        --set strategy.microbatches=2)

# Where an ep group spans replicas the rounds run in lockstep whatever --schedule says, and the
# summary says why.
shardrt_add_cli_test(cli.generate.moe_across_replicas_runs_lockstep RANKS 2 EXIT 0
  PATTERN "^  [0-9.]+ new tokens/s [(][0-9.]+ per rank[)], [0-9]+ rounds, in lockstep [(]an expert-parallel group spans replicas[)]$"
  COUNT 1
  ARGS generate ${gen_moe} --prompts ${gen_prompts} --set strategy.dp=2 --set strategy.ep=2
       --schedule overlap --out ${CMAKE_CURRENT_BINARY_DIR}/out/generate.moe_across_replicas)

# dag --generate: a generation's dry run draws the graphs a traced generation draws, node for
# node, prefill and decode step, for dense models; MoE ones are held to `dag check` (their
# structure follows the router's choices: tests/cli/dag_generate_compare.sh).
function(dag_generate_case name ranks deployment prompt)
  add_test(NAME dag.generate.${name}
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/cli/dag_generate_compare.sh $<TARGET_FILE:shardrt>
                   ${ranks} ${CMAKE_CURRENT_BINARY_DIR}/out/dag.generate.${name} ${deployment}
                   ${prompt} ${ARGN} -- ${SHARDRT_MPIRUN})
  set_tests_properties(dag.generate.${name} PROPERTIES LABELS "cli;dag" TIMEOUT 180
                       ENVIRONMENT "${SHARDRT_MPI_ENV}")
endfunction()
dag_generate_case(small_tp2 2 ${gen_small} 7)
dag_generate_case(small_tp2_pp2_mb2 4 ${gen_small} 5 --set strategy.pp=2
                  --set strategy.microbatches=2)
dag_generate_case(moe_tp2_ep2 2 ${gen_moe} 6 --moe --set strategy.tp=2 --set strategy.ep=2)
dag_generate_case(moe_dp2_ep2 2 ${gen_moe} 6 --moe --set strategy.dp=2 --set strategy.ep=2)
dag_generate_case(deepseek_v3_tp2_ep2 2 ${PROJECT_SOURCE_DIR}/examples/tiny-deepseek-v3-hf.json 9
                  --moe --set workload.batch_size=4 --set strategy.ep=2 --set strategy.tp=2)

# DeepSeek's latent attention caches one row of kv_lora_rank + qk_rope_head_dim a token on
# every tp rank: 3 layers x 4 requests x 29 positions x (36 + 8) x 4 bytes = 61248, what the
# executor allocated (the expanded keys and values would be 2 x 3 x 4 x 29 x 2 heads x 24 x 4).
shardrt_add_cli_test(cli.generate.latent_kv_cache RANKS 2 EXIT 0
  PATTERN "KV cache 61248 bytes on the fullest rank$" COUNT 1
  ARGS generate ${PROJECT_SOURCE_DIR}/examples/tiny-deepseek-v3-hf.json --prompt 1,2,3
       --max-new-tokens 2 --out ${CMAKE_CURRENT_BINARY_DIR}/out/generate.latent_kv_cache)

# --cuda-graphs where no graph can be recorded: one line naming why, exit 2 on every rank.
shardrt_add_cli_test(cli.generate.cuda_graphs_need_cuda RANKS 2 EXIT 2
  PATTERN "^shardrt: rank [01] on [^ ]+: error: --cuda-graphs: the cpu backend records no graphs [(]use --device cuda[)]$"
  COUNT 2
  ARGS generate ${gen_small} --cuda-graphs --prompt 1,2
       --out ${CMAKE_CURRENT_BINARY_DIR}/out/generate.cuda_graphs_need_cuda)

# The planner's prediction beside the measurement (item 8) when the file has a cluster; a
# note instead when the cluster is not the launched ranks. No timed assertion: the ratios are
# in docs/benchmarks.md (bench/generate_accuracy.sh).
shardrt_add_cli_test(cli.generate.prediction RANKS 2 EXIT 0
  PATTERN "^  predicted by the planner \\(profile .*cpu-2core-decode[.]json\\): time to first token [0-9.]+ ms, time per output token [0-9.]+ ms median; measured / predicted [0-9.]+ and [0-9.]+$"
  COUNT 1
  ARGS generate ${SHARDRT_DEPLOYMENTS}/generate-small-cluster.json --prompts ${gen_prompts}
       --out ${CMAKE_CURRENT_BINARY_DIR}/out/generate.prediction)
shardrt_add_cli_test(cli.generate.prediction_needs_the_clusters_ranks RANKS 1 EXIT 0
  PATTERN "^  predicted none: the file's cluster has 2 GPUs, the run 1 ranks$" COUNT 1
  ARGS generate ${SHARDRT_DEPLOYMENTS}/generate-small-cluster.json --prompts ${gen_prompts}
       --set strategy.tp=1 --out ${CMAKE_CURRENT_BINARY_DIR}/out/generate.prediction_ranks)

# Every family from its config.json.
generate_case(hf_llama31_tp2_pp2 4 ${PROJECT_SOURCE_DIR}/examples/tiny-llama31-hf.json
              --set workload.batch_size=4 --set strategy.pp=2 --set strategy.microbatches=2)
generate_case(hf_mistral_tp2 2 ${PROJECT_SOURCE_DIR}/examples/tiny-mistral-hf.json
              --set workload.batch_size=4)
generate_case(hf_mixtral_dp2_ep2 2 ${PROJECT_SOURCE_DIR}/examples/tiny-mixtral-hf.json
              --set workload.batch_size=4 --set strategy.tp=1 --set strategy.dp=2
              --set strategy.ep=2)
generate_case(hf_qwen2_tied_tp2 2 ${PROJECT_SOURCE_DIR}/examples/tiny-qwen2-hf.json
              --set workload.batch_size=4)
generate_case(hf_qwen3_tp2 2 ${PROJECT_SOURCE_DIR}/examples/tiny-qwen3-hf.json
              --set workload.batch_size=4)
generate_case(hf_qwen3_moe_tp2_ep2_pp2 4 ${PROJECT_SOURCE_DIR}/examples/tiny-qwen3-moe-hf.json
              --set workload.batch_size=4 --set strategy.pp=2)
generate_case(hf_qwen2_moe_tp2 2 ${PROJECT_SOURCE_DIR}/examples/tiny-qwen2-moe-hf.json
              --set workload.batch_size=4)
generate_case(hf_glm4_moe_tp2_ep2 2 ${PROJECT_SOURCE_DIR}/examples/tiny-glm4-moe-hf.json
              --set workload.batch_size=4)
generate_case(hf_deepseek_v3_tp2_ep4_dp2 4 ${PROJECT_SOURCE_DIR}/examples/tiny-deepseek-v3-hf.json
              --set workload.batch_size=4 --set strategy.dp=2 --set strategy.ep=4)
generate_case(hf_deepseek_v2_tp2_pp2 4 ${PROJECT_SOURCE_DIR}/examples/tiny-deepseek-v2-hf.json
              --set workload.batch_size=4 --set strategy.pp=2)
# Sampled: the draw of each choice depends on (seed, request, step) alone.
generate_case(sampled_tp2_pp2 4 ${gen_small} --set strategy.pp=2 --temperature 0.8 --top-k 20
              --top-p 0.9 --seed 5)
generate_case(sampled_moe_dp2_ep2 2 ${gen_moe} --set strategy.dp=2 --set strategy.ep=2
              --temperature 1.3 --seed 9)
# Each request's own max_new_tokens, and its length in generate.json; a stop token ends a
# request early with "stop" (tests/cli/generate_stop.sh).
add_test(NAME cli.generate.lengths_and_stop
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/cli/generate_stop.sh $<TARGET_FILE:shardrt>
                 ${gen_small} ${gen_prompts} ${CMAKE_CURRENT_BINARY_DIR}/out/generate.stop
                 ${SHARDRT_MPIRUN})
set_tests_properties(cli.generate.lengths_and_stop PROPERTIES LABELS cli TIMEOUT 180
                     ENVIRONMENT "${SHARDRT_MPI_ENV}")

# Bad input: one line on every rank naming the value and the limit, exit 2, before any work.
function(generate_refused name pattern)
  shardrt_add_cli_test(cli.generate.refuses_${name} RANKS 2 EXIT 2 PATTERN "${pattern}" COUNT 2
    ARGS generate ${gen_small} --out ${CMAKE_CURRENT_BINARY_DIR}/out/generate.bad ${ARGN})
endfunction()
generate_refused(prompt_past_context
  "error: requests\\[0\\]: prompt 38 \\+ max_new_tokens 3 = 41 tokens exceed workload.seq_len 40"
  --prompt 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38
  --max-new-tokens 3)
generate_refused(id_outside_vocab
  "error: requests\\[1\\].tokens: token id 97 is outside the vocabulary \\(vocab_size 97\\)"
  --prompt 1,2 --prompt 4,97)
generate_refused(too_many_prompts
  "error: requests: 5 prompts exceed workload.batch_size 4"
  --prompt 1 --prompt 2 --prompt 3 --prompt 4 --prompt 5)
generate_refused(not_ids "error: --prompt #1: must be token ids separated by commas, got \"x\""
  --prompt 1,x)
generate_refused(negative_id "error: --prompt #1: token ids must be integers from 0, got -4"
  --prompt 1,-4)
generate_refused(no_prompts "error: --prompts: give the prompts either as --prompts FILE or"
  --max-new-tokens 3)
generate_refused(no_vocab "error: model.vocab_size: generate needs the vocabulary"
  --prompt 1 --set model.vocab_size=0 --set "model.eos_token_id=[]")
generate_refused(capacity
  "error: model.moe.capacity_factor: generate routes every token"
  --prompt 1 --set "model.moe={\"experts\":4,\"top_k\":2,\"expert_ffn_hidden\":32,\"capacity_factor\":1.25}")
generate_refused(top_k_without_temperature
  "error: --top-k: shapes sampling; greedy choice \\(no --temperature\\) would ignore it"
  --prompt 1 --top-k 5)
generate_refused(prompts_file_field
  "error: --prompts .* requests\\[0\\].max_tokens: unknown field"
  --prompts ${SHARDRT_DEPLOYMENTS}/bad/generate-unknown-field.json)

# Every example with a vocabulary generates at the strategy it names, validated.
file(GLOB generate_examples ${PROJECT_SOURCE_DIR}/examples/*.json)
foreach(example ${generate_examples})
  get_filename_component(stem ${example} NAME_WE)
  file(READ ${example} example_text)
  string(JSON hf ERROR_VARIABLE no_hf GET "${example_text}" model hf_config)
  string(JSON vocab ERROR_VARIABLE no_vocab GET "${example_text}" model vocab_size)
  if(no_hf AND no_vocab)
    continue()
  endif()
  string(JSON tp ERROR_VARIABLE no_tp GET "${example_text}" strategy tp)
  string(JSON pp ERROR_VARIABLE no_pp GET "${example_text}" strategy pp)
  string(JSON dp ERROR_VARIABLE no_dp GET "${example_text}" strategy dp)
  foreach(degree tp pp dp)
    if(no_${degree})
      set(${degree} 1)
    endif()
  endforeach()
  math(EXPR ranks "${tp} * ${pp} * ${dp}")
  shardrt_add_cli_test(cli.generate.example.${stem} RANKS ${ranks} EXIT 0 PATTERN "${gen_pass}"
    COUNT 1 ARGS generate ${example} --validate --prompt 3,1,4,1,5 --prompt 9,2,6
    --max-new-tokens 6 --out ${CMAKE_CURRENT_BINARY_DIR}/out/generate.example.${stem})
endforeach()

# Text in and out with a tokenizer (scripts/tokens.py), outside the C++ runtime: skipped, with
# the reason, without a Python that has the tokenizers package.
add_test(NAME reference.tokens_roundtrip
         COMMAND ${PROJECT_SOURCE_DIR}/tests/reference/tokens_roundtrip.sh $<TARGET_FILE:shardrt>
                 ${gen_small} ${CMAKE_CURRENT_BINARY_DIR}/out/tokens ${SHARDRT_MPIRUN})
set_tests_properties(reference.tokens_roundtrip PROPERTIES LABELS reference TIMEOUT 180
                     SKIP_RETURN_CODE 77 ENVIRONMENT "${SHARDRT_MPI_ENV}")
