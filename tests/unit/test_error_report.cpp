// reportError writes one line whatever the message holds: control characters (a newline, an
// escape sequence from a name or a path) come out as \xNN (issue 15, item 9).
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "common/error_report.h"

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
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) out.append(buf, static_cast<std::size_t>(n));
  close(fds[0]);
  return out;
}

TEST(ErrorReport, OneLineWithTheRank) {
  EXPECT_EQ(reported(3, "--out: x exists and is not a directory"),
            "shardrt: rank 3: error: --out: x exists and is not a directory\n");
}

TEST(ErrorReport, ControlCharactersCannotForgeALine) {
  EXPECT_EQ(reported(0, "a\nshardrt: rank 1: error: forged\x1b[2J\x7f"),
            "shardrt: rank 0: error: a\\x0ashardrt: rank 1: error: forged\\x1b[2J\\x7f\n");
}

TEST(ErrorReport, Utf8PassesUnchanged) {
  EXPECT_EQ(reported(0, "caf\xc3\xa9"), "shardrt: rank 0: error: caf\xc3\xa9\n");
}

}  // namespace
}  // namespace shardrt
