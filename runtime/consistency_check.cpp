#include "runtime/consistency_check.h"

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/error_report.h"

#ifndef SHARDRT_VERSION
#define SHARDRT_VERSION "unknown"
#endif

namespace shardrt {
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

// Two 64-bit values per rank, compared field by field.
using RankValues = std::array<std::uint64_t, 2>;

std::vector<RankValues> gatherValues(comm::Communicator& world, RankValues mine) {
  // As four 32-bit integers per rank: every communicator moves int32.
  std::vector<std::int32_t> raw(4 * static_cast<std::size_t>(world.size()));
  world.allGather(mine.data(), raw.data(), 4, DType::I32);
  std::vector<RankValues> all(static_cast<std::size_t>(world.size()));
  std::memcpy(all.data(), raw.data(), raw.size() * sizeof(std::int32_t));
  return all;
}

// "1, 3": the ranks whose values differ from rank 0's; empty when all agree.
std::string ranksDifferingFromRankZero(const std::vector<RankValues>& all) {
  std::string differing;
  for (std::size_t r = 1; r < all.size(); ++r) {
    if (all[r] != all[0]) differing += (differing.empty() ? "" : ", ") + std::to_string(r);
  }
  return differing;
}

}  // namespace

const char* shardrtVersion() { return SHARDRT_VERSION; }

bool sameDeploymentOnEveryRank(const config::Deployment& deployment, comm::Communicator& world) {
  const std::vector<RankValues> all =
      gatherValues(world, {fnv1a(config::toJson(deployment).dump()), fnv1a(shardrtVersion())});
  const std::string differing = ranksDifferingFromRankZero(all);
  if (differing.empty()) return true;
  const int me = world.rank();
  const RankValues &mine = all[me], &zero = all[0];
  if (me == 0) {
    reportError(0, "deployment: ranks " + differing +
                       " read another deployment or run another shardrt build than rank 0 "
                       "(start every rank on the same file and binary)");
  } else if (mine != zero) {
    reportError(me, "deployment: this rank read deployment " + hex(mine[0]) + " with shardrt " +
                        shardrtVersion() + ", rank 0 deployment " + hex(zero[0]) +
                        (mine[1] != zero[1] ? " with another shardrt build" : ""));
  }
  return false;
}

bool sameCheckpointOnEveryRank(std::uint64_t fingerprint, const std::string& path,
                               comm::Communicator& world) {
  const std::vector<RankValues> all = gatherValues(world, {fingerprint, 0});
  const std::string differing = ranksDifferingFromRankZero(all);
  if (differing.empty()) return true;
  const int me = world.rank();
  if (me == 0) {
    reportError(0, "--weights: ranks " + differing + " read other weights than rank 0 from " +
                       path + " (every rank must see the same checkpoint)");
  } else if (all[me] != all[0]) {
    reportError(me, "--weights: this rank read weights " + hex(all[me][0]) + " from " + path +
                        ", rank 0 read " + hex(all[0][0]));
  }
  return false;
}

}  // namespace shardrt
