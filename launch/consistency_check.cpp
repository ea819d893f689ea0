#include "launch/consistency_check.h"

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "launch/error_report.h"

#ifndef SHARDRT_VERSION
#define SHARDRT_VERSION "unknown"
#endif

namespace shardrt::launch {
namespace {

// FNV-1a, 64 bits: stable across builds and machines, unlike std::hash.
std::uint64_t fnv1a(const std::string& text) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : text) h = (h ^ c) * 1099511628211ull;
  return h;
}

std::string hex(std::uint64_t x) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(x));
  return buf;
}

}  // namespace

const char* shardrtVersion() { return SHARDRT_VERSION; }

bool sameDeploymentOnEveryRank(const planner::Deployment& d, comm::Communicator& world) {
  const std::uint64_t mine[2] = {fnv1a(planner::toJson(d).dump()), fnv1a(shardrtVersion())};
  // As four 32-bit integers per rank: every communicator moves int32.
  std::vector<std::int32_t> all(4 * static_cast<std::size_t>(world.size()));
  world.allGather(mine, all.data(), 4, DType::I32);
  auto at = [&](int r, int i) {
    std::uint64_t x;
    std::memcpy(&x, &all[4 * static_cast<std::size_t>(r) + 2 * i], sizeof x);
    return x;
  };
  bool same = true;
  std::string differing;
  for (int r = 1; r < world.size(); ++r) {
    if (at(r, 0) == at(0, 0) && at(r, 1) == at(0, 1)) continue;
    same = false;
    differing += (differing.empty() ? "" : ", ") + std::to_string(r);
  }
  if (same) return true;
  const int me = world.rank();
  if (me == 0) {
    reportError(0, "deployment: ranks " + differing +
                       " read another deployment or run another shardrt build than rank 0 "
                       "(start every rank on the same file and binary)");
  } else if (at(me, 0) != at(0, 0) || at(me, 1) != at(0, 1)) {
    reportError(me, "deployment: this rank read deployment " + hex(at(me, 0)) + " with shardrt " +
                        shardrtVersion() + ", rank 0 deployment " + hex(at(0, 0)) +
                        (at(me, 1) != at(0, 1) ? " with another shardrt build" : ""));
  }
  return false;
}

}  // namespace shardrt::launch
