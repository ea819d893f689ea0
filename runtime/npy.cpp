#include "runtime/npy.h"

#include <cctype>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <stdexcept>

#include "common/atomic_file.h"
#include "common/errors.h"

namespace shardrt {
namespace {

constexpr char kMagic[] = "\x93NUMPY";

// The header is a Python dict literal, e.g.
//   {'descr': '<f4', 'fortran_order': False, 'shape': (3, 5), }
// This reads exactly that grammar: string keys, and values that are a string, True/False, or
// a tuple of integers. Nothing is evaluated.
class NpyHeaderParser {
 public:
  NpyHeaderParser(std::string_view text, const std::string& path) : s_(text), path_(path) {}

  void parse(std::string* descr, bool* fortran_order, std::vector<std::int64_t>* shape) {
    bool have_descr = false, have_order = false, have_shape = false;
    expect('{');
    while (true) {
      skipSpace();
      if (peek() == '}') break;
      const std::string key = quoted();
      expect(':');
      skipSpace();
      if (key == "descr" && !have_descr) {
        *descr = quoted();
        have_descr = true;
      } else if (key == "fortran_order" && !have_order) {
        *fortran_order = boolean();
        have_order = true;
      } else if (key == "shape" && !have_shape) {
        *shape = tuple();
        have_shape = true;
      } else {
        fail("unexpected or repeated key '" + key.substr(0, 40) + "'");
      }
      skipSpace();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() != '}') fail("expected ',' or '}'");
    }
    ++pos_;
    skipSpace();
    if (pos_ != s_.size()) fail("text after the header's dict");
    if (!have_descr || !have_order || !have_shape) {
      fail("the header needs descr, fortran_order and shape");
    }
  }

 private:
  [[noreturn]] void fail(const std::string& why) const {
    throw ConfigError(path_, "malformed .npy header at byte " + std::to_string(pos_) + ": " + why);
  }
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  void skipSpace() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\n' || s_[pos_] == '\t')) ++pos_;
  }
  void expect(char c) {
    skipSpace();
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++pos_;
  }
  std::string quoted() {
    skipSpace();
    const char quote = peek();
    if (quote != '\'' && quote != '"') fail("expected a quoted string");
    const std::size_t end = s_.find(quote, pos_ + 1);
    if (end == std::string_view::npos) fail("unterminated string");
    std::string out(s_.substr(pos_ + 1, end - pos_ - 1));
    pos_ = end + 1;
    return out;
  }
  bool boolean() {
    if (s_.substr(pos_, 4) == "True") {
      pos_ += 4;
      return true;
    }
    if (s_.substr(pos_, 5) == "False") {
      pos_ += 5;
      return false;
    }
    fail("expected True or False");
  }
  std::vector<std::int64_t> tuple() {
    std::vector<std::int64_t> dims;
    expect('(');
    while (true) {
      skipSpace();
      if (peek() == ')') break;
      if (!std::isdigit(static_cast<unsigned char>(peek()))) fail("expected a dimension");
      std::int64_t d = 0;
      while (std::isdigit(static_cast<unsigned char>(peek()))) {
        // Bounded well above any real dimension and far below overflow; the element count is
        // checked against the tensor cap afterwards.
        if (d > (std::int64_t{1} << 50)) fail("a dimension is too large");
        d = d * 10 + (s_[pos_++] - '0');
      }
      dims.push_back(d);
      if (dims.size() > 8) fail("more than 8 dimensions");
      skipSpace();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() != ')') fail("expected ',' or ')'");
    }
    ++pos_;
    return dims;
  }

  std::string_view s_;
  const std::string& path_;
  std::size_t pos_ = 0;
};

std::uint64_t littleEndian(std::string_view bytes) {
  std::uint64_t v = 0;
  for (std::size_t i = bytes.size(); i-- > 0;) v = (v << 8) | static_cast<unsigned char>(bytes[i]);
  return v;
}

}  // namespace

void writeNpy(const std::string& path, const float* data, const std::vector<long>& shape) {
  std::string dims;
  long n = 1;
  for (long d : shape) {
    dims += (dims.empty() ? "" : ", ") + std::to_string(d);
    n *= d;
  }
  if (shape.size() == 1) dims += ",";  // a Python 1-tuple: (3,)
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";
  // The data must start on a 64-byte boundary: magic(6) + version(2) + length(2) + header.
  const std::size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';

  writeFileAtomically(path, [&](std::ostream& out) {
    out.write(kMagic, 6);
    const char version[2] = {1, 0};
    out.write(version, 2);
    const std::uint16_t len = static_cast<std::uint16_t>(header.size());
    const char len_bytes[2] = {static_cast<char>(len & 0xff), static_cast<char>(len >> 8)};
    out.write(len_bytes, 2);
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(n * sizeof(float)));
  });
}

