// Which Backend and which world Communicator a run uses, from --device:
//   cpu  : the cpu Backend, the mpi Communicator
//   cuda : the cuda Backend on GPU (node rank mod GPUs), the mpi Communicator with host
//          staging (NCCL is the next step; until then every collective crosses PCIe twice)
//   auto : cuda when this build has CUDA and a GPU is visible, else cpu
#pragma once

#include <memory>
#include <string>

#include "comm/communicator.h"
#include "comm/mpi_session.h"
#include "runtime/backend.h"

namespace shardrt::launch {

struct ExecutionContext {
  std::unique_ptr<Backend> backend;
  std::unique_ptr<comm::Communicator> world;
  std::unique_ptr<comm::Communicator> self;  // a one-rank group, for the unsharded reference
  std::string device;                        // what ran: "cpu" or "cuda:N"
};

// Throws ConfigError naming --device when the request cannot be met on this rank.
ExecutionContext makeExecutionContext(const std::string& device, const comm::MpiSession& mpi);

}  // namespace shardrt::launch
