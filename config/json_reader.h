// Strict reading of one JSON object: each accessor names the field by its dotted path in the
// error, wrong types and non-positive sizes are refused, and finish() rejects any field that
// nobody read (a misspelt "hiden" is an error, not a silently ignored key).
#pragma once

#include <initializer_list>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

namespace shardrt::config {

class JsonReader {
 public:
  // obj must outlive the reader. path is the object's own dotted path ("" for the root).
  JsonReader(const nlohmann::json& obj, std::string path);

  bool has(const std::string& key) const;
  std::string field(const std::string& key) const;  // dotted path of key

  int positiveInt(const std::string& key);
  int positiveInt(const std::string& key, int fallback);
  int nonNegativeInt(const std::string& key, int fallback);
  // A list of non-negative integers; a list of such lists.
  std::vector<int> intList(const std::string& key);
  std::vector<std::vector<int>> intLists(const std::string& key);
  double positiveNumber(const std::string& key);
  double positiveNumber(const std::string& key, double fallback);
  bool boolean(const std::string& key, bool fallback);
  std::string string(const std::string& key);
  std::string string(const std::string& key, const std::string& fallback);
  std::string oneOf(const std::string& key, std::initializer_list<const char*> choices);
  std::string oneOf(const std::string& key, std::initializer_list<const char*> choices,
                    const std::string& fallback);
  std::uint64_t unsignedInt(const std::string& key, std::uint64_t fallback);
  JsonReader object(const std::string& key);  // required sub-object
  // A required field as raw JSON, for shapes no accessor above reads; the caller checks it.
  const nlohmann::json& value(const std::string& key) { return get(key); }
  // A required, non-empty list of objects, each read strictly (paths "key[i]").
  std::vector<JsonReader> objects(const std::string& key);

  // A field another reader owns (the planner's sections of a deployment): neither read here
  // nor refused by finish().
  void skip(const std::string& key);
  void finish() const;  // throws on fields that were never read

 private:
  const nlohmann::json& get(const std::string& key);
  const nlohmann::json* obj_;
  std::string path_;
  std::set<std::string> read_;
  mutable std::set<std::string> known_;  // every key asked about, listed when one is unknown
};

}  // namespace shardrt::config
