#include "runtime/process_groups.h"

namespace shardrt {

ProcessGroups ProcessGroups::split(comm::Communicator& world,
                                   const config::ParallelLayout& layout) {
  ProcessGroups g;
  g.world = &world;
  // Every rank enters every split in the same order: MPI_Comm_split is collective on world.
  g.tp = world.split(layout.tpGroupColor(), layout.tpRank(), "tp");
  g.dp = world.split(layout.dpGroupColor(), layout.dpRank(), "dp");
  g.pp = world.split(layout.ppGroupColor(), layout.ppRank(), "pp");
  g.ep = world.split(layout.epGroupColor(), layout.epRank(), "ep");
  return g;
}

}  // namespace shardrt
