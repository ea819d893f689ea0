#include "common/atomic_directory.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <stdio.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "common/atomic_file.h"

namespace shardrt {
namespace {

namespace fs = std::filesystem;

std::string staging(const fs::path& dir) {
  static std::atomic<int> counter{0};
  return dir.string() + ".tmp." + std::to_string(getpid()) + "." + std::to_string(counter++);
}

// What identifies a file as the one a run wrote, without reading it: its size and its
// modification time in nanoseconds. A file copied in from another run (same size, other
// values) has another time; so has one rewritten in place.
struct FileStamp {
  std::uintmax_t bytes = 0;
  long long mtime_ns = 0;
  bool operator==(const FileStamp& o) const { return bytes == o.bytes && mtime_ns == o.mtime_ns; }
};

// The directory's regular files (not the marker), name -> stamp.
std::map<std::string, FileStamp> filesIn(const fs::path& dir) {
  std::map<std::string, FileStamp> files;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    const std::string name = fs::relative(entry.path(), dir).string();
    struct stat st {};
    if (name == kOutputManifest || ::stat(entry.path().c_str(), &st) != 0) continue;
    files[name] = {static_cast<std::uintmax_t>(st.st_size),
                   static_cast<long long>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec};
  }
  return files;
}

void writeManifest(const fs::path& dir) {
  nlohmann::json files = nlohmann::json::object();
  for (const auto& [name, stamp] : filesIn(dir)) {
    files[name] = {{"bytes", stamp.bytes}, {"mtime_ns", stamp.mtime_ns}};
  }
  char host[256] = "?";
  gethostname(host, sizeof host - 1);
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const nlohmann::json manifest = {
      {"written_by", "shardrt"},
      {"run", std::string(host) + ":" + std::to_string(getpid()) + ":" +
                  std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(now).count())},
      {"files", files}};
  writeFileAtomically((dir / kOutputManifest).string(),
                      [&](std::ostream& out) { out << manifest.dump(2) << "\n"; });
}

// Puts `from` in the place of `to`: one atomic exchange where the filesystem has it, else two
// renames (a reader may then briefly find no `to`, never a mix). Returns where the old `to`
// now is, to be removed; empty when there was none.
std::string swapIn(const std::string& from, const std::string& to) {
  if (!fs::exists(to)) {
    if (std::rename(from.c_str(), to.c_str()) != 0) throw FileWriteError(to, std::strerror(errno));
    return "";
  }
  if (renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_EXCHANGE) == 0) return from;
  const std::string old = staging(to);
  if (std::rename(to.c_str(), old.c_str()) != 0 || std::rename(from.c_str(), to.c_str()) != 0) {
    throw FileWriteError(to, std::strerror(errno));
  }
  return old;
}

}  // namespace

void writeDirectoryAtomically(const std::string& dir,
                              const std::function<void(const std::string& staging)>& fill) {
  fs::path target = fs::absolute(dir).lexically_normal();
  // "out/" names the directory out: without this the staging directory would be made inside
  // it ("out/.tmp...") and the swap would fail.
  if (!target.has_filename()) target = target.parent_path();
  fs::create_directories(target.parent_path());
  const std::string stage = staging(target);
  std::error_code ec;
  if (!fs::create_directory(stage, ec)) throw FileWriteError(stage, ec.message());
  try {
    fill(stage);
    writeManifest(stage);
    const std::string old = swapIn(stage, target.string());
    if (!old.empty()) fs::remove_all(old, ec);  // the earlier run's files; nothing to report
  } catch (const FileWriteError& e) {
    fs::remove_all(stage, ec);
    // Name the file as the user knows it, not by the staging directory's name.
    std::string path = e.path();
    if (path.rfind(stage, 0) == 0) path = target.string() + path.substr(stage.size());
    throw FileWriteError(path, e.reason());
  } catch (...) {
    fs::remove_all(stage, ec);
    throw;
  }
}

std::string replaceableDirectoryProblem(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec) || fs::is_empty(dir, ec)) return "";
  if (fs::is_regular_file(fs::path(dir) / kOutputManifest, ec)) return "";
  return dir + " holds files shardrt did not write (no " + std::string(kOutputManifest) +
         "): give a new or empty directory, or remove them";
}

std::string directoryManifestProblem(const std::string& dir) {
  const fs::path manifest_path = fs::path(dir) / kOutputManifest;
  std::error_code ec;
  if (!fs::is_regular_file(manifest_path, ec)) return "";
  nlohmann::json manifest;
  try {
    std::ifstream in(manifest_path);
    manifest = nlohmann::json::parse(in).at("files");
  } catch (const std::exception&) {
    return manifest_path.string() + " is not a manifest shardrt wrote (unreadable)";
  }
  const auto files = filesIn(dir);
  for (const auto& [name, stamp] : files) {
    if (!manifest.contains(name)) {
      return name + " is not one of the files the run that wrote " + dir +
             " wrote (another run's, or put there since)";
    }
    FileStamp listed;
    try {
      listed = {manifest[name].at("bytes").get<std::uintmax_t>(),
                manifest[name].at("mtime_ns").get<long long>()};
    } catch (const std::exception&) {
      return std::string(kOutputManifest) + " in " + dir + " lists " + name + " unreadably";
    }
    if (!(listed == stamp)) {
      return name + " has changed since the run that wrote " + dir +
             " wrote it (another size or modification time: copied in or rewritten)";
    }
  }
  for (const auto& [name, bytes] : manifest.items()) {
    if (!files.count(name)) return name + " is missing: the run that wrote " + dir + " wrote it";
  }
  return "";
}

}  // namespace shardrt
