#include "launch/signals.h"

#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstring>

#include "comm/collective_log.h"
#include "comm/lifeline.h"
#include "common/rank_label.h"
#include "runtime/op_context.h"

namespace shardrt::launch {
namespace {

// Plain memory and write(2) only: the heap may be what broke.
void describeOp(char* out, std::size_t size) {
  const OpContext& c = currentOp();
  if (c.op[0] == '\0') {
    std::snprintf(out, size, "before any op");
  } else if (c.layer >= 0) {
    std::snprintf(out, size, "in op %s of layer %d, microbatch %d", c.op, c.layer, c.microbatch);
  } else {
    std::snprintf(out, size, "in op %s, microbatch %d", c.op, c.microbatch);
  }
}

void onCrash(int sig) {
  comm::Lifeline::farewell();  // reported here: other hosts must not report this rank lost
  char where[128];
  describeOp(where, sizeof where);
  char line[256];
  const int len = std::snprintf(line, sizeof line, "%s: error: signal %d (%s) %s\n",
                                thisRankPrefix(), sig, strsignal(sig), where);
  if (::write(STDERR_FILENO, line, static_cast<std::size_t>(len)) >= 0) {
    comm::dumpCollectiveLog(STDERR_FILENO);
  }
  std::signal(sig, SIG_DFL);  // die of it, so that mpirun sees the signal and ends the job
  std::raise(sig);
}

void onUser1(int) {
  char where[128];
  describeOp(where, sizeof where);
  char line[256];
  const int len = std::snprintf(line, sizeof line, "%s: SIGUSR1: %s\n", thisRankPrefix(), where);
  if (::write(STDERR_FILENO, line, static_cast<std::size_t>(len)) >= 0) {
    comm::dumpCollectiveLog(STDERR_FILENO);
  }
}

void onInterrupt(int) {
  comm::Lifeline::farewell();
  char where[128];
  describeOp(where, sizeof where);
  char line[256];
  const int len =
      std::snprintf(line, sizeof line, "%s: interrupted (SIGINT) %s\n", thisRankPrefix(), where);
  [[maybe_unused]] const ssize_t written =
      ::write(STDERR_FILENO, line, static_cast<std::size_t>(len));
  _exit(130);  // 128 + SIGINT, as a shell reports a program Ctrl-C ended
}

// SIGTERM: mpirun ending the job because another rank failed or a host was lost (that rank, or
// the lifeline, has said so), or a user. The rank dies of it quietly, as before, but first tells
// the other hosts that its end is deliberate, so that none reports it lost.
void onTerminate(int sig) {
  comm::Lifeline::farewell();
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

}  // namespace

void installSignalHandlers(int world_rank) {
  setThisRank(world_rank >= 0 ? world_rank : rankFromLauncher());
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) std::signal(sig, onCrash);
  std::signal(SIGUSR1, onUser1);
  std::signal(SIGINT, onInterrupt);
  std::signal(SIGTERM, onTerminate);
}

}  // namespace shardrt::launch
