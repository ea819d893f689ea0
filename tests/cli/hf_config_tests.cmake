# Models from their Hugging Face config.json (issue 16, item 1; config/hf_config.h): the tiny
# examples of each family implemented (examples/hf/) validated under tp, pp, dp and ep, also on
# the cuda Backend; recomputed in NumPy from their dumps (Llama 3.1's rope scaling, Mixtral's
# tensor names); drawn as graphs; and every refusal in one line naming the key and its value.
# tests/reference/hf_crosscheck.py checks the same families against transformers itself
# (scripts/hf-crosscheck.sh, below as reference.hf_crosscheck).
set(examples ${PROJECT_SOURCE_DIR}/examples)
set(hf_llama31 ${examples}/tiny-llama31-hf.json)
set(hf_mistral ${examples}/tiny-mistral-hf.json)
set(hf_mixtral ${examples}/tiny-mixtral-hf.json)
set(hf_qwen2 ${examples}/tiny-qwen2-hf.json)
set(hf_qwen3 ${examples}/tiny-qwen3-hf.json)
set(hf_qwen3_moe ${examples}/tiny-qwen3-moe-hf.json)
set(hf_qwen2_moe ${examples}/tiny-qwen2-moe-hf.json)
set(hf_glm4_moe ${examples}/tiny-glm4-moe-hf.json)
set(hf_deepseek_v3 ${examples}/tiny-deepseek-v3-hf.json)
set(hf_deepseek_v2 ${examples}/tiny-deepseek-v2-hf.json)

function(hf_case name ranks deployment)
  shardrt_add_cli_test(cli.hf.${name} RANKS ${ranks} EXIT 0 PATTERN "${pass_line}" COUNT 1
    ARGS run ${deployment} --validate --warmup 0 --iters 1
         --out ${CMAKE_CURRENT_BINARY_DIR}/out/hf.${name} ${ARGN})
  gpu_case(hf.${name} ${ranks} ${deployment} "${pass_line}" 2 ${ARGN})
endfunction()
hf_case(llama31_tp2 2 ${hf_llama31})
hf_case(llama31_pp2 2 ${hf_llama31} --set strategy.tp=1 --set strategy.pp=2)
hf_case(llama31_tp2_dp2 4 ${hf_llama31} --set strategy.dp=2)
hf_case(mistral_tp2 2 ${hf_mistral})
hf_case(mistral_tp2_pp3 6 ${hf_mistral} --set strategy.pp=3)
# Past its window of 128: the sliding-window mask at work (its dump recomputed below).
hf_case(mistral_window_tp2 2 ${hf_mistral} --set workload.seq_len=200)
hf_case(mixtral_tp2_ep2 2 ${hf_mixtral})
hf_case(mixtral_dp2_ep2 2 ${hf_mixtral} --set strategy.tp=1 --set strategy.dp=2)
hf_case(mixtral_tp2_pp2_ep2 4 ${hf_mixtral} --set strategy.pp=2)
hf_case(llama31_first_layer 1 ${hf_llama31} --set strategy.tp=1 --set model.layers=1)
hf_case(qwen2_tp2 2 ${hf_qwen2})
hf_case(qwen2_tp3 3 ${hf_qwen2} --set strategy.tp=3)  # 2 kv heads straddle 3 ranks, biases too
hf_case(qwen2_pp3 3 ${hf_qwen2} --set strategy.tp=1 --set strategy.pp=3)
hf_case(qwen3_tp2 2 ${hf_qwen3})
hf_case(qwen3_tp4 4 ${hf_qwen3} --set strategy.tp=4)
hf_case(qwen3_tp2_pp2 4 ${hf_qwen3} --set strategy.pp=2 --set strategy.microbatches=2)
hf_case(qwen3_moe_tp2_ep2 2 ${hf_qwen3_moe})
hf_case(qwen3_moe_dp2_ep2 2 ${hf_qwen3_moe} --set strategy.tp=1 --set strategy.dp=2)
hf_case(qwen3_moe_tp2_pp2_ep2 4 ${hf_qwen3_moe} --set strategy.pp=2)
hf_case(qwen3_moe_tp2_dp2_ep4 4 ${hf_qwen3_moe} --set strategy.dp=2 --set strategy.ep=4)
hf_case(qwen2_moe_tp2_ep2 2 ${hf_qwen2_moe})
hf_case(qwen2_moe_dp2_ep2 2 ${hf_qwen2_moe} --set strategy.tp=1 --set strategy.dp=2)
hf_case(qwen2_moe_tp4_pp2_ep4 8 ${hf_qwen2_moe} --set strategy.tp=4 --set strategy.pp=2
        --set strategy.ep=4)
