// Which Backend and which world Communicator a run uses, from --device:
//   cpu  : the cpu Backend, the mpi Communicator
//   cuda : the cuda Backend on GPU (node rank mod GPUs) and the nccl Communicator; where
//          ranks outnumber GPUs and the loaded NCCL cannot share one (before 2.30, or without
//          NCCL_MULTI_RANK_GPU_ENABLE=1), the mpi Communicator with host staging instead
//   auto : cuda when this build has CUDA and a GPU is visible, else cpu
// and, from --attention, which kernel the cuda Backend's bf16 attention runs
// (runtime/attention_impl.h).
#pragma once

#include <memory>
#include <string>

#include "comm/communicator.h"
#include "comm/mpi_session.h"
#include "runtime/attention_impl.h"
#include "runtime/backend.h"

namespace shardrt {

struct ExecutionContext {
  std::unique_ptr<Backend> backend;
  std::unique_ptr<comm::Communicator> world;
  std::unique_ptr<comm::Communicator> self;  // a one-rank group, for the unsharded reference
  std::string device;                        // what ran: "cpu" or "cuda:N"
  std::string communicator_note;             // why this communicator, when there was a choice
  bool ranks_share_a_gpu = false;  // more ranks on this node than GPUs: timings are not links'
};

// Throws ConfigError naming --device or --attention when the request cannot be met on this
// rank (--attention cudnn: a cpu device, or a build without cuDNN).
ExecutionContext makeExecutionContext(const std::string& device, const comm::MpiSession& mpi,
                                      AttentionImpl attention = AttentionImpl::Own);

}  // namespace shardrt
