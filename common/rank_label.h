// Who a line is from: "rank 3 on node1". Every line a rank writes about itself or another
// rank names the host, so that in a job across machines the reader knows where to look
// (issue 15, item 10). The host is this process's gethostname(); the other ranks' hosts come
// from comm::MpiSession, which gathers them at start-up.
#pragma once

#include <string>
#include <vector>

namespace shardrt {

// This process's host name (control characters and spaces replaced by '?'), read once.
const std::string& thisHost();

// World rank -> host, the same table on every rank (set once MPI is up).
void setRankHosts(std::vector<std::string> hosts);
int hostCount();  // distinct hosts in the table; 1 before it is set

// The table's host for `world_rank`; this process's host when the table does not have it
// (before MPI is up: only this process's own rank is named then).
const std::string& hostOfRank(int world_rank);
// "rank 2 on node1".
std::string rankName(int world_rank);

// The rank the launcher gave this process, read from its environment before MPI is up (Open
// MPI, MPICH/PMI, PMIx, Slurm); -1 without one.
int rankFromLauncher();

// "shardrt: rank 3 on node1", kept in a static buffer for signal handlers, which must not
// allocate: set when the rank is known (again later, when MPI has given it).
void setThisRank(int world_rank);
const char* thisRankPrefix();

}  // namespace shardrt
