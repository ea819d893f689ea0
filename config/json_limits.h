// JSON read with limits (issue 7, hostile input): every JSON file shardrt reads (deployment,
// condition file, hardware profile) goes through here, so that a huge file, a deeply nested
// one, a duplicate key or a file that is not a regular file ends in one ConfigError naming the
// file (and the key path) and the rule, never in a crash or an allocation of the file's size.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace shardrt::config {

// The largest deployment is a few KiB and the largest profile a few tens: 64 MiB leaves room
// for generated files with long expert_loads lists and bounds what a hostile file can cost.
inline constexpr std::size_t kMaxJsonBytes = std::size_t{64} << 20;
// Real files nest 4 deep (planner.expert_loads[i][j]); the cap bounds the parser's stack of
// open containers and nlohmann's recursive dump() of what it built.
inline constexpr int kMaxJsonDepth = 64;

// Parses text as one JSON value. Errors are ConfigError(source, rule): malformed JSON (with
// nlohmann's line and column), text over kMaxJsonBytes, nesting over kMaxJsonDepth, and a key
// given twice in one object (nlohmann would silently keep the last), named by its path:
// `model.hidden: is given twice in one object`.
nlohmann::json parseJsonLimited(std::string_view text, const std::string& source);

// Reads the file at path (what: "deployment file", "hardware profile") and parses it as above.
// Refuses what is not a regular file (a FIFO or /dev/zero would block or never end) and reads
// at most kMaxJsonBytes + 1 bytes, so a huge file is never held in memory.
nlohmann::json readJsonFile(const std::string& path, const std::string& what);

// A value as errors quote it: dumped on one line (control characters escaped) and cut to
// about 80 characters, so a 60 MB string in the wrong field gives a one-line message.
std::string brief(const nlohmann::json& value);

}  // namespace shardrt::config
