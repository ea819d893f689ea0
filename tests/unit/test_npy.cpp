// .npy files round-trip, their header is the one NumPy's format 1.0 specifies, and the reader
// takes what NumPy writes (versions 1 to 3, '<f4' and '<f2') and nothing else: every other
// header is one ConfigError naming the file and the rule.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <tuple>

#include "common/errors.h"
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

// magic, version, little-endian header length (2 bytes in version 1, 4 in 2 and 3), header.
std::string npyBytes(const std::string& header, int version = 1, const std::string& data = "") {
  std::string s = "\x93NUMPY";
  s += static_cast<char>(version);
  s += '\0';
  const int width = version == 1 ? 2 : 4;
  for (int i = 0; i < width; ++i) s += static_cast<char>((header.size() >> (8 * i)) & 0xff);
  return s + header + data;
}

std::string errorOf(const std::string& bytes) {
  try {
    parseNpyHeader(bytes, bytes.size(), "x.npy", "x");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(Npy, ReadsVersionTwoAndFloat16) {
  // 2 x 3 halves: 1, -2, 0.5, 65504, 2^-24, 0 (bits written by hand).
  const std::uint16_t bits[6] = {0x3C00, 0xC000, 0x3800, 0x7BFF, 0x0001, 0x0000};
  std::string data(12, '\0');
  std::memcpy(data.data(), bits, 12);
  const std::string bytes =
      npyBytes("{'descr': '<f2', 'fortran_order': False, 'shape': (2, 3), }\n", 2, data);
  const auto path = std::filesystem::temp_directory_path() / "shardrt_test_npy_f16.npy";
  std::ofstream(path, std::ios::binary) << bytes;
  std::vector<long> shape;
  const std::vector<float> got = readNpy(path.string(), &shape);
  EXPECT_EQ(shape, (std::vector<long>{2, 3}));
  EXPECT_EQ(got, (std::vector<float>{1.0f, -2.0f, 0.5f, 65504.0f, std::ldexp(1.0f, -24), 0.0f}));
  std::filesystem::remove(path);
}

TEST(Npy, EveryBrokenRuleIsOneConfigError) {
  const std::string ok = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n";
  const std::string data(8, 'x');
  const std::vector<std::tuple<const char*, std::string, const char*>> cases = {
      {"empty", "", "not an .npy file"},
      {"no magic", "GIF89a and more bytes", "not an .npy file"},
      {"version 9", npyBytes(ok, 9, data), "format version 9"},
      {"header past the end", npyBytes(ok, 1).substr(0, 40), "ends inside its .npy header"},
      {"header over 64 KiB", npyBytes(std::string(70000, ' '), 2), "header length 70000 is over"},
      {"data truncated", npyBytes(ok, 1, "xxxx"), "holds 4 bytes of data; its shape needs 8"},
      {"big-endian", npyBytes("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", 1, data),
       "dtype '>f4'"},
      {"float64", npyBytes("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", 1, data),
       "dtype '<f8'"},
      {"Fortran order", npyBytes("{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }", 1, data),
       "Fortran order"},
      {"missing shape", npyBytes("{'descr': '<f4', 'fortran_order': False}", 1, data),
       "needs descr, fortran_order and shape"},
      {"repeated key",
       npyBytes("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", 1, data),
       "unexpected or repeated key 'descr'"},
      {"unknown key", npyBytes("{'descr': '<f4', 'x': 1}", 1, data), "unexpected or repeated key 'x'"},
      {"negative dimension",
       npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,)}", 1, data),
       "expected a dimension"},
      {"10^12 elements",
       npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000, 1000000)}", 1, data),
       "more than 2^38 elements"},
      {"a 30-digit dimension",
       npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (999999999999999999999999999999,)}",
                1, data),
       "a dimension is too large"},
      {"nine dimensions",
       npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1)}", 1, data),
       "more than 8 dimensions"},
      {"unterminated string", npyBytes("{'descr: <f4}", 1, data), "unterminated string"},
      {"code, not a literal", npyBytes("{'descr': __import__('os')}", 1, data),
       "expected a quoted string"},
      {"text after the dict", npyBytes(ok + "junk", 1, data), "text after the header's dict"},
  };
  for (const auto& [what, bytes, message] : cases) {
    const std::string got = errorOf(bytes);
    EXPECT_NE(got.find(message), std::string::npos)
        << what << ": got \"" << got << "\", expected it to contain \"" << message << "\"";
    EXPECT_EQ(got.find('\n'), std::string::npos) << what << ": not one line";
  }
  EXPECT_EQ(errorOf(npyBytes(ok, 1, data)), "");  // the valid one parses
}

}  // namespace
}  // namespace shardrt
