# Hostile input (issue 7): malformed, huge, deep and absurd files end `shardrt run` on every
# rank with one error line and exit 2 (expect_run.sh also fails on any sign of a crash), and
# `shardrt dag check` and `shardrt plan` with one line and exit 2. The files: tests/hostile/.
set(hostile ${CMAKE_CURRENT_SOURCE_DIR}/hostile)
function(hostile_run name pattern)
  shardrt_add_cli_test(cli.hostile.${name} RANKS 2 EXIT 2
    PATTERN "^shardrt: rank [0-9]+ on [^ ]+: error: ${pattern}" COUNT 2 ARGS run ${ARGN})
endfunction()
hostile_run(deep_json ".*deep\\.json: nested deeper than 64 levels" ${hostile}/deep.json)
hostile_run(duplicate_key ".*duplicate_key\\.json: model\\.hidden: is given twice in one object"
            ${hostile}/duplicate_key.json)
hostile_run(huge_tensor "model\\.hidden \\* model\\.ffn_hidden: the FFN weight has 1000000000000 elements, above the limit of 2\\^38"
            ${hostile}/huge_tensor.json)
hostile_run(truncated ".*truncated\\.json: malformed JSON: parse error at line 12" ${hostile}/truncated.json)
hostile_run(garbage ".*garbage\\.json: malformed JSON: " ${hostile}/garbage.json)
hostile_run(empty ".*empty\\.json: malformed JSON: .*unexpected end of input" ${hostile}/empty.json)
hostile_run(number_overflow ".*number_overflow\\.json: malformed JSON: number overflow parsing '1e999'"
            ${hostile}/number_overflow.json)
hostile_run(not_a_file ".*/dev/zero: the deployment file is not a regular file" /dev/zero)
hostile_run(tokens_over_int "workload\\.batch_size \\* workload\\.seq_len: the batch has 4294967296 tokens"
            ${SHARDRT_DEPLOYMENTS}/small.json --set workload.batch_size=65536
            --set workload.seq_len=65536)

add_test(NAME cli.hostile.dag_check_deep
         COMMAND ${SHARDRT_EXPECT} 2
                 "deep\\.dot:2: cannot parse: blocks nested deeper than 64 levels, the limit for a DOT file$" 1
                 -- $<TARGET_FILE:shardrt> dag check ${hostile}/deep.dot)
add_test(NAME cli.hostile.plan_cluster_overflow
         COMMAND ${SHARDRT_EXPECT} 2
                 "^shardrt: rank 0 on [^ ]+: error: cluster\\.groups\\[0\\]\\.nodes: nodes \\* gpus_per_node is more than 2\\^20 GPUs" 1
                 -- $<TARGET_FILE:shardrt> plan ${hostile}/cluster_overflow.json)
set_tests_properties(cli.hostile.dag_check_deep cli.hostile.plan_cluster_overflow PROPERTIES
                     LABELS cli TIMEOUT 120 ENVIRONMENT "${SHARDRT_MPI_ENV}")

# --weights: a checkpoint whose header promises more data than the file holds, and one that
# holds none of the model's weights. Every rank reads the headers and says so before any read.
hostile_run(weights_truncated
  ".*truncated\\.safetensors: tensor \"model\\.norm\\.weight\"\\.data_offsets: end 1024 is past the data's 100 bytes \\(a truncated file\\?\\)"
  ${PROJECT_SOURCE_DIR}/examples/tiny-llama.json --weights ${hostile}/truncated.safetensors)
hostile_run(weights_unrelated
  "--weights: model\\.layers\\.0\\.input_layernorm\\.weight is not in .*unrelated\\.safetensors"
  ${PROJECT_SOURCE_DIR}/examples/tiny-llama.json --weights ${hostile}/unrelated.safetensors)

# A name holding a newline and an escape sequence (issue 15, item 9): refused, quoted with JSON
# escapes, so it cannot forge a line; a path holding one is written \x0a by every error line.
hostile_run(name_control
  "name: must hold no control characters [(]a newline, an escape[)], got .tiny[\\]nshardrt: rank 0: error: a forged line [\\]u001b.2J.$"
  ${hostile}/name_control.json)

# Host memory (issue 15, item 6): the CPU backend's estimate against the host's available
# memory shared by the ranks on the node, at start-up (before: killed by the kernel after 66 s,
# or, at seq_len 10^7, memory growing until killed).
hostile_run(host_memory_weights
  "deployment: does not fit: rank [01] needs about 4400\\.32 GiB \\(weights 4400\\.05 GiB, activations 0\\.27 GiB\\) but its share of this host's memory is [0-9.]+ GiB \\((MemAvailable|the memory cgroup's limit) [0-9.]+ GiB / 2 ranks on this node\\)$"
  ${PROJECT_SOURCE_DIR}/examples/tiny-llama.json --set model.hidden=65536 --set model.layers=100
  --set model.ffn_hidden=65536 --set model.heads=512 --set model.kv_heads=128 --set model.head_dim=128)
hostile_run(host_memory_seq_len
  "deployment: does not fit: rank [01] needs about 189\\.55 GiB \\(weights 0\\.01 GiB, activations 189\\.54 GiB\\) but its share of this host's memory is "
  ${PROJECT_SOURCE_DIR}/examples/tiny-llama.json --set workload.seq_len=10000000)
