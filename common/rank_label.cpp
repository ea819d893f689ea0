#include "common/rank_label.h"

#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <utility>

namespace shardrt {
namespace {

std::vector<std::string>& hostTable() {
  static std::vector<std::string> hosts;
  return hosts;
}

char g_prefix[128] = "shardrt: rank ?";

}  // namespace

const std::string& thisHost() {
  static const std::string host = [] {
    char buf[HOST_NAME_MAX + 1] = {};
    if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return std::string("?");
    std::string name(buf);
    // A host name is one word of printable characters; anything else must not break a line.
    for (char& c : name) {
      const auto u = static_cast<unsigned char>(c);
      if (u <= 0x20 || u == 0x7f) c = '?';
    }
    return name;
  }();
  return host;
}

void setRankHosts(std::vector<std::string> hosts) { hostTable() = std::move(hosts); }

int hostCount() {
  const auto& hosts = hostTable();
  if (hosts.empty()) return 1;
  return static_cast<int>(std::set<std::string>(hosts.begin(), hosts.end()).size());
}

const std::string& hostOfRank(int world_rank) {
  const auto& hosts = hostTable();
  const bool known = world_rank >= 0 && static_cast<std::size_t>(world_rank) < hosts.size();
  return known ? hosts[static_cast<std::size_t>(world_rank)] : thisHost();
}

std::string rankName(int world_rank) {
  return "rank " + std::to_string(world_rank) + " on " + hostOfRank(world_rank);
}

int rankFromLauncher() {
  for (const char* name : {"OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK", "SLURM_PROCID"}) {
    if (const char* v = std::getenv(name)) return std::atoi(v);
  }
  return -1;
}

void setThisRank(int world_rank) {
  std::snprintf(g_prefix, sizeof g_prefix, "shardrt: %s", rankName(world_rank).c_str());
}

const char* thisRankPrefix() { return g_prefix; }

}  // namespace shardrt
