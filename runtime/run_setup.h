// What a run settles before its first forward pass, agreed over all ranks so that a problem
// one rank finds ends every rank with exit code 2 instead of leaving the others in a
// collective: the deployment, the device, the memory fit, the BLAS threads.
// Shared by `shardrt run` and `shardrt bench layer`.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "comm/communicator.h"
#include "comm/mpi_session.h"
#include "config/deployment.h"
#include "config/parallel_layout.h"
#include "config/plan.h"
#include "runtime/execution_context.h"
#include "runtime/weight_files.h"

namespace shardrt {

// Each rank reads and checks the file itself; `strategy` (when not empty) picks one of its
// named strategies, `check_world` requires it to use exactly the launched ranks. nullopt on
// every rank after each printed why.
std::optional<config::Deployment> loadOnEveryRank(const std::string& path,
                                                  const std::vector<std::string>& overrides,
                                                  const std::string& strategy, bool check_world,
                                                  comm::Communicator& world);

// The device each rank asked for, able to hold `dtype`; nullopt on every rank when any
// rank cannot have it.
std::optional<ExecutionContext> contextOnEveryRank(const std::string& device,
                                                   const comm::MpiSession& mpi, DType dtype,
                                                   comm::Communicator& world,
                                                   AttentionImpl attention = AttentionImpl::Own);

// The --weights checkpoint indexed and checked against the model on every rank (each reads
// the headers itself), and its fingerprint agreed with rank 0's; nullopt on every rank after
// each printed why. token_level: the embedding and LM head too (generate).
std::optional<WeightFiles> weightsOnEveryRank(const std::string& path,
                                              const config::ModelConfig& model,
                                              comm::Communicator& world, bool token_level = false);

// The plan's memory estimate against what the device has free, before anything is allocated;
// on the CPU backend, against the host's available memory divided by the ranks on this node
// (runtime/host_memory.h).
bool fitsOnEveryRank(const config::Deployment& deployment, const config::Plan& plan,
                     const config::ParallelLayout& layout, const Backend& backend,
                     comm::Communicator& world, int ranks_on_node, long step_tokens = 0);

// The node's cores shared among its ranks, and never more than the cores this rank is bound
// to: mpirun binds each rank to one core when it starts few ranks, and two BLAS threads on
// one core run slower than one (docs/benchmarks.md measured 1.8x).
int defaultBlasThreads(const comm::MpiSession& mpi);

}  // namespace shardrt
