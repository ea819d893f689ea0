#include "runtime/host_memory.h"

#include <algorithm>
#include <fstream>
#include <sstream>

namespace shardrt {
namespace {

std::optional<std::size_t> readNumber(const std::string& path) {
  std::ifstream in(path);
  std::string text;
  if (!(in >> text) || text == "max") return std::nullopt;  // cgroup v2: "max" is no limit
  try {
    return static_cast<std::size_t>(std::stoull(text));
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::optional<std::size_t> memAvailable() {
  std::ifstream in("/proc/meminfo");
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    std::string key;
    std::size_t kib = 0;
    if (fields >> key >> kib && key == "MemAvailable:") return kib * 1024;
  }
  return std::nullopt;
}

// What is left under the cgroup's limit: v2 (memory.max, memory.current), else v1.
std::optional<std::size_t> cgroupLeft() {
  for (const auto& [limit_file, usage_file] :
       {std::pair{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"},
        std::pair{"/sys/fs/cgroup/memory/memory.limit_in_bytes",
                  "/sys/fs/cgroup/memory/memory.usage_in_bytes"}}) {
    const auto limit = readNumber(limit_file), usage = readNumber(usage_file);
    // v1 writes "no limit" as a number near 2^63.
    if (limit && usage && *limit < (std::size_t{1} << 60)) return *limit - std::min(*limit, *usage);
  }
  return std::nullopt;
}

}  // namespace

std::optional<HostMemory> hostMemoryAvailable() {
  const auto avail = memAvailable();
  const auto cgroup = cgroupLeft();
  if (avail && (!cgroup || *avail <= *cgroup)) return HostMemory{*avail, "MemAvailable"};
  if (cgroup) return HostMemory{*cgroup, "the memory cgroup's limit"};
  return std::nullopt;
}

}  // namespace shardrt
