// Signals on a rank: a crash (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT) prints one line naming
// the rank, the signal and the op it was running, and the rank's last collectives, then dies
// of the same signal, so that mpirun ends the job; SIGUSR1 prints the last collectives and
// goes on (`kill -USR1 PID` on a rank that seems stuck).
#pragma once

namespace shardrt::launch {

void installSignalHandlers(int world_rank);

}  // namespace shardrt::launch
