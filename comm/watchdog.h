// The collective watchdog, shared by every communicator that waits for a collective on the
// host: the MPI one (MPI_Test) and the watched NCCL one (a CUDA event and NCCL's state). A
// waiting rank polls; past --timeout it prints one line naming the group, the op, its
// sequence number and shape, and which ranks have not arrived with what they are doing (read
// from the progress board), then its collective log, and ends the job (exit 4).
// docs/reliability.md, "The collective watchdog".
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "common/dtype.h"

namespace shardrt::comm {

// One collective as the log, the progress board, --check-collectives and the report see it.
struct CollectiveCall {
  const char* op;
  long seq;
  long long count;  // elements (the total over ranks for the v-collectives; -1: unchecked)
  DType dtype;
  int root;           // the root, or the peer of a send or recv; -1: none
  std::size_t bytes;  // what this rank contributes
  int log_slot;
};

// The group a communicator serves, as the report names it.
struct WatchedGroup {
  std::string name;  // "world", "tp", ...
  int rank = 0;
  int size = 1;
  int board_slot = -1;           // its slot on the progress board; -1: none
  std::vector<int> world_ranks;  // its members, by group rank
};

// Collectives are numbered per group name, not per object: two objects on one group (a
// launcher's and an executor's "world", or an nccl group and the mpi group beside it) share
// one sequence, as the progress board shares one slot.
long nextCollectiveSeq(const std::string& group_name);

// "34304 x fp32 on 2 ranks", "16 bytes, peer 1 on 2 ranks".
std::string describeSize(const WatchedGroup& group, const CollectiveCall& call);

// Polls `done` until it returns true. Past reliabilitySettings().timeout_seconds (0: never),
// reportStall. `what` prefixes the report's description of the call ("" for the call itself).
void waitWatched(const WatchedGroup& group, const CollectiveCall& call, const char* what,
                 const std::function<bool()>& done);

// The watchdog's line, the collective log, then endJob(kExitTimeout).
[[noreturn]] void reportStall(const WatchedGroup& group, const CollectiveCall& call,
                              const char* what, double waited);

// Writes `line` (one line, ending in a newline) and the collective log to stderr, then
// endJob(exit_code): for failures found while waiting, where unwinding the stack could run
// destructors that wait on the broken collective.
[[noreturn]] void reportAndEndJob(const std::string& line, int exit_code);

// Runs the hook set with setBeforeEndJob (at most `kHookSeconds`), then MPI_Abort.
[[noreturn]] void endJob(int exit_code);

// What must happen before the job is ended (the watched NCCL communicator: abort every NCCL
// communicator of the rank, so that none is left with work on the GPU). It runs on a helper
// thread and the job ends after kHookSeconds whether or not it returned: a hook that hangs
// must not keep the job alive. nullptr: none.
inline constexpr double kHookSeconds = 1.5;
// After the timeout, how long the watchdog watches the awaited ranks' progress counters before
// it calls the wait a stall (waitWatched).
inline constexpr double kRecheckSeconds = 1.0;
void setBeforeEndJob(void (*hook)());

}  // namespace shardrt::comm
