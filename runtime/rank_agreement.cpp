#include "runtime/rank_agreement.h"

#include <cstdint>

#include "common/error_report.h"

namespace shardrt {

bool anyRank(comm::Communicator& world, bool mine) {
  std::int32_t flag = mine ? 1 : 0;
  world.allReduce(&flag, 1, DType::I32, comm::ReduceOp::Max);
  return flag != 0;
}

bool noRankFailed(comm::Communicator& world, const std::string& error, const char* other) {
  if (!anyRank(world, !error.empty())) return true;
  reportError(world.rank(), error.empty() ? other : error);
  return false;
}

double maxOverRanks(comm::Communicator& world, double value) {
  float v = static_cast<float>(value);
  world.allReduce(&v, 1, DType::F32, comm::ReduceOp::Max);
  return v;
}

}  // namespace shardrt
