// Fuzzes the Hugging Face config.json reader (model.hf_config; config/hf_config.h): a config
// comes from whoever published the checkpoint. What it accepts is then held to the deployment's
// rules and size limits with a small workload, as `run` would. ConfigError is the expected
// answer to a bad file; anything else is a finding.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/errors.h"
#include "config/deployment.h"
#include "config/hf_config.h"
#include "config/json_limits.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace shardrt;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    config::Deployment d;
    d.model = config::modelFromHfConfig(config::parseJsonLimited(text, "fuzz.json"), "fuzz.json");
    d.workload.batch_size = 2;
    d.workload.seq_len = 7;
    config::checkRules(d);
  } catch (const ConfigError&) {
  }
  return 0;
}
