// Error types that cross layers, and the exit codes they map to.
#pragma once

#include <stdexcept>
#include <string>

namespace shardrt {

// Exit codes of the shardrt command.
inline constexpr int kExitOk = 0;
inline constexpr int kExitValidationFailed = 1;  // ran, but the result is wrong
inline constexpr int kExitBadInput = 2;          // the deployment or the command line is invalid
inline constexpr int kExitInternal = 3;          // anything else: a library call failed, a bug
inline constexpr int kExitTimeout = 4;           // a collective waited past --timeout

// Bad user input: names the offending field (dotted path, e.g. "model.heads") and the rule
// it breaks, so that the one-line message tells the user what to change.
class ConfigError : public std::runtime_error {
 public:
  ConfigError(std::string field, std::string rule)
      : std::runtime_error(field + ": " + rule), field_(std::move(field)), rule_(std::move(rule)) {}
  const std::string& field() const { return field_; }
  const std::string& rule() const { return rule_; }

 private:
  std::string field_;
  std::string rule_;
};

// A checkpoint's values that no model should hold (NaN, Inf), found by the rank that read
// them. Only that rank knows (each reads its own slices), so it ends the job itself: exit 2,
// bad input, rather than the internal error other exceptions there become.
class BadWeightValuesError : public ConfigError {
 public:
  using ConfigError::ConfigError;
};

// A failed MPI or NCCL call, or a collective used wrongly (MPI_CHECK, NCCL_CHECK, comm/).
class CommError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace shardrt