# GLM-4.5: partial rotary, q/k/v biases, q/k norm, sigmoid routing with the choice bias in 2 of
# 4 groups, scaled weights, a dense first layer (alone in pp 3's first stage).
hf_case(glm4_moe_tp2_ep2 2 ${hf_glm4_moe})
hf_case(glm4_moe_dp2_ep2 2 ${hf_glm4_moe} --set strategy.tp=1 --set strategy.dp=2)
hf_case(glm4_moe_tp2_pp3_ep2 6 ${hf_glm4_moe} --set strategy.pp=3)
dag_case(hf.glm4_moe_tp2_ep2 2 ${hf_glm4_moe})
# DeepSeek-V3: latent attention under YaRN, sigmoid routing with the choice bias in 2 of 4
# groups, a dense first layer; DeepSeek-V2: q_proj without a q latent, softmax routing limited
# to 2 of 4 groups, two shared experts.
hf_case(deepseek_v3_tp2_ep2 2 ${hf_deepseek_v3})
hf_case(deepseek_v3_dp2_ep2 2 ${hf_deepseek_v3} --set strategy.tp=1 --set strategy.dp=2)
hf_case(deepseek_v3_tp2_pp3_ep2 6 ${hf_deepseek_v3} --set strategy.pp=3)
hf_case(deepseek_v2_tp4_ep4 4 ${hf_deepseek_v2} --set strategy.tp=4 --set strategy.ep=4)
hf_case(deepseek_v2_pp3 3 ${hf_deepseek_v2} --set strategy.tp=1 --set strategy.ep=1
        --set strategy.pp=3)
dag_case(hf.deepseek_v3_tp2_ep2 2 ${hf_deepseek_v3})
dag_case(hf.mixtral_tp2_ep2 2 ${hf_mixtral})
dag_case(hf.qwen2_tp2 2 ${hf_qwen2})
dag_case(hf.qwen3_moe_tp2_ep2 2 ${hf_qwen3_moe})
dag_case(hf.qwen2_moe_tp2_ep2 2 ${hf_qwen2_moe})

# The published configurations of Llama-3.1-8B, Mixtral-8x7B and Qwen3-30B-A3B as dry runs
# (examples/dag/, every layer on 8 GPUs, no memory), each graph held to the DAG rules.
foreach(name llama-3.1-8b-tp8 mixtral-8x7b-tp2-dp4-ep8 qwen3-30b-a3b-tp4-dp2-ep8
             deepseek-v3-tp8-ep8)
  set(dir ${CMAKE_CURRENT_BINARY_DIR}/out/dag.hf.${name})
  add_test(NAME cli.dag.hf.${name}
           COMMAND sh -c "$0 dag $1 --out $2 && $0 dag check $2/${name}.dot"
                   $<TARGET_FILE:shardrt> ${examples}/dag/${name}.json ${dir})
  set_tests_properties(cli.dag.hf.${name} PROPERTIES LABELS cli TIMEOUT 300)
endforeach()

# NumPy recomputes the dumped runs from docs/config.md's formulas alone.
foreach(pair "llama31|${hf_llama31}|2" "mixtral|${hf_mixtral}|2" "qwen2|${hf_qwen2}|2"
             "qwen3_moe|${hf_qwen3_moe}|2" "qwen2_moe|${hf_qwen2_moe}|2"
             "glm4_moe|${hf_glm4_moe}|2" "deepseek_moe|${examples}/tiny-deepseek-moe.json|2"
             "deepseek_v3|${hf_deepseek_v3}|2" "deepseek_v2|${hf_deepseek_v2}|2")
  string(REPLACE "|" ";" parts "${pair}")
  list(GET parts 0 name)
  list(GET parts 1 deployment)
  list(GET parts 2 ranks)
  set(dir ${CMAKE_CURRENT_BINARY_DIR}/dump/hf.${name})
  add_test(NAME cli.dump_check.hf.${name}
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/cli/dump_and_check.sh 0 ${dir} --
                   ${SHARDRT_MPIRUN} -np ${ranks} $<TARGET_FILE:shardrt> run ${deployment}
                   --device cpu --warmup 0 --iters 1 --out ${dir}-out --dump ${dir})
  set_tests_properties(cli.dump_check.hf.${name} PROPERTIES LABELS cli TIMEOUT 180
                       SKIP_RETURN_CODE 77 ENVIRONMENT "${SHARDRT_MPI_ENV}")
endforeach()

