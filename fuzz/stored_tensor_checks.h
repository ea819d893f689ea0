// What the checkpoint fuzzers (fuzz_safetensors, fuzz_npy) do with a file their parser
// accepted: hold the index to its promise (runtime/stored_tensor.h). Every tensor's bytes lie
// inside the file's data, so reading any slice of a F32/F16/BF16 tensor succeeds and gives
// the file's bytes widened to fp32. The input is written once to a per-process temp file and
// each small 1-D or 2-D tensor is read back whole, by a row range and by a column range (one
// read per row), and compared bit for bit with the bytes decoded here, independently of
// readStoredSlice. A read that fails or differs, or a tensor outside the file, is a finding.
#pragma once

#include <unistd.h>

#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "common/errors.h"
#include "runtime/stored_tensor.h"

namespace shardrt::fuzzing {

// Tensors of up to this many elements are read back; larger ones are only index-checked.
constexpr std::int64_t kMaxReadElements = std::int64_t{1} << 16;

// The fuzz target's name, for its messages and its temp file; each target defines it.
extern const char* const kFuzzTarget;

[[noreturn]] inline void finding(const StoredTensor& t, const std::string& what) {
  std::fprintf(stderr, "%s: FINDING: tensor '%s' (%s, offset %llu, %llu bytes): %s\n", kFuzzTarget,
               t.name.c_str(), t.dtype_name.c_str(), static_cast<unsigned long long>(t.offset),
               static_cast<unsigned long long>(t.bytes), what.c_str());
  std::abort();
}

// The file an accepted input is written to, removed when the process exits normally.
struct TempFile {
  std::string path;
  TempFile() {
    const char* dir = std::getenv("TMPDIR");
    path = std::string(dir && *dir ? dir : "/tmp") + "/" + kFuzzTarget + "." +
           std::to_string(getpid()) + ".bin";
  }
  ~TempFile() { std::remove(path.c_str()); }
  void write(const std::uint8_t* data, std::size_t size) const {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (!f || (size && std::fwrite(data, 1, size, f) != size) || std::fclose(f) != 0) {
      std::perror(path.c_str());
      std::abort();  // the harness's own failure, not the parser's
    }
  }
};

// Element i of t, decoded from the file's bytes here (independently of readStoredSlice), as
// the fp32 bit pattern.
inline std::uint32_t expectedBits(const StoredTensor& t, const std::uint8_t* data, std::uint64_t i) {
  const std::uint8_t* p = data + t.offset + i * static_cast<std::uint64_t>(t.element_bytes);
  switch (t.dtype) {
    case StoredDType::F32:
      return std::uint32_t{p[0]} | std::uint32_t{p[1]} << 8 | std::uint32_t{p[2]} << 16 |
             std::uint32_t{p[3]} << 24;
    case StoredDType::BF16:
      return (std::uint32_t{p[0]} | std::uint32_t{p[1]} << 8) << 16;
    case StoredDType::F16: {
      const float f = halfToFloat(static_cast<std::uint16_t>(p[0] | p[1] << 8));
      std::uint32_t u;
      std::memcpy(&u, &f, sizeof u);
      return u;
    }
    case StoredDType::Other:
      break;
  }
  std::abort();
}

inline void readAndCompare(const StoredTensor& t, const std::uint8_t* data, config::Range rows,
                           config::Range cols) {
  const bool two_d = t.shape.size() == 2;
  std::vector<config::Range> slice;
  if (two_d) slice.push_back(rows);
  slice.push_back(cols);
  std::vector<float> got;
  try {
    got = readStoredSlice(t, slice);
  } catch (const ConfigError& e) {
    finding(t, std::string("reading an in-bounds slice of an accepted tensor failed: ") + e.what());
  }
  const std::int64_t width = t.shape.back();
  const std::size_t want = static_cast<std::size_t>(rows.size()) * cols.size();
  if (got.size() != want) {
    finding(t, "read " + std::to_string(got.size()) + " values, expected " + std::to_string(want));
  }
  // A zero-element slice may still have a dimension of 2^31 - 1: nothing to compare, and walking
  // its rows one by one is what the fuzzer's 10 s timeout once caught (shape (1998042490, 0)).
  if (want == 0) return;
  std::size_t k = 0;
  for (int r = rows.begin; r < rows.end; ++r) {
    for (int c = cols.begin; c < cols.end; ++c, ++k) {
      const std::uint64_t i = static_cast<std::uint64_t>(r) * width + c;
      std::uint32_t bits;
      std::memcpy(&bits, &got[k], sizeof bits);
      if (bits != expectedBits(t, data, i)) {
        finding(t, "value [" + std::to_string(r) + ", " + std::to_string(c) + "] differs from the file");
      }
    }
  }
}

inline void exercise(const StoredTensor& t, const std::uint8_t* data, std::size_t size,
              std::uint64_t data_start, const TempFile& file, bool* written) {
  // What the header check promises before any read.
  const std::int64_t numel = t.numel();
  if (numel < 0 || t.bytes != static_cast<std::uint64_t>(numel) * t.element_bytes ||
      t.offset < data_start || t.offset > size || t.bytes > size - t.offset || t.path != "fuzz") {
    finding(t, "the index describes bytes outside the file's data");
  }
  if (t.shape.empty() || t.shape.size() > 2 || numel > kMaxReadElements) return;
  for (std::int64_t d : t.shape) {
    if (d > INT_MAX) return;  // a zero-element tensor may have one huge dimension
  }
  StoredTensor on_disk = t;
  on_disk.path = file.path;
  const bool two_d = t.shape.size() == 2;
  const int n_rows = two_d ? static_cast<int>(t.shape[0]) : 1;
  const int n_cols = static_cast<int>(t.shape.back());
  if (t.dtype == StoredDType::Other) {
    std::vector<config::Range> whole;
    for (std::int64_t d : t.shape) whole.push_back({0, static_cast<int>(d)});
    try {
      readStoredSlice(on_disk, whole);
    } catch (const ConfigError&) {
      return;
    }
    finding(t, "a tensor of dtype " + t.dtype_name + " was read as weights");
  }
  if (!*written) {
    file.write(data, size);
    *written = true;
  }
  readAndCompare(on_disk, data, {0, n_rows}, {0, n_cols});  // whole: one contiguous read
  if (two_d && n_rows > 1) readAndCompare(on_disk, data, {1, n_rows}, {0, n_cols});  // rows
  if (n_cols > 1) readAndCompare(on_disk, data, {0, n_rows}, {1, n_cols});  // a row at a time
}

}  // namespace shardrt::fuzzing
