// Start-up is watched too (issue 15, item 8). The blocking calls a run makes before its first
// watched collective (MPI_Init, the progress board's window, the communicator splits, NCCL's
// communicator creation) wait for every rank: one rank frozen there (stopped, swapped out, its
// node gone) used to hang the job whatever --timeout said. Each such call runs inside a
// StartupPhase; a thread started first in main ends the process (exit 4, one line naming the
// rank and the phase) when a phase outlives the timeout, and mpirun then ends the job.
// Only those calls are watched: rank-local start-up work (reading a checkpoint, building the
// shards) may take as long as it takes.
#pragma once

namespace shardrt::launch {

// Starts the watching thread; `seconds` <= 0 watches nothing. Called once, before MPI_Init.
void startStartupWatch(double seconds);

// The one rule for --timeout, used by the parser and by timeoutFromArguments: 0 (no
// watchdog), or seconds from 0.1 to 86400.
bool allowedTimeout(double seconds);

// The --timeout given on the command line, read before the parser (and MPI) has run; the
// default (300 s) when there is none or it does not parse (the parser then says why).
double timeoutFromArguments(int argc, char** argv);

// While one lives, the calling rank is in `name` ("MPI_Init", "the communicator splits", ...).
class StartupPhase {
 public:
  explicit StartupPhase(const char* name);
  ~StartupPhase();
  StartupPhase(const StartupPhase&) = delete;
  StartupPhase& operator=(const StartupPhase&) = delete;
};

}  // namespace shardrt::launch