# Mistral past its window, recomputed by NumPy with the window's band: the mask is Mistral's.
set(dir ${CMAKE_CURRENT_BINARY_DIR}/dump/hf.mistral_window)
add_test(NAME cli.dump_check.hf.mistral_window
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/cli/dump_and_check.sh 0 ${dir} --
                 ${SHARDRT_MPIRUN} -np 2 $<TARGET_FILE:shardrt> run ${hf_mistral} --device cpu
                 --warmup 0 --iters 1 --set workload.seq_len=200 --out ${dir}-out --dump ${dir})
set_tests_properties(cli.dump_check.hf.mistral_window PROPERTIES LABELS cli TIMEOUT 180
                     SKIP_RETURN_CODE 77 ENVIRONMENT "${SHARDRT_MPI_ENV}")

# A spelt-out MoE model with one of its MoE layers kept dense (moe.dense_layers, Qwen-MoE's
# mlp_only_layers): sharded, validated and recomputed by NumPy.
set(dir ${CMAKE_CURRENT_BINARY_DIR}/dump/moe.dense_layers)
add_test(NAME cli.dump_check.moe.dense_layers
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/cli/dump_and_check.sh 0 ${dir} --
                 ${SHARDRT_MPIRUN} -np 2 $<TARGET_FILE:shardrt> run ${examples}/tiny-moe.json
                 --device cpu --validate --warmup 0 --iters 1 --set model.moe.dense_layers=[1]
                 --out ${dir}-out --dump ${dir})
set_tests_properties(cli.dump_check.moe.dense_layers PROPERTIES LABELS cli TIMEOUT 180
                     SKIP_RETURN_CODE 77 ENVIRONMENT "${SHARDRT_MPI_ENV}")

# Refused, on every rank, in one line naming the key (and the file) and the value.
set(hf_bad ${CMAKE_CURRENT_SOURCE_DIR}/hf_configs)
function(hf_refused name pattern)
  shardrt_add_cli_test(cli.hf.refused.${name} RANKS 2 EXIT 2 COUNT 2
    PATTERN "^shardrt: rank [01] on [^ ]+: error: ${pattern}"
    ARGS run ${ARGN} --out ${CMAKE_CURRENT_BINARY_DIR}/out/hf.refused.${name})
endfunction()
# DeepSeek-V3's published config.json names its FP8 quantisation: the stored values would need
# their block scales, so it is refused (examples/hf/deepseek-v3 is the same config without it).
hf_refused(deepseek_v3_fp8 "model.hf_config [(].*/deepseek-v3-fp8.json[)] quantization_config: [{].*\"quant_method\":\"fp8\".*: not a key shardrt knows for model_type deepseek_v3; it may change the model's math, so it is refused rather than ignored$"
           ${hf_llama31} --set model.hf_config=${hf_bad}/deepseek-v3-fp8.json)
hf_refused(glm4_moe_groups "model.hf_config [(].*[)] n_group: must divide the experts [(]experts=12, groups=5[)]$"
           ${hf_glm4_moe} --set model.hf_config=${hf_bad}/tiny-glm4-moe-groups.json)
hf_refused(rope_yarn "model.hf_config [(].*[)] rope_scaling: [{].*\"rope_type\":\"yarn\"[}]: rope_type yarn is not implemented [(]null, default and llama3 are[)]$"
           ${hf_llama31} --set model.hf_config=${hf_bad}/tiny-llama-yarn.json)
hf_refused(unknown_key "model.hf_config [(].*[)] quantization_config: [{].*[}]: not a key shardrt knows for model_type llama; it may change the model's math, so it is refused rather than ignored$"
           ${hf_llama31} --set model.hf_config=${hf_bad}/tiny-llama-quantized.json)
hf_refused(layers_past_config "model.layers: must not exceed the config's num_hidden_layers [(]layers=9, num_hidden_layers=4[)]$"
           ${hf_llama31} --set model.layers=9)
hf_refused(spelt_beside_config "model.hidden: comes from model.hf_config; only layers may be given beside it$"
           ${hf_llama31} --set model.hidden=64)
hf_refused(missing_file "/.*/no-such/config.json: cannot open the model.hf_config file"
           ${hf_llama31} --set model.hf_config=${hf_bad}/no-such/config.json)

# Against transformers itself: skipped, with the reason, without a Python that has it.
add_test(NAME reference.hf_crosscheck
         COMMAND ${PROJECT_SOURCE_DIR}/scripts/hf-crosscheck.sh ${CMAKE_BINARY_DIR}
                 ${CMAKE_CURRENT_BINARY_DIR}/out/hf-crosscheck)
set_tests_properties(reference.hf_crosscheck PROPERTIES LABELS reference TIMEOUT 900
                     SKIP_RETURN_CODE 77 ENVIRONMENT "${SHARDRT_MPI_ENV}")
