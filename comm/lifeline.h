// A lost host, named (issue 15, item 10). When a host's processes are killed (or the host goes
// down cleanly), mpirun ends the job about a second later, and Open MPI's words for it name
// no rank ("ORTE was unable to reliably start one or more daemons", "peer hung up" with an
// address). The progress board cannot say either across hosts over TCP: Open MPI 4.1's one-sided
// windows do not open there, or crash when a peer stalls (docs/multi-host.md).
//
// So, in a job on more than one host, the first rank of every host keeps one TCP connection to
// the first rank of every other host, watched by a thread that uses no MPI. A rank that ends on
// purpose (at the end of the run, or after reporting an error) first sends one byte of farewell
// on each. A connection that closes without it means the other host's first rank was killed or
// its host is gone: the thread writes one line naming that rank, its host and the host's other
// ranks, and ends this rank (exit 4, like a collective that waited too long); mpirun ends the
// rest of the job.
//
// A connection that cannot be made at start-up (a firewall, no common network) costs a note and
// leaves host loss to the watchdog (--timeout), as before. One host: nothing is opened.
#pragma once

namespace shardrt::comm {

class Lifeline {
 public:
  // Collective over MPI_COMM_WORLD; after the host table is set (common/rank_label.h).
  static void open(int world_rank);
  // Tells every peer that this rank's end is deliberate. Async-signal-safe (send(2) only), so
  // that a crash handler or an exiting watchdog may call it; idempotent.
  static void farewell();
  // farewell(), then stops the watching thread; before MPI_Finalize.
  static void close();
  static bool isOpen();
};

}  // namespace shardrt::comm
