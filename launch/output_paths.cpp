#include "launch/output_paths.h"

#include "common/atomic_directory.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

namespace shardrt::launch {
namespace {

namespace fs = std::filesystem;

// Tried rather than predicted: a directory made and removed in `dir`. Permission bits and
// access() say yes to root where the filesystem says no (a read-only mount, /proc).
std::string notWritable(const fs::path& dir) {
  std::string probe = (dir / ".shardrt-probe-XXXXXX").string();
  if (mkdtemp(probe.data()) == nullptr) return std::strerror(errno);
  rmdir(probe.c_str());
  return "";
}

}  // namespace

std::string replacedDirectoryProblem(const std::string& option, const std::string& path) {
  std::string problem = outputDirectoryProblem(option, path);
  if (!problem.empty()) return problem;
  problem = replaceableDirectoryProblem(path);
  if (!problem.empty()) return option + ": " + problem;
  // The new directory is made beside it, then swapped in: its parent must take one too.
  std::error_code ec;
  const fs::path parent = fs::absolute(path, ec).parent_path();
  if (fs::exists(parent, ec)) {
    const std::string why = notWritable(parent);
    if (!why.empty()) {
      return option + ": cannot write in " + parent.string() + ", where " + path +
             " is made whole before it replaces the old one (" + why + ")";
    }
  }
  return "";
}

std::string outputDirectoryProblem(const std::string& option, const std::string& path) {
  if (path.empty()) return option + ": an empty path (give a directory)";
  std::error_code ec;
  const fs::path target = fs::absolute(path, ec);
  if (ec) return option + ": " + path + ": " + ec.message();
  const fs::file_status status = fs::status(target, ec);
  if (fs::exists(status)) {
    if (!fs::is_directory(status)) return option + ": " + path + " exists and is not a directory";
    const std::string why = notWritable(target);
    return why.empty() ? "" : option + ": cannot write in " + path + " (" + why + ")";
  }
  // Not there yet: the run creates it, inside the nearest ancestor that exists.
  fs::path ancestor = target.parent_path();
  while (!ancestor.empty() && !fs::exists(ancestor, ec)) {
    if (ancestor == ancestor.parent_path()) break;
    ancestor = ancestor.parent_path();
  }
  if (!fs::is_directory(ancestor, ec)) {
    return option + ": " + path + " cannot be created: " + ancestor.string() +
           " is not a directory";
  }
  const std::string why = notWritable(ancestor);
  return why.empty() ? ""
                     : option + ": " + path + " cannot be created in " + ancestor.string() +
                           " (" + why + ")";
}

}  // namespace shardrt::launch
