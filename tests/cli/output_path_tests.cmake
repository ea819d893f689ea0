# Output directories checked at start-up (issue 15, item 2): --out, --dump and --trace naming a
# file, an empty path, a path under a file or on a read-only filesystem end the job before any
# work, with one line from rank 0 naming the option and exit 2 (the other rank says rank 0
# cannot write). The deployment file itself serves as "a file that exists".
set(out_file ${PROJECT_SOURCE_DIR}/examples/tiny-llama.json)
function(output_path_case name pattern)
  shardrt_add_cli_test(cli.output_path.${name} RANKS 2 EXIT 2
    PATTERN "^shardrt: rank 0 on [^ ]+: error: ${pattern}$" COUNT 1 ARGS run ${out_file} ${ARGN})
endfunction()
output_path_case(out_is_a_file "--out: .*tiny-llama\\.json exists and is not a directory"
                 --out ${out_file})
output_path_case(dump_is_a_file "--dump: .*tiny-llama\\.json exists and is not a directory"
                 --dump ${out_file})
output_path_case(trace_under_a_file
                 "--trace: .*tiny-llama\\.json/t cannot be created: .*tiny-llama\\.json is not a directory"
                 --trace ${out_file}/t)
# An empty value, written out here: a function's ARGN would drop "".
foreach(option out dump trace)
  add_test(NAME cli.output_path.${option}_empty
           COMMAND ${SHARDRT_EXPECT} 2
                   "^shardrt: rank 0 on [^ ]+: error: --${option}: an empty path \\(give a directory\\)$" 1
                   -- ${SHARDRT_MPIRUN} -np 2 $<TARGET_FILE:shardrt> run ${out_file} --${option} ""
                   --device cpu)
  set_tests_properties(cli.output_path.${option}_empty PROPERTIES LABELS cli TIMEOUT 180
                       ENVIRONMENT "${SHARDRT_MPI_ENV}")
endforeach()
add_test(NAME cli.output_path.read_only
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/cli/output_read_only.sh $<TARGET_FILE:shardrt>
                 ${PROJECT_SOURCE_DIR})
set_tests_properties(cli.output_path.read_only PROPERTIES LABELS cli TIMEOUT 120
                     SKIP_RETURN_CODE 77 ENVIRONMENT "${SHARDRT_MPI_ENV}")

# No stale or mixed outputs (issue 15, item 3).
add_test(NAME cli.output.no_stale_or_mixed
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/cli/stale_outputs.sh $<TARGET_FILE:shardrt>
                 ${PROJECT_SOURCE_DIR} ${CMAKE_CURRENT_BINARY_DIR}/out/stale)
set_tests_properties(cli.output.no_stale_or_mixed PROPERTIES LABELS cli TIMEOUT 240
                     ENVIRONMENT "${SHARDRT_MPI_ENV}")
