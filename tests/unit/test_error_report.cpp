// reportError writes one line whatever the message holds: control characters (a newline, an
// escape sequence from a name or a path) come out as \xNN (issue 15, item 9).
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "common/error_report.h"
#include "common/rank_label.h"

namespace shardrt {
namespace {

// What reportError writes to stderr, caught through a pipe.
std::string reported(int rank, const std::string& message) {
  int fds[2];
  EXPECT_EQ(pipe(fds), 0);
  const int saved = dup(STDERR_FILENO);
  dup2(fds[1], STDERR_FILENO);
  reportError(rank, message);
  dup2(saved, STDERR_FILENO);
  close(saved);
  close(fds[1]);
  std::string out;
  char buf[512];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;)
    out.append(buf, static_cast<std::size_t>(n));
  close(fds[0]);
  return out;
}

// "shardrt: rank R on HOST: error: ", this process's host before the host table is set.
std::string prefix(int rank) {
  return "shardrt: rank " + std::to_string(rank) + " on " + thisHost() + ": error: ";
}

TEST(ErrorReport, OneLineWithTheRankAndItsHost) {
  EXPECT_EQ(reported(3, "--out: x exists and is not a directory"),
            prefix(3) + "--out: x exists and is not a directory\n");
}

TEST(ErrorReport, ControlCharactersCannotForgeALine) {
  EXPECT_EQ(reported(0, "a\nshardrt: rank 1: error: forged\x1b[2J\x7f"),
            prefix(0) + "a\\x0ashardrt: rank 1: error: forged\\x1b[2J\\x7f\n");
}

TEST(ErrorReport, Utf8PassesUnchanged) {
  EXPECT_EQ(reported(0, "caf\xc3\xa9"), prefix(0) + "caf\xc3\xa9\n");
}

// In a job across hosts, each rank is named with the host the gathered table gives it.
TEST(ErrorReport, RanksAreNamedWithTheirHosts) {
  EXPECT_FALSE(thisHost().empty());
  EXPECT_EQ(thisHost().find_first_of(" \n\t"), std::string::npos);
  setRankHosts({"node0", "node0", "node1"});
  EXPECT_EQ(hostCount(), 2);
  EXPECT_EQ(rankName(2), "rank 2 on node1");
  EXPECT_EQ(reported(1, "x"), "shardrt: rank 1 on node0: error: x\n");
  setThisRank(2);
  EXPECT_STREQ(thisRankPrefix(), "shardrt: rank 2 on node1");
  setRankHosts({});
  EXPECT_EQ(hostCount(), 1);
}

}  // namespace
}  // namespace shardrt
