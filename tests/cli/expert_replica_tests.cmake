# Redundant copies of hot experts (plan.expert_placement listing one expert on several ep
# ranks): validated runs that must PASS in fp32 against the unsharded reference with no
# routing flip, the same on the GPU in fp32 and bf16, traced and dry-run graphs that pass
# `shardrt dag check`, and the placement errors. Uses the helpers of cli_tests.cmake
# (gpu_case, dag_case, bad_input), included before this file.
# tiny-moe (examples/) with tp 2, ep 2: experts 0, 4 and 7 on both ranks.
set(replicas_ep2 ${SHARDRT_DEPLOYMENTS}/tiny-moe-replicas-ep2.json)
# tp 2, dp 2, ep 4: expert 7 on every rank, 0 on three; ep rank 3 holds only copies.
set(replicas_ep4 ${SHARDRT_DEPLOYMENTS}/tiny-moe-replicas-ep4.json)
# (A ";" would split the CMake string into a list: the pattern skips it with ".".)
set(replica_pass "(validate .* PASS$)|(routing   0 of [0-9]+ .* 0 MoE layers whose)")

function(replica_case name ranks deployment)
  shardrt_add_cli_test(cli.replicas.${name} RANKS ${ranks} EXIT 0 PATTERN "${replica_pass}"
    COUNT 2 ARGS run ${deployment} --validate --warmup 0 --iters 1
         --out ${CMAKE_CURRENT_BINARY_DIR}/out/replicas.${name} ${ARGN})
  gpu_case(replicas.${name} ${ranks} ${deployment} "${replica_pass}" 3 ${ARGN})
  gpu_case(replicas.${name}.bf16 ${ranks} ${deployment} "validate .* PASS$" 2 ${ARGN}
           --set workload.dtype=bf16)
  dag_case(replicas.${name} ${ranks} ${deployment} ${ARGN})
endfunction()

replica_case(ep2 2 ${replicas_ep2})
replica_case(ep4 4 ${replicas_ep4})
# Capacity applies per expert before the split among copies: the same slots are dropped as in
# the reference.
replica_case(ep4_capacity 4 ${replicas_ep4} --set model.moe.capacity_factor=0.75)
replica_case(ep4_pp2_mb2 8 ${replicas_ep4} --set strategy.pp=2 --set strategy.microbatches=2)
# Every expert on every ep rank: each sender splits every expert's slots between both ranks.
replica_case(ep2_all_everywhere 2 ${replicas_ep2}
             --set "plan.expert_placement=[[0,1,2,3,4,5,6,7],[7,6,5,4,3,2,1,0]]")
# ep 4 over dp 4 with top-1 and one-token sequences: most copies receive nothing.
replica_case(ep4_dp4_sparse 4 ${replicas_ep4} --set strategy.tp=1 --set strategy.dp=4
             --set workload.seq_len=1 --set model.moe.top_k=1)

# The copies share the load: ep rank 1 holds only copies of experts 0 and 1 (rank 0 holds all
# eight), so it receives rows only if the slots of 0 and 1 are split; sent all to the first
# copy, it would receive none. One line per MoE layer: "ranks <imbalance> [<rank 0> <rank 1>]".
shardrt_add_cli_test(cli.replicas.copy_only_rank_receives RANKS 2 EXIT 0
  PATTERN "ranks [0-9.]+ \\[[1-9][0-9]* [1-9][0-9]*\\]$" COUNT 2
  ARGS run ${replicas_ep2} --warmup 0 --iters 1
       --set "plan.expert_placement=[[0,1,2,3,4,5,6,7],[0,1]]"
       --out ${CMAKE_CURRENT_BINARY_DIR}/out/replicas.copy_only_rank)

# One expert twice on one ep rank: exit 2, one line naming the field, the expert and the rank.
bad_input(replica_twice_on_one_rank 4
  "plan\\.expert_placement: expert 7 is listed twice on ep rank 2 \\(copies go on different ranks\\)$"
  run ${replicas_ep4} --set "plan.expert_placement=[[0,1,2,7],[3,4,7],[5,6,7,0,7],[7,0]]")
bad_input(replica_hides_no_missing_expert 2 "plan\\.expert_placement: expert 6 is missing$"
  run ${replicas_ep2} --set "plan.expert_placement=[[0,1,2,3,4,5,7],[0,1,2,3,4,5,7]]")
