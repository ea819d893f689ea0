# `shardrt run` end to end under mpirun: validated runs over the tensor-parallel matrix, the
# proof that validation can fail, and every kind of bad input.
set(small ${SHARDRT_DEPLOYMENTS}/small.json)
set(pass_line "validate .* PASS$")

# tp x attention x norm x activation, each a validated run that must PASS.
foreach(tp 1 2 4 8)
  foreach(attention mha gqa)
    if(attention STREQUAL "mha")
      set(kv 8)
    else()
      set(kv 2)  # fewer kv heads than tp at tp 4 and 8: kv heads are replicated
    endif()
    foreach(norm rmsnorm layernorm)
      foreach(act swiglu gelu)
        shardrt_add_cli_test(cli.validate.tp${tp}.${attention}.${norm}.${act}
          RANKS ${tp} EXIT 0 PATTERN "${pass_line}" COUNT 1
          ARGS run ${small} --validate --warmup 0 --iters 1
               --set strategy.tp=${tp} --set model.kv_heads=${kv}
               --set model.norm=${norm} --set model.activation=${act}
               --out ${CMAKE_CURRENT_BINARY_DIR}/out/tp${tp}.${attention}.${norm}.${act})
      endforeach()
    endforeach()
  endforeach()
endforeach()

# Every example ships runnable: validate each at the tp it names.
file(GLOB example_files ${PROJECT_SOURCE_DIR}/examples/*.json)
foreach(example ${example_files})
  get_filename_component(stem ${example} NAME_WE)
  file(READ ${example} example_text)
  string(JSON example_tp ERROR_VARIABLE no_tp GET "${example_text}" strategy tp)
  if(no_tp)
    set(example_tp 1)
  endif()
  shardrt_add_cli_test(cli.example.${stem} RANKS ${example_tp} EXIT 0 PATTERN "${pass_line}" COUNT 1
    ARGS run ${example} --validate --warmup 0 --iters 1 --out ${CMAKE_CURRENT_BINARY_DIR}/out/${stem})
endforeach()

# The check can fail: without the all-reduce after o_proj each rank keeps a partial sum.
shardrt_add_cli_test(cli.validate_catches_skipped_allreduce
  RANKS 2 EXIT 1 PATTERN "validate .* FAIL$" COUNT 1
  ARGS run ${small} --validate --set strategy.tp=2 --test-fault-skip-allreduce --iters 1
       --out ${CMAKE_CURRENT_BINARY_DIR}/out/fault)

# Bad input: exit code 2, and one error line from every rank naming the field and the rule.
function(bad_input name ranks pattern)
  shardrt_add_cli_test(cli.bad_input.${name} RANKS ${ranks} EXIT 2
    PATTERN "^shardrt: rank [0-9]+: error: ${pattern}" COUNT ${ranks} ARGS ${ARGN})
endfunction()
set(bad_dir ${SHARDRT_DEPLOYMENTS}/bad)
bad_input(malformed_json 2 ".*malformed\\.json: malformed JSON: .*line" run ${bad_dir}/malformed.json)
bad_input(missing_file 2 ".*no-such-file\\.json: cannot open" run ${bad_dir}/no-such-file.json)
bad_input(missing_field 2 "model\\.heads: required field is missing" run ${bad_dir}/missing_heads.json)
bad_input(mistyped_field 2 "model\\.hidden: must be an integer, got string" run ${small} --set model.hidden=\"96\")
bad_input(unknown_field 2 "workload\\.seqlen: unknown field" run ${small} --set workload.seqlen=4)
bad_input(heads_not_divisible 4 "strategy\\.tp: must divide model\\.heads \\(heads=6, tp=4\\)"
  run ${small} --set strategy.tp=4 --set model.heads=6 --set model.kv_heads=6)
bad_input(ffn_not_divisible 4 "strategy\\.tp: must divide model\\.ffn_hidden \\(ffn_hidden=202, tp=4\\)"
  run ${small} --set strategy.tp=4 --set model.ffn_hidden=202)
bad_input(world_size 3 "strategy: tp\\*pp\\*dp = 2\\*1\\*1 = 2 must equal the number of ranks launched \\(3\\)"
  run ${small} --set strategy.tp=2)
bad_input(zero_size 2 "workload\\.batch_size: must be positive, got 0" run ${small} --set workload.batch_size=0)
bad_input(negative_size 2 "model\\.layers: must be positive, got -2" run ${small} --set model.layers=-2)
bad_input(unknown_option 2 ".*--frobnicate" run ${small} --frobnicate)

# --dump, recomputed from the formulas alone by NumPy (tests/cli/check_dump.py): checks the
# model's math independently of the executor that computes both output and reference.
function(dump_check name expect ranks)
  set(dir ${CMAKE_CURRENT_BINARY_DIR}/dump/${name})
  add_test(NAME cli.dump_check.${name}
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/cli/dump_and_check.sh ${expect} ${dir} --
                   ${SHARDRT_MPIRUN} -np ${ranks} $<TARGET_FILE:shardrt> run ${small}
                   --warmup 0 --iters 1 --out ${dir}-out --dump ${dir} ${ARGN})
  set_tests_properties(cli.dump_check.${name} PROPERTIES LABELS cli TIMEOUT 180
                       SKIP_RETURN_CODE 77 ENVIRONMENT "${SHARDRT_MPI_ENV}")
endfunction()
dump_check(llama_gqa 0 4 --set strategy.tp=4 --set model.kv_heads=2)
dump_check(layernorm_gelu_bidirectional 0 2 --set strategy.tp=2 --set model.norm=layernorm
           --set model.activation=gelu --set model.causal=false --set model.rope_theta=500)
# The independent check fails too, on the deliberately wrong shard.
dump_check(catches_skipped_allreduce 1 2 --set strategy.tp=2 --test-fault-skip-allreduce)
