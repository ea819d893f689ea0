// This rank's communicators: the world and its tp, dp, pp and ep sub-groups, split by the
// ParallelLayout's colors so that group-rank order is the layout's order.
#pragma once

#include <memory>

#include "comm/communicator.h"
#include "config/parallel_layout.h"

namespace shardrt {

struct ProcessGroups {
  comm::Communicator* world = nullptr;  // not owned
  std::unique_ptr<comm::Communicator> tp, dp, pp, ep;

  static ProcessGroups split(comm::Communicator& world, const config::ParallelLayout& layout);
};

}  // namespace shardrt
