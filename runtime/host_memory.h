// How much host memory a rank may count on: what the kernel says is available (MemAvailable in
// /proc/meminfo) or, when the process runs in a memory cgroup, what is left under its limit,
// whichever is less, shared equally by the ranks on this node. The CPU backend's answer to
// "does this deployment fit" (the GPU's comes from cudaMemGetInfo): without it, a deployment
// too large for the host ran until the kernel's OOM killer ended it with no word from shardrt
// (issue 15, item 6).
#pragma once

#include <cstddef>
#include <optional>
#include <string>

namespace shardrt {

struct HostMemory {
  std::size_t available = 0;  // bytes this node can still give, all ranks together
  std::string source;         // where the figure came from, for the error line
};

// nullopt where neither /proc/meminfo nor a cgroup limit can be read.
std::optional<HostMemory> hostMemoryAvailable();

}  // namespace shardrt
