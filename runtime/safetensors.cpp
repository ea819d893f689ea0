#include "runtime/safetensors.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "common/errors.h"
#include "config/json_limits.h"
#include "config/size_limits.h"

namespace shardrt {
namespace {

struct DTypeInfo {
  StoredDType type;
  int bytes;
};

// Every dtype the safetensors format defines, so that a checkpoint's other tensors (int64
// buffers, fp8 weights and their scales) are indexed and skipped rather than refused.
const std::map<std::string, DTypeInfo>& dtypes() {
  static const std::map<std::string, DTypeInfo> table = {
      {"F32", {StoredDType::F32, 4}},       {"F16", {StoredDType::F16, 2}},
      {"BF16", {StoredDType::BF16, 2}},     {"F64", {StoredDType::Other, 8}},
      {"I64", {StoredDType::Other, 8}},     {"U64", {StoredDType::Other, 8}},
      {"I32", {StoredDType::Other, 4}},     {"U32", {StoredDType::Other, 4}},
      {"I16", {StoredDType::Other, 2}},     {"U16", {StoredDType::Other, 2}},
      {"I8", {StoredDType::Other, 1}},      {"U8", {StoredDType::Other, 1}},
      {"BOOL", {StoredDType::Other, 1}},    {"F8_E4M3", {StoredDType::Other, 1}},
      {"F8_E5M2", {StoredDType::Other, 1}}, {"E8M0", {StoredDType::Other, 1}}};
  return table;
}

std::uint64_t unsignedField(const nlohmann::json& v, const std::string& field) {
  if (!v.is_number_unsigned()) {
    throw ConfigError(field, "must be a non-negative integer, not " + config::brief(v));
  }
  return v.get<std::uint64_t>();
}

StoredTensor parseEntry(const std::string& name, const nlohmann::json& entry,
                        std::uint64_t data_start, std::uint64_t data_size,
                        const std::string& path) {
  const std::string field = path + ": tensor " + config::brief(name);
  if (!entry.is_object()) throw ConfigError(field, "must be an object");
  for (const auto& [key, value] : entry.items()) {
    if (key != "dtype" && key != "shape" && key != "data_offsets") {
      throw ConfigError(field, "unknown field " + config::brief(key) +
                                   " (a tensor has dtype, shape and data_offsets)");
    }
  }
  for (const char* key : {"dtype", "shape", "data_offsets"}) {
    if (!entry.contains(key)) throw ConfigError(field, std::string("has no ") + key);
  }
  StoredTensor t;
  t.name = name;
  t.path = path;
  const nlohmann::json& dtype = entry["dtype"];
  const auto known = dtype.is_string() ? dtypes().find(dtype.get<std::string>()) : dtypes().end();
  if (known == dtypes().end()) {
    throw ConfigError(field + ".dtype", config::brief(dtype) + " is not a safetensors dtype");
  }
  t.dtype_name = known->first;
  t.dtype = known->second.type;
  t.element_bytes = known->second.bytes;

  const nlohmann::json& shape = entry["shape"];
  if (!shape.is_array() || shape.size() > 8) {
    throw ConfigError(field + ".shape", "must be a list of at most 8 dimensions");
  }
  for (std::size_t i = 0; i < shape.size(); ++i) {
    const std::string dim = field + ".shape[" + std::to_string(i) + "]";
    const std::uint64_t d = unsignedField(shape[i], dim);
    if (d > static_cast<std::uint64_t>(config::kMaxTensorElements)) {
      throw ConfigError(dim, "is " + std::to_string(d) + ", above the limit of 2^38 elements");
    }
    t.shape.push_back(static_cast<std::int64_t>(d));
  }
  const std::int64_t numel = checkedElementCount(t.shape, field + ".shape");

  const nlohmann::json& offsets = entry["data_offsets"];
  if (!offsets.is_array() || offsets.size() != 2) {
    throw ConfigError(field + ".data_offsets", "must be [begin, end]");
  }
  const std::uint64_t begin = unsignedField(offsets[0], field + ".data_offsets[0]");
  const std::uint64_t end = unsignedField(offsets[1], field + ".data_offsets[1]");
  if (end < begin) throw ConfigError(field + ".data_offsets", "end is before begin");
  if (end > data_size) {
    throw ConfigError(field + ".data_offsets",
                      "end " + std::to_string(end) + " is past the data's " +
                          std::to_string(data_size) + " bytes (a truncated file?)");
  }
  // numel <= 2^38 and bytes <= 8: no overflow.
  const std::uint64_t expected = static_cast<std::uint64_t>(numel) * t.element_bytes;
  if (end - begin != expected) {
    throw ConfigError(field + ".data_offsets",
                      "span " + std::to_string(end - begin) + " bytes; shape and dtype need " +
                          std::to_string(expected));
  }
  t.offset = data_start + begin;
  t.bytes = expected;
  return t;
}

}  // namespace

std::vector<StoredTensor> parseSafetensorsHeader(std::string_view head, std::uint64_t file_size,
                                                 const std::string& path) {
  if (file_size < 8 || head.size() < 8) {
    throw ConfigError(path, "is too short to be a .safetensors file (" +
                                std::to_string(file_size) + " bytes)");
  }
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(head[i]);
  if (n > kMaxSafetensorsHeaderBytes) {
    throw ConfigError(path, "header length " + std::to_string(n) +
                                " is over the format's limit of 100000000 bytes (not a "
                                ".safetensors file?)");
  }
  if (8 + n > file_size || 8 + n > head.size()) {
    throw ConfigError(path, "the file ends inside its " + std::to_string(n) +
                                "-byte header (truncated)");
  }
  const nlohmann::json header =
      config::parseJsonLimited(head.substr(8, static_cast<std::size_t>(n)), path);
  if (!header.is_object()) throw ConfigError(path, "the header must be a JSON object");
  const std::uint64_t data_start = 8 + n, data_size = file_size - data_start;
  std::vector<StoredTensor> tensors;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) throw ConfigError(path + ": __metadata__", "must be an object");
      for (const auto& [key, value] : entry.items()) {
        if (!value.is_string()) {
          throw ConfigError(path + ": __metadata__." + config::brief(key),
                            "must be a string (the format's metadata maps strings to strings)");
        }
      }
      continue;
    }
    tensors.push_back(parseEntry(name, entry, data_start, data_size, path));
  }
  // As the format's reference reader: the tensors tile the data exactly, with no overlap (two
  // tensors sharing bytes), no hole and nothing after the last.
  std::vector<const StoredTensor*> by_offset;
  for (const StoredTensor& t : tensors) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(), [](const StoredTensor* a, const StoredTensor* b) {
    return a->offset != b->offset ? a->offset < b->offset : a->bytes < b->bytes;
  });
  std::uint64_t covered = data_start;
  for (const StoredTensor* t : by_offset) {
    if (t->offset != covered) {
      throw ConfigError(path + ": tensor " + config::brief(t->name) + ".data_offsets",
                        t->offset < covered ? "overlaps the tensor before it"
                                            : "leaves a hole after the tensor before it");
    }
    covered += t->bytes;
  }
  if (covered != file_size) {
    throw ConfigError(path, std::to_string(file_size - covered) +
                                " bytes after the last tensor's data (the format allows none)");
  }
  return tensors;
}

std::vector<StoredTensor> readSafetensorsIndex(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    throw ConfigError(path, "is not a regular file");
  }
  const std::uint64_t size = std::filesystem::file_size(path, ec);
  if (ec) throw ConfigError(path, "cannot read its size: " + ec.message());
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(path, "cannot open for reading");
  std::string head(8, '\0');
  in.read(head.data(), 8);
  if (in.gcount() == 8) {
    std::uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(head[i]);
    // Read the header only when the file holds it and the format allows its length; the
    // parser reports either problem.
    if (n <= kMaxSafetensorsHeaderBytes && 8 + n <= size) {
      head.resize(static_cast<std::size_t>(8 + n));
      in.read(head.data() + 8, static_cast<std::streamsize>(n));
      if (static_cast<std::uint64_t>(in.gcount()) != n) head.resize(8 + in.gcount());
    }
  } else {
    head.resize(static_cast<std::size_t>(in.gcount()));
  }
  return parseSafetensorsHeader(head, size, path);
}

}  // namespace shardrt
