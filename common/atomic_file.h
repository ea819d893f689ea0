// Every file shardrt writes goes through writeFileAtomically: the bytes are made in memory, go
// to a temporary name in the destination's directory with every write() checked, and only
// then is it renamed over the destination. A reader, or a later run, sees the old file or the whole
// new one, never a partial one; a write that fails (a full disk, a missing or unwritable directory)
// throws FileWriteError naming the path and the system's reason, and leaves no temporary behind.
#pragma once

#include <functional>
#include <ostream>
#include <stdexcept>
#include <string>

namespace shardrt {

class FileWriteError : public std::runtime_error {
 public:
  FileWriteError(const std::string& path, const std::string& reason)
      : std::runtime_error("cannot write " + path + ": " + reason), path_(path), reason_(reason) {}
  const std::string& path() const { return path_; }
  const std::string& reason() const { return reason_; }

 private:
  std::string path_;
  std::string reason_;
};

// Writes what `write` puts on the stream to `path`, whole or not at all. An exception from
// `write` itself leaves `path` as it was (nothing is opened before it returns) and is passed on.
void writeFileAtomically(const std::string& path, const std::function<void(std::ostream&)>& write);

}  // namespace shardrt
