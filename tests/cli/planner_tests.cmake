# `shardrt plan` (issue 6): the planner in one process.
function(plan_case name exit pattern count)
  add_test(NAME cli.plan.${name}
           COMMAND ${SHARDRT_EXPECT} ${exit} "${pattern}" ${count} -- $<TARGET_FILE:shardrt> ${ARGN})
  set_tests_properties(cli.plan.${name} PROPERTIES LABELS cli TIMEOUT 120
                       ENVIRONMENT "${SHARDRT_MPI_ENV}")
endfunction()
set(plan_examples ${PROJECT_SOURCE_DIR}/examples/plan)

# Every example plans, prints its check line and writes a plan.
foreach(example llama-70b-2x8 mixtral-8x7b-1x8 deepseek-v3-like-32x8 small-moe-2cpu
                small-dense-2cpu hetero-h100-a100-2x8 llama-3.1-8b-hf-1x8 mixtral-8x7b-hf-1x8
                qwen3-30b-a3b-hf-1x8 deepseek-v3-hf-32x8 decode-1024-2cpu)
  plan_case(${example} 0 "^  check: tp [0-9]+ x pp [0-9]+ x dp [0-9]+ = ([0-9]+) = the cluster's" 1
            plan ${plan_examples}/${example}.json --top 3
            --out ${CMAKE_CURRENT_BINARY_DIR}/out/plan.${example}/plan.json)
endforeach()
# The EPLB case of the DeepSeek-like example: 32 copies bring the expert load to max/mean 1.0x.
plan_case(deepseek_expert_balance 0
          "^  expert load max/mean over ep ranks: [2-9][.][0-9]+ with the default placement, 1[.]0[0-5] with this one" 1
          plan ${plan_examples}/deepseek-v3-like-32x8.json --top 1 --set objective.optimize=latency
          --set workload.batch_size=2048)

# The generation objectives (issue 17, item 8): the table of generation figures, the KV cache
# and the largest batch; a bound on the time per output token keeps some plans out.
plan_case(generation_decode_throughput 0
          "^  memory: KV cache 2[.]000 GiB on the fullest GPU \\(32 requests x 4096 positions\\); .*; the largest batch that fits: [0-9]+ requests$"
          1 plan ${plan_examples}/llama-3.1-8b-hf-1x8.json --top 3
          "--set=objective={\"optimize\": \"decode_throughput\", \"prompt_tokens\": 1024, \"new_tokens\": 256, \"max_time_per_output_token_ms\": 20}")
# With pp > 1 the report says how generate runs the rounds it priced.
plan_case(generation_rounds_overlapped 0
          "^  rounds: overlapped [(]generate's default[)]: a decode round is the pipeline's period, [0-9]+ microbatch[(]es[)] through its [0-9]+ stages, each starting its next step once its token is back$"
          1 plan ${plan_examples}/llama-70b-2x8.json --set model.vocab_size=32000
          --set objective.optimize=time_per_output_token --set objective.prompt_tokens=2048
          --set objective.new_tokens=2048)
plan_case(generation_bound_keeps_some_out 0
          "^46 valid strategies, 46 fit in memory \\(10% reserve\\), ([0-9]|[1-3][0-9]|4[0-5]) within the bound$" 1
          plan ${plan_examples}/llama-3.1-8b-hf-1x8.json --top 3
          "--set=objective={\"optimize\": \"decode_throughput\", \"prompt_tokens\": 1024, \"new_tokens\": 256, \"max_time_per_output_token_ms\": 6}")
plan_case(generation_needs_its_requests 2
          "^shardrt: .*error: objective[.]new_tokens: is required by optimize time_to_first_token" 1
          plan ${plan_examples}/decode-1024-2cpu.json
          "--set=objective={\"optimize\": \"time_to_first_token\", \"prompt_tokens\": 64}")
plan_case(generation_must_fit_the_context 2
          "^shardrt: .*error: objective[.]new_tokens: prompt_tokens [+] new_tokens [(]512 [+] 33[)] must fit the KV cache's context, workload[.]seq_len [(]544[)]$"
          1 plan ${plan_examples}/decode-1024-2cpu.json --set objective.new_tokens=33)

