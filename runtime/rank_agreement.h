// Small collectives over the world that turn one rank's value into what every rank agrees on.
#pragma once

#include <string>

#include "comm/communicator.h"

namespace shardrt {

// True on every rank when any rank says true: the way a one-rank condition becomes a
// decision all ranks take together, instead of one rank leaving the others in a collective.
bool anyRank(comm::Communicator& world, bool mine);

// True on every rank when no rank has an error. Otherwise false on every rank, after each
// printed its own error in one line, or `other` where it had none.
bool noRankFailed(comm::Communicator& world, const std::string& error, const char* other);

// The largest of every rank's value (a step's time is its slowest rank's).
double maxOverRanks(comm::Communicator& world, double value);

}  // namespace shardrt
