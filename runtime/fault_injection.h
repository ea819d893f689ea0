// Test-only faults, so that tests can prove a failing rank ends the job promptly and names
// itself: `--test-fault RANK:WHERE:MODE` makes world rank RANK fail at the op WHERE (its
// index among the ops the rank runs, from 1, or its label, optionally @k for the k-th op of
// that label) in one of these ways:
//   throw  an exception (the error path every library failure takes)
//   alloc  an allocation too large for any machine (operator new throws std::bad_alloc)
//   exit   the process ends at once with exit code 7, as a crash without a signal would
//   stall  the op never finishes (the rank sleeps), as a deadlocked kernel would
//   segv   a segmentation fault
//   skip   the op is not run on this rank (a collective skipped: --check-collectives' case)
#pragma once

#include <string>

namespace shardrt {

// Parses the spec (ConfigError naming --test-fault when malformed) and, on the named rank,
// installs the fault; other ranks run normally.
void installTestFault(const std::string& spec, int world_rank);

}  // namespace shardrt
