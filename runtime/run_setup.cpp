#include "runtime/run_setup.h"

#include <algorithm>
#include <cstdio>
#include <thread>

#include "common/errors.h"
#include "kernels/cpu/blas_threads.h"
#include "runtime/consistency_check.h"
#include "runtime/host_memory.h"
#include "runtime/memory_estimate.h"
#include "runtime/rank_agreement.h"

namespace shardrt {
namespace {

std::string gib(std::size_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f GiB", static_cast<double>(bytes) / (1024.0 * 1024 * 1024));
  return buf;
}

}  // namespace

std::optional<config::Deployment> loadOnEveryRank(const std::string& path,
                                                  const std::vector<std::string>& overrides,
                                                  const std::string& strategy, bool check_world,
                                                  comm::Communicator& world) {
  std::optional<config::Deployment> d;
  std::string error;
  try {
    d = config::loadDeployment(path, overrides);
    if (!strategy.empty()) d = config::withStrategy(*d, strategy);
    if (check_world) config::checkWorldSize(*d, world.size());
  } catch (const ConfigError& e) {
    error = e.what();
  }
  if (!noRankFailed(world, error, "another rank rejected the deployment")) return std::nullopt;
  return d;
}

std::optional<ExecutionContext> contextOnEveryRank(const std::string& device,
                                                   const comm::MpiSession& mpi, DType dtype,
                                                   comm::Communicator& world,
                                                   AttentionImpl attention) {
  std::optional<ExecutionContext> ctx;
  std::string error;
  try {
    ctx = makeExecutionContext(device, mpi, attention);
    if (dtype == DType::BF16 && ctx->backend->device() == Device::Cpu) {
      throw ConfigError("workload.dtype", "bf16 runs on the cuda backend only (--device cuda)");
    }
  } catch (const ConfigError& e) {
    error = e.what();
  }
  if (!noRankFailed(world, error, "another rank cannot use the device asked for"))
    return std::nullopt;
  return ctx;
}

std::optional<WeightFiles> weightsOnEveryRank(const std::string& path,
                                              const config::ModelConfig& model,
                                              comm::Communicator& world, bool token_level) {
  std::optional<WeightFiles> files;
  std::string error;
  std::uint64_t fingerprint = 0;
  try {
    files = WeightFiles::open(path, token_level);
    files->checkHolds(model);
    fingerprint = files->fingerprint(model);
  } catch (const ConfigError& e) {
    error = e.what();
  }
  if (!noRankFailed(world, error, "another rank cannot use the --weights files")) {
    return std::nullopt;
  }
  if (!sameCheckpointOnEveryRank(fingerprint, path, world)) return std::nullopt;
  return files;
}

bool fitsOnEveryRank(const config::Deployment& deployment, const config::Plan& plan,
                     const config::ParallelLayout& layout, const Backend& backend,
                     comm::Communicator& world, int ranks_on_node, long step_tokens) {
  std::string error;
  std::optional<std::size_t> free = backend.freeMemory();
  std::string has = free ? "its device has " + gib(*free) + " free" : "";
  // Host memory: the node's, shared by its ranks (each holds its own shards and buffers).
  if (!free && backend.device() == Device::Cpu) {
    if (const auto host = hostMemoryAvailable()) {
      free = host->available / static_cast<std::size_t>(std::max(1, ranks_on_node));
      has = "its share of this host's memory is " + gib(*free) + " (" + host->source + " " +
            gib(host->available) + " / " + std::to_string(ranks_on_node) + " ranks on this node)";
    }
  }
  if (free) {
    const MemoryEstimate need = estimateMemory(deployment, plan, layout, step_tokens);
    if (need.total() > *free) {
      error = "deployment: does not fit: rank " + std::to_string(layout.worldRank()) +
              " needs about " + gib(need.total()) + " (weights " + gib(need.weight_bytes) +
              ", activations " + gib(need.activation_bytes) +
              (step_tokens > 0 ? ", KV cache " + gib(need.kv_cache_bytes) : std::string()) +
              ") but " + has;
    }
  }
  return noRankFailed(world, error, "another rank's share does not fit its memory");
}

int defaultBlasThreads(const comm::MpiSession& mpi) {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return std::max(1, std::min(kernels::cpu::usableCpus(), cores / mpi.ranksOnThisNode()));
}

}  // namespace shardrt
