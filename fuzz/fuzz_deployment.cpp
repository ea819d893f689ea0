// Fuzzes what `shardrt run`, `dag` and `plan` read from a deployment or condition file: the
// JSON with its limits, parseDeployment (every field and rule, the size limits) and the
// planner's sections (cluster, objective, planner). ConfigError is the expected answer to a
// bad file; anything else escaping, a crash or a sanitizer report is a finding.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/errors.h"
#include "config/deployment.h"
#include "config/json_limits.h"
#include "planner/cluster.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace shardrt;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const nlohmann::json doc = config::parseJsonLimited(text, "fuzz.json");
    const config::Deployment d = config::parseDeployment(doc, "fuzz");
    for (const auto& s : d.strategies) config::withStrategy(d, s.name);
    // Profiles named by the seed corpus's condition files resolve from examples/plan.
    planner::planningInputOf(doc, SHARDRT_FUZZ_BASE_DIR, d);
  } catch (const ConfigError&) {
  }
  return 0;
}
