// .npy files round-trip, and their header is the one NumPy's format 1.0 specifies.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "runtime/npy.h"
#include "tests/test_util.h"

namespace shardrt {
namespace {

TEST(Npy, RoundTripsShapeAndData) {
  const auto path = std::filesystem::temp_directory_path() / "shardrt_test_npy.npy";
  for (const std::vector<long>& shape : {std::vector<long>{7}, std::vector<long>{3, 5, 2}}) {
    long n = 1;
    for (long d : shape) n *= d;
    const auto data = testing::randomVector(static_cast<std::size_t>(n), 3);
    writeNpy(path.string(), data.data(), shape);
    std::vector<long> got_shape;
    EXPECT_EQ(readNpy(path.string(), &got_shape), data);
    EXPECT_EQ(got_shape, shape);
  }
  std::filesystem::remove(path);
}

TEST(Npy, HeaderIsFormatOneAlignedTo64) {
  const auto path = std::filesystem::temp_directory_path() / "shardrt_test_npy_header.npy";
  const std::vector<float> data = {1, 2, 3};
  writeNpy(path.string(), data.data(), {3});
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_GE(bytes.size(), 10u);
  EXPECT_EQ(bytes.substr(0, 6), "\x93NUMPY");
  EXPECT_EQ(bytes[6], 1);
  const std::size_t header_len =
      static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
  EXPECT_EQ((10 + header_len) % 64, 0u);
  EXPECT_NE(bytes.find("'shape': (3,)"), std::string::npos);
  EXPECT_EQ(bytes.size(), 10 + header_len + 3 * sizeof(float));
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace shardrt
