# `shardrt bench gemm`, `bench layer` and `bench --calibrate` under mpirun (the cpu Backend):
# every timed result checked, the profile read back by the planner's loader, bad input refused.

set(bench_out ${CMAKE_CURRENT_BINARY_DIR}/out/bench)
file(MAKE_DIRECTORY ${bench_out})
set(gemm_row "^ +[0-9]+ +[0-9]+ +[0-9]+ +fp32 +[0-9.]+ +[0-9.]+ +[0-9.]+ +0$")

# bench gemm: the default shapes at one rank (one row each), odd sizes at two ranks at once.
shardrt_add_cli_test(cli.bench.gemm.np1 RANKS 1 EXIT 0 PATTERN "${gemm_row}" COUNT 8
  ARGS bench gemm --iters 2 --warmup 0 --json ${bench_out}/gemm.np1.json)
shardrt_add_cli_test(cli.bench.gemm.np2 RANKS 2 EXIT 0 PATTERN "${gemm_row}|^# errors: 0 wrong" COUNT 4
  ARGS bench gemm --shapes "1,129,67;17,33,250;130,70,257" --iters 3 --warmup 1)
# The check can fail: one element made wrong on each rank is two wrong, and exit 1.
shardrt_add_cli_test(cli.bench.gemm.catches_a_wrong_element RANKS 2 EXIT 1
  PATTERN "^ +31 +45 +77 +fp32 .* 2$|^# errors: 2 wrong" COUNT 2
  ARGS bench gemm --shapes "31,45,77" --iters 1 --test-fault-wrong-element)

# bench layer: two strategies for 2 ranks timed, the 4-rank one skipped with its reason.
set(bench_strategies ${SHARDRT_DEPLOYMENTS}/bench-strategies.json)
shardrt_add_cli_test(cli.bench.layer.two_strategies RANKS 2 EXIT 0
  PATTERN "^  (tp2 +2 +1 +1 +1 +1|pp2-mb2 +1 +2 +1 +1 +2) +2 +[0-9.]+ +[0-9.]+$|^# skipped tp4: uses tp\\*pp\\*dp = 4\\*1\\*1 = 4 rank\\(s\\), 2 launched$"
  COUNT 3 ARGS bench layer ${bench_strategies} --iters 2 --json ${bench_out}/layer.json)
shardrt_add_cli_test(cli.bench.layer.one_strategy RANKS 2 EXIT 0 PATTERN "^  pp2-mb2 " COUNT 1
  ARGS bench layer ${bench_strategies} --strategy pp2-mb2 --iters 1)

# bench --calibrate at 2 ranks writes a profile the planner's loader reads back.
add_executable(check_profile cli/check_profile.cpp)
target_link_libraries(check_profile PRIVATE shardrt_planner)
add_test(NAME cli.bench.calibrate.np2
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/cli/calibrate_and_check.sh
                 $<TARGET_FILE:check_profile> ${bench_out}/profile.np2.json 2 --
                 ${SHARDRT_MPIRUN} -np 2 $<TARGET_FILE:shardrt> bench --calibrate
                 --out ${bench_out}/profile.np2.json --device cpu)
set_tests_properties(cli.bench.calibrate.np2 PROPERTIES LABELS cli TIMEOUT 240
                     ENVIRONMENT "${SHARDRT_MPI_ENV}")
# The example profile in the repository stays readable.
add_test(NAME cli.bench.example_profile_loads
         COMMAND check_profile ${PROJECT_SOURCE_DIR}/examples/profiles/cpu-2core.json 2)
set_tests_properties(cli.bench.example_profile_loads PROPERTIES LABELS cli TIMEOUT 60)

# Bad input: one line per rank, exit 2.
function(bench_bad_input name ranks pattern)
  shardrt_add_cli_test(cli.bench.bad_input.${name} RANKS ${ranks} EXIT 2
    PATTERN "^shardrt: rank [0-9]+ on [^ ]+: error: ${pattern}" COUNT ${ranks} ARGS ${ARGN})
endfunction()
bench_bad_input(shapes_too_few 2 "--shapes: \"64,64\" has fewer than 3 sizes" bench gemm --shapes "64,64")
bench_bad_input(shapes_not_positive 2 "--shapes: \"0\" is not a positive integer"
  bench gemm --shapes "8,8,8;0,8,8")
bench_bad_input(bf16_on_cpu 2 "--dtype: bf16 GEMMs run on the cuda backend only" bench gemm --dtype bf16)
bench_bad_input(device_needs_calibrate 2 "--device requires --calibrate" bench)
add_test(NAME cli.bench.bad_input.no_benchmark
         COMMAND ${SHARDRT_EXPECT} 2 "^shardrt: rank [01] on [^ ]+: error: bench: needs a subcommand" 2 --
                 ${SHARDRT_MPIRUN} -np 2 $<TARGET_FILE:shardrt> bench)
set_tests_properties(cli.bench.bad_input.no_benchmark PROPERTIES LABELS cli TIMEOUT 120
                     ENVIRONMENT "${SHARDRT_MPI_ENV}")
bench_bad_input(layer_missing_file 2 ".*no-such\\.json: cannot open" bench layer ${SHARDRT_DEPLOYMENTS}/no-such.json)
bench_bad_input(layer_no_strategy_fits 2 "bench layer: no strategy of .* uses 2 ranks"
  bench layer ${bench_strategies} --strategy tp4)
bench_bad_input(calibrate_unwritable 2 "(--out: cannot write .*not a writable directory|rank 0 cannot write the profile)"
  bench --calibrate --out ${bench_out}/no-such-dir/profile.json)

# bench decode (issue 17, item 6): one row a (batch, context), the schedule in the header; a
# plan whose ep group spans replicas says its rounds ran in lockstep.
set(decode_row "^ +[24] +5 +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+$")
shardrt_add_cli_test(cli.bench.decode.pp2_rows RANKS 2 EXIT 0 PATTERN "${decode_row}" COUNT 2
  ARGS bench decode ${SHARDRT_DEPLOYMENTS}/generate-small.json --set strategy.tp=1
       --set strategy.pp=2 --batch 2 4 --context 5 --new-tokens 3 --warmup 0)
shardrt_add_cli_test(cli.bench.decode.schedule_in_header RANKS 2 EXIT 0
  PATTERN "; rounds lockstep [(]generate --schedule[)]$" COUNT 1
  ARGS bench decode ${SHARDRT_DEPLOYMENTS}/generate-small.json --set strategy.tp=1
       --set strategy.pp=2 --batch 2 --context 5 --new-tokens 3 --warmup 0 --schedule lockstep)
shardrt_add_cli_test(cli.bench.decode.moe_across_replicas_runs_lockstep RANKS 2 EXIT 0
  PATTERN "^# rounds ran lockstep: an expert-parallel group spans replicas$" COUNT 1
  ARGS bench decode ${SHARDRT_DEPLOYMENTS}/generate-moe.json --set strategy.dp=2
       --set strategy.ep=2 --batch 2 --context 5 --new-tokens 3 --warmup 0)
