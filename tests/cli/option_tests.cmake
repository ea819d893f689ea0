# Options and messages (issue 15, item 9): a bad value is one line per rank naming the option
# and the rule, exit 2.
function(option_case name pattern)
  shardrt_add_cli_test(cli.option.${name} RANKS 2 EXIT 2
    PATTERN "^shardrt: rank [01] on [^ ]+: error: ${pattern}$" COUNT 2
    ARGS run ${PROJECT_SOURCE_DIR}/examples/tiny-llama.json ${ARGN})
endfunction()
set(timeout_rule "must be 0 \\(no watchdog\\) or seconds from 0\\.1 to 86400")
option_case(timeout_nan "--timeout: got nan: ${timeout_rule}" --timeout nan)  # turned the watchdog off
option_case(timeout_tiny "--timeout: got 1e-9: ${timeout_rule}" --timeout 1e-9)  # false alarms
option_case(timeout_inf "--timeout: got inf: ${timeout_rule}" --timeout inf)  # printed DBL_MAX in full
option_case(timeout_negative "--timeout: got -1: ${timeout_rule}" --timeout=-1)

# SIGUSR1 during start-up goes on; Ctrl-C exits 130 with "interrupted".
add_test(NAME cli.signals.at_start_and_interrupt
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/cli/signals_at_start.sh $<TARGET_FILE:shardrt>
                 ${PROJECT_SOURCE_DIR} ${CMAKE_CURRENT_BINARY_DIR}/out/signals)
set_tests_properties(cli.signals.at_start_and_interrupt PROPERTIES LABELS cli TIMEOUT 120
                     ENVIRONMENT "${SHARDRT_MPI_ENV}")

# Numbers past their type: 2^64 - 1 was reported as "got -1", --set norm_eps=1e400 as "got
# string" (it was taken for the string "1e400").
option_case(hidden_2_pow_64 "model\\.hidden: must be at most 2\\^31-1, got 18446744073709551615"
            --set model.hidden=18446744073709551615)
option_case(norm_eps_past_double
            "--set model\\.norm_eps: malformed JSON: number overflow parsing '1e400'"
            --set model.norm_eps=1e400)

# --nccl-watchdog on where no NCCL communicator runs would do nothing: refused, not ignored.
option_case(nccl_watchdog_without_nccl
  "--nccl-watchdog: on needs the NCCL communicator, and the cpu backend communicates through MPI [(]the MPI communicator is watched anyway: --timeout[)]"
  --nccl-watchdog on)
