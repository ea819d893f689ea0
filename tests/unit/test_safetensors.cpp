// The .safetensors reader: a valid header is indexed entry by entry, every rule of the format
// is enforced with a ConfigError naming the file and the rule, and slices read back the stored
// values widened to fp32 (F32, F16, BF16), whole rows or a column range of each row.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/bfloat16.h"
#include "common/errors.h"
#include "runtime/safetensors.h"
#include "tests/test_util.h"

namespace shardrt {
namespace {

std::string lengthPrefix(std::uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return s;
}

// A file as the format lays it out: length, header text, then `data` bytes.
std::string fileOf(const std::string& header, const std::string& data) {
  return lengthPrefix(header.size()) + header + data;
}

std::vector<StoredTensor> parse(const std::string& bytes) {
  return parseSafetensorsHeader(bytes, bytes.size(), "t.safetensors");
}

// The message of the ConfigError parsing `bytes` throws (empty if it parses).
std::string errorOf(const std::string& bytes) {
  try {
    parse(bytes);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(Safetensors, IndexesEveryEntryAndSkipsMetadata) {
  const std::string header = R"({"__metadata__": {"format": "pt"},
    "a": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
    "b": {"dtype": "BF16", "shape": [5], "data_offsets": [24, 34]},
    "ids": {"dtype": "I64", "shape": [1, 2], "data_offsets": [34, 50]}})";
  const auto tensors = parse(fileOf(header, std::string(50, 'x')));
  ASSERT_EQ(tensors.size(), 3u);
  std::map<std::string, StoredTensor> by_name;
  for (const auto& t : tensors) by_name[t.name] = t;
  const std::uint64_t data_start = 8 + header.size();
  EXPECT_EQ(by_name["a"].dtype, StoredDType::F32);
  EXPECT_EQ(by_name["a"].shape, (std::vector<std::int64_t>{2, 3}));
  EXPECT_EQ(by_name["a"].offset, data_start);
  EXPECT_EQ(by_name["b"].dtype, StoredDType::BF16);
  EXPECT_EQ(by_name["b"].offset, data_start + 24);
  EXPECT_EQ(by_name["b"].bytes, 10u);
  EXPECT_EQ(by_name["ids"].dtype, StoredDType::Other);  // indexed, refused only when needed
  EXPECT_EQ(by_name["ids"].dtype_name, "I64");
  EXPECT_EQ(by_name["ids"].element_bytes, 8);
}

struct BadFile {
  const char* what;
  std::string bytes;
  const char* message;  // a part of the error's text
};

std::vector<BadFile> badFiles() {
  const std::string ok_entry = R"("dtype": "F32", "shape": [2], "data_offsets": [0, 8])";
  auto one = [](const std::string& entry) { return fileOf(R"({"w": {)" + entry + "}}", std::string(8, 'x')); };
  std::string deep = std::string(100, '[') + std::string(100, ']');
  return {
      {"empty", "", "too short to be a .safetensors file"},
      {"short", "abc", "too short"},
      {"header over 100 MB", lengthPrefix(std::uint64_t{1} << 40) + "{}",
       "over the format's limit"},
      {"header past the end", lengthPrefix(100) + "{}", "ends inside its 100-byte header"},
      {"not JSON", fileOf("{not json", ""), "t.safetensors"},
      {"JSON not an object", fileOf("[1, 2]", ""), "must be a JSON object"},
      {"deep JSON", fileOf(deep, ""), "t.safetensors"},
      {"duplicate name", fileOf(R"({"w": {)" + ok_entry + R"(}, "w": {)" + ok_entry + "}}",
                                std::string(8, 'x')),
       "given twice"},
      {"entry not an object", fileOf(R"({"w": 3})", ""), "must be an object"},
      {"metadata not an object", fileOf(R"({"__metadata__": [1]})", ""), "must be an object"},
      {"unknown field", one(ok_entry + R"(, "scale": 2)"), "unknown field \"scale\""},
      {"no dtype", one(R"("shape": [2], "data_offsets": [0, 8])"), "has no dtype"},
      {"no shape", one(R"("dtype": "F32", "data_offsets": [0, 8])"), "has no shape"},
      {"no offsets", one(R"("dtype": "F32", "shape": [2])"), "has no data_offsets"},
      {"unknown dtype", one(R"("dtype": "F7", "shape": [2], "data_offsets": [0, 8])"),
       "is not a safetensors dtype"},
      {"dtype not a string", one(R"("dtype": 4, "shape": [2], "data_offsets": [0, 8])"),
       "is not a safetensors dtype"},
      {"shape not a list", one(R"("dtype": "F32", "shape": 2, "data_offsets": [0, 8])"),
       "must be a list"},
      {"negative dimension", one(R"("dtype": "F32", "shape": [-2], "data_offsets": [0, 8])"),
       "non-negative integer"},
      {"fractional dimension", one(R"("dtype": "F32", "shape": [2.5], "data_offsets": [0, 8])"),
       "non-negative integer"},
      {"10^12 elements", one(R"("dtype": "F32", "shape": [1000000, 1000000], "data_offsets": [0, 8])"),
       "more than 2^38 elements"},
      {"a dimension of 2^64 - 1",
       one(R"("dtype": "F32", "shape": [18446744073709551615], "data_offsets": [0, 8])"),
       "is 18446744073709551615, above the limit of 2^38 elements"},
      {"offsets not a pair", one(R"("dtype": "F32", "shape": [2], "data_offsets": [0])"),
       "must be [begin, end]"},
      {"end before begin", one(R"("dtype": "F32", "shape": [2], "data_offsets": [8, 0])"),
       "end is before begin"},
      {"end past the data", one(R"("dtype": "F32", "shape": [4], "data_offsets": [0, 16])"),
       "past the data's 8 bytes"},
      {"two tensors on the same bytes",
       fileOf(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                  "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})", std::string(8, 'x')),
       "tensor \"b\".data_offsets: overlaps the tensor before it"},
      {"a hole between tensors",
       fileOf(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
                  "b": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]}})", std::string(12, 'x')),
       "tensor \"b\".data_offsets: leaves a hole after the tensor before it"},
      {"bytes after the last tensor", one(ok_entry) + "tail", "4 bytes after the last tensor's data"},
      {"metadata value not a string", fileOf(R"({"__metadata__": {"format": 1}})", ""),
       "__metadata__.\"format\": must be a string"},
      {"bytes do not match the shape",
       one(R"("dtype": "F32", "shape": [1], "data_offsets": [0, 8])"),
       "span 8 bytes; shape and dtype need 4"},
  };
}