# Issue 18, item 4: figures in the wrong unit are refused with a hint at the unit, an empty
# list of groups says so, and an output path that cannot be written is refused before the
# search (it used to end the run with exit 3 after the whole report).
set(h100_bytes "{\"name\": \"h100\", \"nodes\": 2, \"gpus_per_node\": 8, \"gpu\": {\"memory_gib\": 85899345920, \"bf16_tflops\": 989, \"fp32_tflops\": 67, \"memory_bandwidth_gbps\": 3350}, \"intra_node\": {\"bandwidth_gbps\": 450, \"latency_us\": 3}}")
plan_case(memory_in_bytes_refused 2
          "^shardrt: .*error: cluster[.]groups[[]0[]][.]gpu[.]memory_gib: is 8[.]58993e[+]10, above 16384: GiB per GPU [(]80 for an 80 GB GPU[)], not bytes; no GPU holds 16 TiB$"
          1 plan ${plan_examples}/llama-70b-2x8.json "--set=cluster.groups=[${h100_bytes}]")
plan_case(link_in_bits_refused 2
          "^shardrt: .*error: cluster[.]inter_node[.]bandwidth_gbps: is 400000, above 10000: GB/s"
          1 plan ${plan_examples}/llama-70b-2x8.json --set cluster.inter_node.bandwidth_gbps=400000)
plan_case(empty_groups_refused 2
          "^shardrt: .*error: cluster[.]groups: must be a non-empty list of objects, got an empty list$"
          1 plan ${plan_examples}/llama-70b-2x8.json "--set=cluster.groups=[]")
plan_case(out_path_refused_before_the_search 2
          "^shardrt: .*error: --out: .*small-dense-2cpu[.]json exists and is not a directory$" 1
          plan ${plan_examples}/small-dense-2cpu.json
          --out ${plan_examples}/small-dense-2cpu.json/plan.json)

# The top plans of the small examples run and pass validation, every one of them.
foreach(example small-moe-2cpu small-dense-2cpu)
  add_test(NAME cli.plan.top_plans_run.${example}
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/cli/plan_and_run_top.sh $<TARGET_FILE:shardrt>
                   ${CMAKE_CURRENT_BINARY_DIR}/out/plan.top.${example}
                   ${plan_examples}/${example}.json 4 -- ${SHARDRT_MPIRUN})
  set_tests_properties(cli.plan.top_plans_run.${example} PROPERTIES LABELS cli TIMEOUT 300
                       ENVIRONMENT "${SHARDRT_MPI_ENV}")
endforeach()

# Bad input: one line naming the field or the constraint, exit 2.
plan_case(needs_a_cluster 2 "^shardrt: rank 0 on [^ ]+: error: cluster: required by shardrt plan" 1
          plan ${PROJECT_SOURCE_DIR}/examples/tiny-moe.json)
plan_case(weights_do_not_fit 2
          "^shardrt: rank 0 on [^ ]+: error: cluster: no plan fits: the weights need 1[0-9][0-9] GiB and the cluster has 14 GiB after its 10% reserve$" 1
          plan ${plan_examples}/llama-70b-2x8.json --set cluster.groups=[{\"nodes\":1,\"gpus_per_node\":2,\"gpu\":{\"memory_gib\":8,\"bf16_tflops\":100,\"fp32_tflops\":10,\"memory_bandwidth_gbps\":1000},\"intra_node\":{\"bandwidth_gbps\":100,\"latency_us\":5}}])
plan_case(bad_reserve 2
          "^shardrt: rank 0 on [^ ]+: error: cluster.memory_reserve: must be a share below 1, got 2" 1
          plan ${plan_examples}/small-moe-2cpu.json --set cluster.memory_reserve=2)
plan_case(bad_loads 2
          "^shardrt: rank 0 on [^ ]+: error: planner.expert_loads: must list one load per expert [(]8[)]" 1
          plan ${plan_examples}/small-moe-2cpu.json --set planner.expert_loads=[1,2])
plan_case(unmeetable_bound 2 "^shardrt: rank 0 on [^ ]+: error: objective.max_latency_ms: no plan that fits meets the bound" 1
          plan ${plan_examples}/mixtral-8x7b-1x8.json --set objective.max_latency_ms=0.001)
add_test(NAME cli.plan.refuses_several_ranks
         COMMAND ${SHARDRT_EXPECT} 2 "^shardrt: rank [01] on [^ ]+: error: plan: runs in one process" 2 --
                 ${SHARDRT_MPIRUN} -np 2 $<TARGET_FILE:shardrt> plan ${plan_examples}/small-moe-2cpu.json)
set_tests_properties(cli.plan.refuses_several_ranks PROPERTIES LABELS cli TIMEOUT 120
                     ENVIRONMENT "${SHARDRT_MPI_ENV}")
