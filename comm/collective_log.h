// What each rank remembers of its collectives, for diagnosing a hang after the fact: the
// settings every communicator obeys (the watchdog's timeout, --check-collectives), a ring
// buffer of the last collectives (op, group, sequence number, bytes, start, end), and a hook
// through which the runtime names the op it is running. The ring buffer is plain memory so
// that a signal handler can print it (SIGUSR1, or a crash).
#pragma once

#include <cstddef>
#include <string>

namespace shardrt::comm {

struct ReliabilitySettings {
  double timeout_seconds = 0.0;     // a collective waiting longer aborts the job (0: never)
  bool check_collectives = false;   // ranks confirm op, sequence and sizes before each one
  // The NCCL communicator is made non-blocking and each collective is waited for on the host
  // under the watchdog (--nccl-watchdog on); off: blocking, and the host never waits for
  // NCCL (docs/reliability.md). Read when an NCCL communicator is made.
  bool watch_nccl = false;
};

ReliabilitySettings& reliabilitySettings();

struct CollectiveRecord {
  char group[16] = {0};
  char op[20] = {0};
  long seq = 0;               // per group, from 1
  std::size_t bytes = 0;      // what this rank sends (or holds, for in-place ops)
  double start = 0.0, end = 0.0;  // seconds since the log began; end 0: still waiting
};

// Opens a record (returns its slot) and closes it.
int beginCollective(const char* group, const char* op, long seq, std::size_t bytes);
void endCollective(int slot);

// The last collectives of this rank, oldest first, one per line, into the file descriptor;
// async-signal-tolerant (fixed buffers, write(2)).
void dumpCollectiveLog(int fd);

// How the runtime names the op it is running ("op q_proj of layer 3, microbatch 0"), for the
// watchdog's report; the comm layer knows nothing above it.
void setContextDescriber(std::string (*describe)());
std::string describeContext();

// Where the runtime calls a collective from (runtime/op_context.h callSite), for
// --check-collectives to tell apart two calls alike in op and size; 0: unknown.
void setCallSiteProvider(long long (*call_site)());
long long callSite();

double secondsSinceLogStart();

}  // namespace shardrt::comm