TEST(Safetensors, EveryBrokenRuleIsOneConfigError) {
  for (const BadFile& bad : badFiles()) {
    const std::string message = errorOf(bad.bytes);
    EXPECT_NE(message.find(bad.message), std::string::npos)
        << bad.what << ": got \"" << message << "\", expected it to contain \"" << bad.message
        << "\"";
    EXPECT_EQ(message.find('\n'), std::string::npos) << bad.what << ": not one line";
  }
}

// A real file on disk: a 5 x 7 tensor in each dtype, from the same random values.
class SafetensorsSlices : public ::testing::Test {
 protected:
  void SetUp() override {
    values_ = testing::randomVector(rows_ * cols_, 11);
    std::string data;
    nlohmann::json header = nlohmann::json::object();
    auto add = [&](const std::string& name, const char* dtype, const std::string& bytes) {
      header[name] = {{"dtype", dtype},
                      {"shape", {rows_, cols_}},
                      {"data_offsets", {data.size(), data.size() + bytes.size()}}};
      data += bytes;
    };
    std::string f32(values_.size() * 4, '\0'), bf16(values_.size() * 2, '\0');
    std::memcpy(f32.data(), values_.data(), f32.size());
    for (std::size_t i = 0; i < values_.size(); ++i) {
      const bfloat16 b = toBfloat16(values_[i]);
      std::memcpy(bf16.data() + 2 * i, &b.bits, 2);
    }
    // F16: values that are exact in half precision (k/64 for |k| < 64), with known bits.
    std::string f16(values_.size() * 2, '\0');
    for (std::size_t i = 0; i < values_.size(); ++i) {
      const int k = static_cast<int>(std::lround(values_[i] * 63));
      halves_.push_back(static_cast<float>(k) / 64.0f);
      const std::uint16_t bits = halfBits(k);
      std::memcpy(f16.data() + 2 * i, &bits, 2);
    }
    add("f32", "F32", f32);
    add("bf16", "BF16", bf16);
    add("f16", "F16", f16);
    path_ = (std::filesystem::temp_directory_path() / "shardrt_test_slices.safetensors").string();
    std::ofstream(path_, std::ios::binary) << fileOf(header.dump(), data);
    for (auto& t : readSafetensorsIndex(path_)) tensors_[t.name] = t;
  }
  void TearDown() override { std::filesystem::remove(path_); }

