#include "comm/watchdog.h"

#include <mpi.h>
#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <thread>

#include "comm/collective_log.h"
#include "comm/lifeline.h"
#include "comm/progress_board.h"
#include "common/errors.h"
#include "common/rank_label.h"

namespace shardrt::comm {
namespace {

void (*g_before_end_job)() = nullptr;

// Seconds to one decimal place ("12.5"), as the watchdog's line gives them.
std::string formatSeconds(double seconds) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", seconds);
  return buf;
}

bool isPointToPoint(const CollectiveCall& c) {
  return std::strcmp(c.op, "send") == 0 || std::strcmp(c.op, "recv") == 0;
}

// What the board says a rank is doing ("running op X of layer 1, waiting in ...").
std::string describeEntry(ProgressBoard::Entry& e) {
  e.op[sizeof e.op - 1] = '\0';
  e.waiting_op[sizeof e.waiting_op - 1] = '\0';
  std::string out;
  if (e.op[0] != '\0') {
    out += "running op " + std::string(e.op);
    if (e.layer >= 0) out += " of layer " + std::to_string(e.layer);
    if (e.microbatch >= 0) out += ", microbatch " + std::to_string(e.microbatch);
    out += ", ";
  }
  if (e.waiting_slot >= 0) {
    out += "waiting in " + std::string(ProgressBoard::slotName(static_cast<int>(e.waiting_slot))) +
           " " + std::string(e.waiting_op) + " #" + std::to_string(e.waiting_seq);
  } else {
    out += "in no collective";
  }
  return out;
}

// Which members of a group have not entered its collective `seq`, and what they are doing,
// read from the progress board (bounded: a rank whose MPI makes no progress may not answer).
std::string whoHasNotArrivedInGroup(const WatchedGroup& g, long seq) {
  if (!ProgressBoard::isOpen()) {
    return "which ranks have not arrived is unknown (the progress board is off)";
  }
  if (g.board_slot < 0) {
    return "which ranks have not arrived is unknown (no progress board for this group)";
  }
  std::string late;
  int count = 0;
  const double budget_end = secondsSinceLogStart() + 3.0;
  for (std::size_t r = 0; r < g.world_ranks.size(); ++r) {
    if (static_cast<int>(r) == g.rank) continue;
    ProgressBoard::Entry e{};
    const double left = budget_end - secondsSinceLogStart();
    std::string who = rankName(g.world_ranks[r]);
    if (!ProgressBoard::read(g.world_ranks[r], e, left > 0.1 ? left : 0.1)) {
      late += (count++ ? "; " : "") + who + ": did not answer (its MPI makes no progress)";
      continue;
    }
    if (e.entered[g.board_slot] >= seq) continue;  // it is in this collective or past it
    who += ": last entered #" + std::to_string(e.entered[g.board_slot]) + " of this group, " +
           describeEntry(e);
    late += (count++ ? "; " : "") + who;
  }
  if (count == 0) return "every rank of the group has arrived (the exchange itself is stuck)";
  return std::to_string(count) + " of " + std::to_string(g.world_ranks.size()) +
         " ranks have not arrived: " + late;
}

// The sum of the progress counters of the ranks this wait is for (the group's members that have
// not entered collective `seq`, or a send's or recv's peer); -1 when there are none or the
// board cannot say.
long long progressOfAwaited(const WatchedGroup& g, const CollectiveCall& c) {
  if (!ProgressBoard::isOpen()) return -1;
  ProgressBoard::Entry e{};
  if (isPointToPoint(c)) {
    return ProgressBoard::read(g.world_ranks[c.root], e, 1.0) ? e.progress : -1;
  }
  if (g.board_slot < 0) return -1;
  long long sum = 0;
  bool any = false;
  for (std::size_t r = 0; r < g.world_ranks.size(); ++r) {
    if (static_cast<int>(r) == g.rank) continue;
    if (!ProgressBoard::read(g.world_ranks[r], e, 1.0)) return -1;
    if (e.entered[g.board_slot] >= c.seq) continue;
    sum += e.progress;
    any = true;
  }
  return any ? sum : -1;
}

std::string whoHasNotArrived(const WatchedGroup& g, const CollectiveCall& c) {
  if (!isPointToPoint(c)) return whoHasNotArrivedInGroup(g, c.seq);
  // A send or recv waits for one peer: say what that peer is doing.
  const std::string peer = "its peer " + rankName(g.world_ranks[c.root]);
  ProgressBoard::Entry e{};
  if (!ProgressBoard::isOpen()) return "what " + peer + " does is unknown";
  if (!ProgressBoard::read(g.world_ranks[c.root], e, 3.0)) {
    return peer + " did not answer (its MPI makes no progress)";
  }
  return peer + " is " + describeEntry(e);
}

// The hook on a helper thread, waited for at most kHookSeconds.
void runBeforeEndJob() {
  if (!g_before_end_job) return;
  static std::atomic<bool> finished{false};
  std::thread helper([] {
    g_before_end_job();
    finished = true;
  });
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::duration<double>(kHookSeconds);
  while (!finished && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (finished) {
    helper.join();
  } else {
    helper.detach();  // the process ends below, with it
  }
}

// "tp all_reduce #3 (34304 x fp32 on 2 ranks)", with `what` before it when given.
std::string describeCall(const WatchedGroup& group, const CollectiveCall& call, const char* what) {
  std::string out = what[0] != '\0' ? std::string(what) + " " : std::string();
  return out + group.name + " " + call.op + " #" + std::to_string(call.seq) + " (" +
         describeSize(group, call) + ")";
}

}  // namespace

long nextCollectiveSeq(const std::string& group_name) {
  static std::map<std::string, long> seq_by_group;
  return ++seq_by_group[group_name];
}

std::string describeSize(const WatchedGroup& g, const CollectiveCall& c) {
  std::string out = c.count >= 0 ? std::to_string(c.count) + " x " + std::string(dtypeName(c.dtype))
                                 : std::to_string(c.bytes) + " bytes";
  if (c.root >= 0) out += (isPointToPoint(c) ? ", peer " : ", root ") + std::to_string(c.root);
  return out + " on " + std::to_string(g.size) + " ranks";
}

void waitWatched(const WatchedGroup& group, const CollectiveCall& call, const char* what,
                 const std::function<bool()>& done) {
  const double timeout = reliabilitySettings().timeout_seconds;
  const double start = secondsSinceLogStart();
  // A wait is a stall only while the ranks it is for make no progress (issue 15, item 7): at
  // the timeout their progress counters are read, and read again kRecheckSeconds later; a
  // counter that moved means they are working (rank 0's validation reference, a dump, a slow
  // checkpoint read), and the wait gets another timeout from there. A rank that is stuck is
  // reported at timeout + kRecheckSeconds; one that cannot be read, or a wait for nobody
  // (every rank has arrived), at the timeout, as before.
  double next_check = timeout;
  long long seen = -1;  // the awaited ranks' progress at the last look; -1 before the first
  for (long polls = 0;; ++polls) {
    if (done()) return;
    if (timeout > 0.0) {
      const double waited = secondsSinceLogStart() - start;
      if (waited > next_check) {
        const long long now = progressOfAwaited(group, call);
        if (now < 0 || now == seen) reportStall(group, call, what, waited);
        next_check = waited + (seen < 0 ? kRecheckSeconds : timeout);
        seen = now;
      }
    }
    // Yield the core: with more ranks than cores the rank we wait for may need it.
    if (polls > 1000) sched_yield();
  }
}

void reportStall(const WatchedGroup& group, const CollectiveCall& call, const char* what,
                 double waited) {
  std::string line = std::string(thisRankPrefix()) +
                     ": error: watchdog: " + describeCall(group, call, what) + " has waited " +
                     formatSeconds(waited) + " s (--timeout " +
                     formatSeconds(reliabilitySettings().timeout_seconds) + ")";
  const std::string context = describeContext();
  if (!context.empty()) line += " in " + context;
  line += "; " + whoHasNotArrived(group, call) + "\n";
  // The job cannot go on: end every rank now rather than leave them in the collective.
  reportAndEndJob(line, kExitTimeout);
}

void reportAndEndJob(const std::string& line, int exit_code) {
  if (::write(STDERR_FILENO, line.data(), line.size()) < 0) {
    // nowhere left to report to
  }
  dumpCollectiveLog(STDERR_FILENO);
  endJob(exit_code);
}

void endJob(int exit_code) {
  Lifeline::farewell();  // this end is reported: other hosts must not report this rank lost
  runBeforeEndJob();
  MPI_Abort(MPI_COMM_WORLD, exit_code);
  std::_Exit(exit_code);
}

void setBeforeEndJob(void (*hook)()) { g_before_end_job = hook; }

}  // namespace shardrt::comm
