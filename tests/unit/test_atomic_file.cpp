// writeFileAtomically (common/atomic_file.h): a file is written whole or not at all, a failure
// names the path and the reason, and no temporary is left behind.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <stdexcept>
#include <string>

#include "common/atomic_file.h"

namespace shardrt {
namespace {

namespace fs = std::filesystem;

std::string readAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Random bytes of an odd length, so no size lines up with a buffer.
std::string randomBytes(std::size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(gen() & 0xff);
  return s;
}

class AtomicFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("shardrt_atomic_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (mounted_) ::umount(dir_.c_str());
    fs::remove_all(dir_);
  }
  // Only the destination itself: no temporary left beside it.
  std::size_t filesIn(const fs::path& dir) const {
    return static_cast<std::size_t>(std::distance(fs::directory_iterator(dir), {}));
  }
  fs::path dir_;
  bool mounted_ = false;
};

TEST_F(AtomicFile, WritesTheWholeFileAndLeavesNoTemporary) {
  const std::string bytes = randomBytes(100003, 1);
  const fs::path path = dir_ / "out.bin";
  writeFileAtomically(path, [&](std::ostream& out) { out << bytes; });
  EXPECT_EQ(readAll(path), bytes);
  EXPECT_EQ(filesIn(dir_), 1u);
}

TEST_F(AtomicFile, ReplacesAnOlderFileWhole) {
  const fs::path path = dir_ / "result.json";
  writeFileAtomically(path, [&](std::ostream& out) { out << randomBytes(5001, 2); });
  const std::string second = randomBytes(17, 3);
  writeFileAtomically(path, [&](std::ostream& out) { out << second; });
  EXPECT_EQ(readAll(path), second);
  EXPECT_EQ(filesIn(dir_), 1u);
}

TEST_F(AtomicFile, AWriterThatThrowsLeavesTheOldFile) {
  const fs::path path = dir_ / "plan.json";
  const std::string old = randomBytes(333, 4);
  writeFileAtomically(path, [&](std::ostream& out) { out << old; });
  EXPECT_THROW(writeFileAtomically(path,
                                   [&](std::ostream& out) {
                                     out << "partial";
                                     throw std::runtime_error("the writer failed");
                                   }),
               std::runtime_error);
  EXPECT_EQ(readAll(path), old);
  EXPECT_EQ(filesIn(dir_), 1u);
}

TEST_F(AtomicFile, AMissingDirectoryIsNamedWithTheReason) {
  // A regular file where a directory should be: refused even for root, unlike permissions.
  std::ofstream(dir_ / "not_a_dir") << "x";
  const fs::path path = dir_ / "not_a_dir" / "result.json";
  try {
    writeFileAtomically(path, [](std::ostream& out) { out << "{}"; });
    FAIL() << "no FileWriteError";
  } catch (const FileWriteError& e) {
    EXPECT_EQ(e.path(), path.string());
    EXPECT_NE(std::string(e.what()).find("cannot write " + path.string() + ": Not a directory"),
              std::string::npos)
        << e.what();
  }
}

TEST_F(AtomicFile, AFullFilesystemFailsAndKeepsTheOldFile) {
  // 8 KiB of tmpfs, the filesystem of issue 15's report; mounting needs root.
  if (::mount("tmpfs", dir_.c_str(), "tmpfs", 0, "size=8k") != 0) {
    GTEST_SKIP() << "cannot mount a small tmpfs here (needs root): " << std::strerror(errno);
  }
  mounted_ = true;
  const fs::path path = dir_ / "result.json";
  const std::string old = randomBytes(1001, 5);
  writeFileAtomically(path, [&](std::ostream& out) { out << old; });
  const std::string big = randomBytes(64 * 1024 + 7, 6);
  try {
    writeFileAtomically(path, [&](std::ostream& out) { out << big; });
    FAIL() << "a 64 KiB write fitted in 8 KiB";
  } catch (const FileWriteError& e) {
    EXPECT_NE(std::string(e.what()).find("No space left on device"), std::string::npos) << e.what();
  }
  EXPECT_EQ(readAll(path), old);
  EXPECT_EQ(filesIn(dir_), 1u);
}

}  // namespace
}  // namespace shardrt