  // Half bits of k / 64 for an integer |k| < 64, built by hand: sign, exponent, mantissa.
  static std::uint16_t halfBits(int k) {
    if (k == 0) return 0;
    const std::uint16_t sign = k < 0 ? 0x8000 : 0;
    int m = std::abs(k), e = 0;
    while (m >= 2) {  // k/64 = m' * 2^(e-6) with m' in [1, 2)
      ++e;
      m >>= 1;
    }
    const int exponent = e - 6 + 15;
    const int mantissa = (std::abs(k) << (10 - e)) & 0x3FF;
    return static_cast<std::uint16_t>(sign | (exponent << 10) | mantissa);
  }

  std::vector<float> expected(const std::vector<float>& all, config::Range rows,
                              config::Range cols) const {
    std::vector<float> out;
    for (int r = rows.begin; r < rows.end; ++r)
      for (int c = cols.begin; c < cols.end; ++c) out.push_back(all[r * cols_ + c]);
    return out;
  }

  const int rows_ = 5, cols_ = 7;
  std::vector<float> values_, halves_;
  std::string path_;
  std::map<std::string, StoredTensor> tensors_;
};

TEST_F(SafetensorsSlices, ReadTheStoredValuesWidenedToFp32) {
  std::vector<float> bf16_values;
  for (float v : values_) bf16_values.push_back(toFloat(toBfloat16(v)));
  const std::vector<std::pair<std::string, const std::vector<float>*>> cases = {
      {"f32", &values_}, {"bf16", &bf16_values}, {"f16", &halves_}};
  // Whole, a row range (one contiguous read), a column range (one read per row), a corner.
  const std::vector<std::pair<config::Range, config::Range>> slices = {
      {{0, 5}, {0, 7}}, {{1, 4}, {0, 7}}, {{0, 5}, {2, 5}}, {{4, 5}, {6, 7}}};
  for (const auto& [name, want] : cases) {
    for (const auto& [rows, cols] : slices) {
      EXPECT_EQ(readStoredSlice(tensors_.at(name), {rows, cols}), expected(*want, rows, cols))
          << name << " rows " << rows.begin << ".." << rows.end << " cols " << cols.begin << ".."
          << cols.end;
    }
  }
}

TEST_F(SafetensorsSlices, AFileTruncatedAfterIndexingFailsOnRead) {
  std::filesystem::resize_file(path_, std::filesystem::file_size(path_) - 3);
  EXPECT_THROW(readStoredSlice(tensors_.at("f16"), {{0, 5}, {0, 7}}), ConfigError);
  EXPECT_THROW(readSafetensorsIndex(path_), ConfigError);  // reopening sees it at once
}

// A slice larger than the reader's 8 MiB chunk is read in several chunks, the last partial.
TEST(StoredTensor, ASliceLargerThanOneChunkIsReadWhole) {
  const int rows = 2101, cols = 1103;  // 9.3 MB of F32
  const std::vector<float> values = testing::randomVector(std::size_t{rows} * cols, 5);
  std::string data(values.size() * 4, '\0');
  std::memcpy(data.data(), values.data(), data.size());
  const std::string header = nlohmann::json{{"big", {{"dtype", "F32"},
                                                     {"shape", {rows, cols}},
                                                     {"data_offsets", {0, data.size()}}}}}
                                 .dump();
  const auto path = std::filesystem::temp_directory_path() / "shardrt_test_big.safetensors";
  std::ofstream(path, std::ios::binary) << fileOf(header, data);
  const StoredTensor t = readSafetensorsIndex(path.string()).at(0);
  const std::vector<float> got = readStoredSlice(t, {{1, rows}, {0, cols}});
  EXPECT_EQ(got, std::vector<float>(values.begin() + cols, values.end()));
  std::filesystem::remove(path);
}

TEST(StoredTensor, HalfToFloatCoversEveryClass) {
  EXPECT_EQ(halfToFloat(0x3C00), 1.0f);
  EXPECT_EQ(halfToFloat(0xC000), -2.0f);
  EXPECT_EQ(halfToFloat(0x7BFF), 65504.0f);                       // largest normal
  EXPECT_EQ(halfToFloat(0x0400), std::ldexp(1.0f, -14));          // smallest normal
  EXPECT_EQ(halfToFloat(0x0001), std::ldexp(1.0f, -24));          // smallest subnormal
  EXPECT_EQ(halfToFloat(0x03FF), std::ldexp(1023.0f, -24));       // largest subnormal
  EXPECT_EQ(halfToFloat(0x8000), -0.0f);
  EXPECT_TRUE(std::signbit(halfToFloat(0x8000)));
  EXPECT_EQ(halfToFloat(0x7C00), INFINITY);
  EXPECT_EQ(halfToFloat(0xFC00), -INFINITY);
  EXPECT_TRUE(std::isnan(halfToFloat(0x7E00)));
}

}  // namespace
}  // namespace shardrt
