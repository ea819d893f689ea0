#include "common/error_report.h"

#include <unistd.h>

#include <string>

namespace shardrt {

void reportError(int rank, std::string_view message) {
  std::string line = "shardrt: rank " + std::to_string(rank) + ": error: ";
  line.append(message);
  line += '\n';
  // stderr is unbuffered: one write keeps the line whole next to other ranks' lines.
  const ssize_t written = ::write(STDERR_FILENO, line.data(), line.size());
  (void)written;  // nowhere left to report a failed write to stderr
}

}  // namespace shardrt
