#include "runtime/npy.h"

#include <cstdint>
#include <cstring>
#include <fstream>
#include <stdexcept>

namespace shardrt {
namespace {

constexpr char kMagic[] = "\x93NUMPY";

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

  std::ofstream out(path, std::ios::binary);
  if (!out) throw std::runtime_error("cannot write " + path);
  out.write(kMagic, 6);
  const char version[2] = {1, 0};
  out.write(version, 2);
  const std::uint16_t len = static_cast<std::uint16_t>(header.size());
  const char len_bytes[2] = {static_cast<char>(len & 0xff), static_cast<char>(len >> 8)};
  out.write(len_bytes, 2);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(n * sizeof(float)));
  if (!out) throw std::runtime_error("short write to " + path);
}

std::vector<float> readNpy(const std::string& path, std::vector<long>* shape) {
  std::ifstream in(path, std::ios::binary);
  char magic[6];
  if (!in.read(magic, 6) || std::memcmp(magic, kMagic, 6) != 0) {
    throw std::runtime_error(path + ": not an .npy file");
  }
  char version[2], len_bytes[2];
  in.read(version, 2);
  in.read(len_bytes, 2);
  const std::size_t len =
      static_cast<unsigned char>(len_bytes[0]) | (static_cast<unsigned char>(len_bytes[1]) << 8);
  std::string header(len, '\0');
  in.read(header.data(), static_cast<std::streamsize>(len));
  if (header.find("'<f4'") == std::string::npos || header.find("False") == std::string::npos) {
    throw std::runtime_error(path + ": only C-order float32 .npy is supported");
  }
  const auto open = header.find('('), close = header.find(')');
  shape->clear();
  long n = 1;
  for (std::size_t i = open + 1; i < close;) {
    const std::size_t next = header.find_first_of(",)", i);
    const std::string tok = header.substr(i, next - i);
    if (tok.find_first_not_of(' ') != std::string::npos) {
      shape->push_back(std::stol(tok));
      n *= shape->back();
    }
    i = next + 1;
  }
  std::vector<float> data(static_cast<std::size_t>(n));
  in.read(reinterpret_cast<char*>(data.data()), static_cast<std::streamsize>(n * sizeof(float)));
  if (!in) throw std::runtime_error(path + ": truncated data");
  return data;
}

}  // namespace shardrt
