# --check-numerics and validation against a NaN planted in one weight
# (--test-fault-nan-weight NAME: element 0 of the weight's slice on every rank that holds it).
set(tiny_llama ${PROJECT_SOURCE_DIR}/examples/tiny-llama.json)
set(tiny_moe ${PROJECT_SOURCE_DIR}/examples/tiny-moe.json)
set(numerics_out ${CMAKE_CURRENT_BINARY_DIR}/out/numerics)
set(checked "error: --check-numerics: op")

# tp 2: both ranks hold a slice of layer 1's q_proj, each poisoned; the first to see it ends the
# job (the other may be killed before it prints). 134 tokens, each with one NaN feature.
shardrt_add_cli_test(cli.numerics.llama_q_proj_nan RANKS 2 EXIT 1
  PATTERN "^shardrt: rank [01] on [^ ]+: ${checked} q_proj of layer 1, microbatch 0: linear wrote 134 NaN of 17152 output values"
  COUNT +
  ARGS run ${tiny_llama} --check-numerics --test-fault-nan-weight model.layers.1.self_attn.q_proj.weight
       --warmup 0 --iters 1 --out ${numerics_out}/llama_q_proj)

# pp 2: layer 3 lives on rank 1 only. Exactly one line may start "shardrt: rank 0|1 on HOST": rank 1's
# naming down_proj (a line from rank 0 would make two).
shardrt_add_cli_test(cli.numerics.llama_pp2_names_the_rank RANKS 2 EXIT 1
  PATTERN "^shardrt: rank (0 on [^ ]+: |1 on [^ ]+: ${checked} down_proj of layer 3, microbatch 0: linear wrote 134 NaN )"
  COUNT 1
  ARGS run ${tiny_llama} --set strategy.tp=1 --set strategy.pp=2 --check-numerics
       --test-fault-nan-weight model.layers.3.mlp.down_proj.weight --warmup 0 --iters 1
       --out ${numerics_out}/llama_pp2)

# MoE, tp 2 x ep 2: expert 5 of layer 1 is held by one ep rank; its up projection is the second
# grouped GEMM of the experts' FFN.
shardrt_add_cli_test(cli.numerics.moe_expert_nan RANKS 2 EXIT 1
  PATTERN "^shardrt: rank 1 on [^ ]+: ${checked} expert_ffn of layer 1, microbatch 0: grouped_linear \\(first in group 1 of 4\\) wrote [1-9][0-9]* NaN "
  COUNT 1
  ARGS run ${tiny_moe} --check-numerics
       --test-fault-nan-weight model.layers.1.mlp.experts.5.up_proj.weight --warmup 0 --iters 1
       --out ${numerics_out}/moe_expert)

# Without --check-numerics the NaN reaches the output: validation FAILs (exit 1), never PASSes.
shardrt_add_cli_test(cli.numerics.validate_fails_llama RANKS 2 EXIT 1
  PATTERN "validate  rel_err inf .* FAIL$" COUNT 1
  ARGS run ${tiny_llama} --validate --test-fault-nan-weight model.layers.1.self_attn.q_proj.weight
       --warmup 0 --iters 1 --out ${numerics_out}/validate_llama)
shardrt_add_cli_test(cli.numerics.validate_fails_moe RANKS 2 EXIT 1
  PATTERN "validate  rel_err inf .* FAIL$" COUNT 1
  ARGS run ${tiny_moe} --validate
       --test-fault-nan-weight model.layers.1.mlp.experts.5.up_proj.weight
       --warmup 0 --iters 1 --out ${numerics_out}/validate_moe)

# A name that is no weight of the model is bad input, said once.
shardrt_add_cli_test(cli.numerics.unknown_weight RANKS 2 EXIT 2
  PATTERN "^shardrt: rank 0 on [^ ]+: error: --test-fault-nan-weight: no weight named model.layers.9.self_attn.q_proj.weight in this model"
  COUNT 1
  ARGS run ${tiny_llama} --check-numerics --test-fault-nan-weight model.layers.9.self_attn.q_proj.weight
       --warmup 0 --iters 1 --out ${numerics_out}/unknown)

# Clean runs: --check-numerics passes, says so, and the output is the same bytes as without.
foreach(example tiny_llama tiny_moe)
  add_test(NAME cli.numerics.clean_same_result.${example}
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/cli/numerics_same_result.sh ${numerics_out}/same.${example} --
                   ${SHARDRT_MPIRUN} -np 2 $<TARGET_FILE:shardrt> run ${${example}} --device cpu
                   --validate --warmup 0 --iters 1)
  set_tests_properties(cli.numerics.clean_same_result.${example} PROPERTIES LABELS cli TIMEOUT 180
                       ENVIRONMENT "${SHARDRT_MPI_ENV}")
endforeach()
