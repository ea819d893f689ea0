// One error line per rank, naming its host:
// "shardrt: rank 3 on node1: error: model.heads: must be positive, got 0".
// Written with a single write() so that lines from ranks sharing a terminal never interleave.
#pragma once

#include <string_view>

namespace shardrt {

void reportError(int rank, std::string_view message);

}  // namespace shardrt
