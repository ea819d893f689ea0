// Before the first collective of a run, every rank confirms that it read the same deployment
// (a hash of the deployment as resolved, overrides applied) and runs the same shardrt build:
// ranks started on different files, or with different binaries, would otherwise call
// different collectives and hang or mix up buffers.
#pragma once

#include <cstdint>
#include <string>

#include "comm/communicator.h"
#include "config/deployment.h"

namespace shardrt {

// The build's version string (the project version and the git commit it was configured at).
const char* shardrtVersion();

// True on every rank when all agree; otherwise every rank returns false after the ranks that
// differ from rank 0 (and rank 0) have each printed one line saying so.
bool sameDeploymentOnEveryRank(const config::Deployment& deployment, comm::Communicator& world);

// The same for `run --weights`: every rank's WeightFiles::fingerprint must equal rank 0's.
bool sameCheckpointOnEveryRank(std::uint64_t fingerprint, const std::string& path,
                               comm::Communicator& world);

}  // namespace shardrt
