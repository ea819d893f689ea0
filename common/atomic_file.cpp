#include "common/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sstream>

namespace shardrt {
namespace {

// Writes all of `bytes` to `fd`; 0, or the errno of the call that failed.
int writeAll(int fd, const std::string& bytes) {
  const char* p = bytes.data();
  std::size_t left = bytes.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  return 0;
}

}  // namespace

void writeFileAtomically(const std::string& path, const std::function<void(std::ostream&)>& write) {
  // The bytes are made in memory first, so that a write() that fails says why in its own
  // errno (a stream's failure does not keep it), and a writer that throws touches no file.
  std::ostringstream buffer;
  write(buffer);
  const std::string bytes = std::move(buffer).str();

  // Beside the destination, so the rename stays inside one filesystem; unique per process and
  // call, so two writers of one path never share a temporary.
  static std::atomic<unsigned> calls{0};
  const std::string temp =
      path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(calls.fetch_add(1));
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) throw FileWriteError(path, std::strerror(errno));
  int error = writeAll(fd, bytes);
  if (::close(fd) != 0 && error == 0) error = errno;
  if (error == 0 && std::rename(temp.c_str(), path.c_str()) != 0) error = errno;
  if (error != 0) {
    std::remove(temp.c_str());
    throw FileWriteError(path, std::strerror(error));
  }
}

}  // namespace shardrt
