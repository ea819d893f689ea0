// A model from a Hugging Face config.json (issue 16, item 1): a deployment may say
//   "model": { "hf_config": "path/to/config.json" }
// and shardrt derives the model from the file the checkpoint came with. Every key is accounted
// for: read into the model, checked to hold a value whose math shardrt implements, listed as
// not used by the layers shardrt runs (the vocabulary, the LM head's tying, the storage dtype),
// or refused with a ConfigError naming the key and its value. A key shardrt does not know is
// refused too: it may change the math, and nothing that may is ignored. docs/config.md,
// "A model from its config.json", lists each family's keys.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "config/deployment.h"

namespace shardrt::config {

// `config` is the parsed file, `path` how errors name it. Throws ConfigError.
ModelConfig modelFromHfConfig(const nlohmann::json& config, const std::string& path);

}  // namespace shardrt::config
