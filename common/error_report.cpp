#include "common/error_report.h"

#include <unistd.h>

#include <string>

#include "common/rank_label.h"

namespace shardrt {

void reportError(int rank, std::string_view message) {
  std::string line = "shardrt: " + rankName(rank) + ": error: ";
  // One line, whatever the message quotes: a control character (a newline or an escape
  // sequence in a name or a path) is written as \xNN, so no input can forge a line of its own.
  for (const char c : message) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      static const char kHex[] = "0123456789abcdef";
      line += "\\x";
      line += kHex[u >> 4];
      line += kHex[u & 15];
    } else {
      line += c;
    }
  }
  line += '\n';
  // stderr is unbuffered: one write keeps the line whole next to other ranks' lines.
  const ssize_t written = ::write(STDERR_FILENO, line.data(), line.size());
  (void)written;  // nowhere left to report a failed write to stderr
}

}  // namespace shardrt
