#include "config/json_reader.h"

#include <cmath>
#include <limits>

#include "common/errors.h"
#include "config/json_limits.h"

namespace shardrt::config {
namespace {

std::string typeName(const nlohmann::json& v) { return v.type_name(); }

}  // namespace

JsonReader::JsonReader(const nlohmann::json& obj, std::string path)
    : obj_(&obj), path_(std::move(path)) {
  if (!obj.is_object()) {
    throw ConfigError(path_.empty() ? "deployment" : path_,
                      "must be a JSON object, got " + typeName(obj));
  }
}

bool JsonReader::has(const std::string& key) const {
  known_.insert(key);
  return obj_->contains(key);
}

std::string JsonReader::field(const std::string& key) const {
  return path_.empty() ? key : path_ + "." + key;
}

const nlohmann::json& JsonReader::get(const std::string& key) {
  known_.insert(key);
  auto it = obj_->find(key);
  if (it == obj_->end()) throw ConfigError(field(key), "required field is missing");
  read_.insert(key);
  return *it;
}

int JsonReader::positiveInt(const std::string& key) {
  const auto& v = get(key);
  if (!v.is_number_integer()) {
    throw ConfigError(field(key), "must be an integer, got " + typeName(v) + " " + brief(v));
  }
  // Above 2^63 - 1 the value is only readable as unsigned: as long long, 2^64 - 1 read -1 and
  // was reported as "must be positive, got -1". The messages quote the file's own number.
  if (v.is_number_unsigned() &&
      v.get<unsigned long long>() >
          static_cast<unsigned long long>(std::numeric_limits<int>::max())) {
    throw ConfigError(field(key), "must be at most 2^31-1, got " + brief(v));
  }
  const auto x = v.get<long long>();
  if (x <= 0) throw ConfigError(field(key), "must be positive, got " + brief(v));
  if (x > std::numeric_limits<int>::max()) {
    throw ConfigError(field(key), "must be at most 2^31-1, got " + brief(v));
  }
  return static_cast<int>(x);
}

int JsonReader::positiveInt(const std::string& key, int fallback) {
  return has(key) ? positiveInt(key) : fallback;
}

int JsonReader::nonNegativeInt(const std::string& key, int fallback) {
  if (!has(key)) return fallback;
  const auto& v = get(key);
  if (!v.is_number_integer() || v.get<long long>() < 0 ||
      v.get<long long>() > std::numeric_limits<int>::max()) {
    throw ConfigError(field(key), "must be a non-negative integer, got " + brief(v));
  }
  return v.get<int>();
}

namespace {

std::vector<int> readIntArray(const nlohmann::json& v, const std::string& where) {
  if (!v.is_array()) throw ConfigError(where, "must be a list of integers, got " + brief(v));
  std::vector<int> out;
  for (const auto& x : v) {
    if (!x.is_number_integer() || x.get<long long>() < 0 ||
        x.get<long long>() > std::numeric_limits<int>::max()) {
      throw ConfigError(where, "must hold non-negative integers, got " + brief(x));
    }
    out.push_back(x.get<int>());
  }
  return out;
}

}  // namespace

std::vector<int> JsonReader::intList(const std::string& key) {
  return readIntArray(get(key), field(key));
}

std::vector<std::vector<int>> JsonReader::intLists(const std::string& key) {
  const auto& v = get(key);
  if (!v.is_array()) throw ConfigError(field(key), "must be a list of lists, got " + brief(v));
  std::vector<std::vector<int>> out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    out.push_back(readIntArray(v[i], field(key) + "[" + std::to_string(i) + "]"));
  }
  return out;
}

double JsonReader::positiveNumber(const std::string& key, double fallback) {
  return has(key) ? positiveNumber(key) : fallback;
}

double JsonReader::positiveNumber(const std::string& key) {
  const auto& v = get(key);
  if (!v.is_number()) throw ConfigError(field(key), "must be a number, got " + typeName(v));
  const double x = v.get<double>();
  if (!(x > 0.0) || !std::isfinite(x)) {
    throw ConfigError(field(key), "must be a positive finite number, got " + brief(v));
  }
  return x;
}

bool JsonReader::boolean(const std::string& key, bool fallback) {
  if (!has(key)) return fallback;
  const auto& v = get(key);
  if (!v.is_boolean()) {
    throw ConfigError(field(key), "must be true or false, got " + typeName(v) + " " + brief(v));
  }
  return v.get<bool>();
}

std::string JsonReader::string(const std::string& key) {
  const auto& v = get(key);
  if (!v.is_string()) {
    throw ConfigError(field(key), "must be a string, got " + typeName(v) + " " + brief(v));
  }
  return v.get<std::string>();
}

std::string JsonReader::string(const std::string& key, const std::string& fallback) {
  return has(key) ? string(key) : fallback;
}

std::string JsonReader::oneOf(const std::string& key, std::initializer_list<const char*> choices) {
  const std::string s = string(key);
  std::string listed;
  for (const char* c : choices) {
    if (s == c) return s;
    listed += listed.empty() ? "" : " | ";
    listed += c;
  }
  throw ConfigError(field(key), "must be one of " + listed + ", got " + brief(nlohmann::json(s)));
}

std::string JsonReader::oneOf(const std::string& key, std::initializer_list<const char*> choices,
                              const std::string& fallback) {
  return has(key) ? oneOf(key, choices) : fallback;
}

std::uint64_t JsonReader::unsignedInt(const std::string& key, std::uint64_t fallback) {
  if (!has(key)) return fallback;
  const auto& v = get(key);
  if (!v.is_number_integer() ||
      (v.is_number_integer() && !v.is_number_unsigned() && v.get<long long>() < 0)) {
    throw ConfigError(field(key), "must be a non-negative integer, got " + brief(v));
  }
  return v.get<std::uint64_t>();
}

JsonReader JsonReader::object(const std::string& key) { return JsonReader(get(key), field(key)); }

std::vector<JsonReader> JsonReader::objects(const std::string& key) {
  const auto& v = get(key);
  if (!v.is_array() || v.empty()) {
    throw ConfigError(field(key), "must be a non-empty list of objects, got " +
                                      (v.is_array() ? std::string("an empty list") : typeName(v)));
  }
  std::vector<JsonReader> out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    out.emplace_back(v[i], field(key) + "[" + std::to_string(i) + "]");
  }
  return out;
}

void JsonReader::skip(const std::string& key) {
  known_.insert(key);
  if (obj_->contains(key)) read_.insert(key);
}

void JsonReader::finish() const {
  for (auto it = obj_->begin(); it != obj_->end(); ++it) {
    if (read_.count(it.key())) continue;
    std::string listed;
    for (const auto& k : known_) listed += (listed.empty() ? "" : ", ") + k;
    throw ConfigError(field(it.key()), "unknown field (known here: " + listed + ")");
  }
}

}  // namespace shardrt::config