StoredTensor parseNpyHeader(std::string_view head, std::uint64_t file_size,
                            const std::string& path, const std::string& name) {
  if (head.size() < 10 || head.substr(0, 6) != std::string_view(kMagic, 6)) {
    throw ConfigError(path, "is not an .npy file (no \\x93NUMPY magic)");
  }
  const int major = static_cast<unsigned char>(head[6]);
  if (major < 1 || major > 3) {
    throw ConfigError(path, ".npy format version " + std::to_string(major) +
                                " (versions 1 to 3 are known)");
  }
  // Version 1 has a 2-byte header length, versions 2 and 3 a 4-byte one.
  const std::size_t prefix = major == 1 ? 10 : 12;
  if (head.size() < prefix) throw ConfigError(path, "the file ends inside its .npy preamble");
  const std::uint64_t len = littleEndian(head.substr(8, prefix - 8));
  if (len > kMaxNpyHeaderBytes) {
    throw ConfigError(path, ".npy header length " + std::to_string(len) + " is over " +
                                std::to_string(kMaxNpyHeaderBytes) + " bytes");
  }
  if (prefix + len > file_size || prefix + len > head.size()) {
    throw ConfigError(path, "the file ends inside its .npy header (truncated)");
  }
  std::string descr;
  bool fortran_order = false;
  StoredTensor t;
  NpyHeaderParser(head.substr(prefix, static_cast<std::size_t>(len)), path)
      .parse(&descr, &fortran_order, &t.shape);
  if (descr == "<f4") {
    t.dtype = StoredDType::F32;
    t.dtype_name = "F32";
    t.element_bytes = 4;
  } else if (descr == "<f2") {
    t.dtype = StoredDType::F16;
    t.dtype_name = "F16";
    t.element_bytes = 2;
  } else {
    throw ConfigError(path, "dtype '" + descr.substr(0, 20) +
                                "': shardrt reads little-endian float32 ('<f4') and float16 "
                                "('<f2') .npy files");
  }
  if (fortran_order) throw ConfigError(path, "is in Fortran order; shardrt reads C order");
  const std::int64_t numel = checkedElementCount(t.shape, path + ": shape");
  t.name = name;
  t.path = path;
  t.offset = prefix + len;
  t.bytes = static_cast<std::uint64_t>(numel) * static_cast<std::uint64_t>(t.element_bytes);
  if (t.offset + t.bytes > file_size) {
    throw ConfigError(path, "holds " + std::to_string(file_size - t.offset) +
                                " bytes of data; its shape needs " + std::to_string(t.bytes) +
                                " (truncated)");
  }
  return t;
}

StoredTensor readNpyIndex(const std::string& path, const std::string& name) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) throw ConfigError(path, "is not a regular file");
  const std::uint64_t size = std::filesystem::file_size(path, ec);
  if (ec) throw ConfigError(path, "cannot read its size: " + ec.message());
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(path, "cannot open for reading");
  std::string head(static_cast<std::size_t>(std::min<std::uint64_t>(size, 12 + kMaxNpyHeaderBytes)),
                   '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<std::size_t>(in.gcount()));
  return parseNpyHeader(head, size, path, name);
}

std::vector<float> readNpy(const std::string& path, std::vector<long>* shape) {
  const StoredTensor t = readNpyIndex(path, std::filesystem::path(path).stem().string());
  for (std::int64_t d : t.shape) {
    if (d > std::numeric_limits<int>::max()) {
      throw ConfigError(path, "a dimension of " + std::to_string(d) + " is over 2^31 - 1");
    }
  }
  if (t.shape.empty() || t.shape.size() > 2) {
    // readStoredSlice reads 1-D and 2-D tensors; a 3-D one (an activation) is read as
    // (rows, last dimension).
    std::vector<std::int64_t> flat = {1, 1};
    for (std::size_t i = 0; i + 1 < t.shape.size(); ++i) flat[0] *= t.shape[i];
    if (!t.shape.empty()) flat[1] = t.shape.back();
    if (flat[0] > std::numeric_limits<int>::max()) {
      throw ConfigError(path, "more than 2^31 - 1 rows before the last dimension");
    }
    StoredTensor viewed = t;
    viewed.shape = flat;
    shape->assign(t.shape.begin(), t.shape.end());
    return readStoredSlice(viewed, {{0, static_cast<int>(flat[0])}, {0, static_cast<int>(flat[1])}});
  }
  shape->assign(t.shape.begin(), t.shape.end());
  std::vector<config::Range> whole;
  for (std::int64_t d : t.shape) whole.push_back({0, static_cast<int>(d)});
  return readStoredSlice(t, whole);
}

}  // namespace shardrt
