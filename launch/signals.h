// Signals on a rank: a crash (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT) prints one line naming
// the rank, the signal and the op it was running, and the rank's last collectives, then dies
// of the same signal, so that mpirun ends the job; SIGUSR1 prints the last collectives and
// goes on (`kill -USR1 PID` on a rank that seems stuck); SIGINT (Ctrl-C) prints
// "interrupted" with the op and exits 130, the shell's code for it, not 1 (a validation FAIL);
// SIGTERM (mpirun ending the job) ends the rank quietly, as its default action would, after
// telling the other hosts (comm/lifeline.h). Every line names the rank and its host
// (common/rank_label.h).
#pragma once

namespace shardrt::launch {

// Called first with -1 before MPI starts, so that a SIGUSR1 during a slow MPI_Init does not
// kill the rank (its default action), then again with the rank once it is known.
void installSignalHandlers(int world_rank);

}  // namespace shardrt::launch
