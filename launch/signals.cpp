#include "launch/signals.h"

#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstring>

#include "comm/collective_log.h"
#include "runtime/op_context.h"

namespace shardrt::launch {
namespace {

int g_rank = -1;

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
  char where[128];
  describeOp(where, sizeof where);
  char line[256];
  const int len = std::snprintf(line, sizeof line, "shardrt: rank %d: error: signal %d (%s) %s\n",
                                g_rank, sig, strsignal(sig), where);
  if (::write(STDERR_FILENO, line, static_cast<std::size_t>(len)) >= 0) {
    comm::dumpCollectiveLog(STDERR_FILENO, g_rank);
  }
  std::signal(sig, SIG_DFL);  // die of it, so that mpirun sees the signal and ends the job
  std::raise(sig);
}

void onUser1(int) {
  char where[128];
  describeOp(where, sizeof where);
  char line[256];
  const int len = std::snprintf(line, sizeof line, "shardrt: rank %d: SIGUSR1: %s\n", g_rank,
                                where);
  if (::write(STDERR_FILENO, line, static_cast<std::size_t>(len)) >= 0) {
    comm::dumpCollectiveLog(STDERR_FILENO, g_rank);
  }
}

void onInterrupt(int) {
  char where[128];
  describeOp(where, sizeof where);
  char line[256];
  const int len = std::snprintf(line, sizeof line, "shardrt: rank %d: interrupted (SIGINT) %s\n",
                                g_rank, where);
  [[maybe_unused]] const ssize_t written =
      ::write(STDERR_FILENO, line, static_cast<std::size_t>(len));
  _exit(130);  // 128 + SIGINT, as a shell reports a program Ctrl-C ended
}

}  // namespace

void installSignalHandlers(int world_rank) {
  g_rank = world_rank;
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) std::signal(sig, onCrash);
  std::signal(SIGUSR1, onUser1);
  std::signal(SIGINT, onInterrupt);
}

}  // namespace shardrt::launch
