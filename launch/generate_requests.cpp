#include "launch/generate_requests.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/errors.h"

namespace shardrt::launch {
namespace {

using nlohmann::json;

std::vector<std::int32_t> idsOf(const json& v, const std::string& field) {
  if (!v.is_array() || v.empty()) {
    throw ConfigError(field, "must be a non-empty list of token ids");
  }
  std::vector<std::int32_t> ids;
  for (const json& id : v) {
    if (!id.is_number_integer() || id.get<long long>() < 0 || id.get<long long>() > 2147483647) {
      throw ConfigError(field, "token ids must be integers from 0, got " + id.dump());
    }
    ids.push_back(id.get<std::int32_t>());
  }
  return ids;
}

std::vector<GenerationRequest> fromFile(const std::string& path, int max_new_tokens) {
  std::ifstream in(path);
  if (!in) throw ConfigError("--prompts", path + ": cannot be read");
  json doc;
  try {
    doc = json::parse(in);
  } catch (const json::parse_error& e) {
    throw ConfigError("--prompts", path + ": not JSON (" + e.what() + ")");
  }
  const bool listed = doc.is_array();
  if (!listed && !(doc.is_object() && doc.contains("requests") && doc.size() == 1)) {
    throw ConfigError("--prompts", path + ": must be {\"requests\": [...]} or a list of lists");
  }
  const json& list = listed ? doc : doc.at("requests");
  if (!list.is_array() || list.empty()) {
    throw ConfigError("--prompts", path + ": requests must be a non-empty list");
  }
  std::vector<GenerationRequest> requests;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string field = "--prompts " + path + " requests[" + std::to_string(i) + "]";
    GenerationRequest r{{}, max_new_tokens};
    if (listed) {
      r.prompt = idsOf(list[i], field);
    } else {
      const json& item = list[i];
      if (!item.is_object() || !item.contains("tokens")) {
        throw ConfigError(field, "must be an object with tokens (and max_new_tokens)");
      }
      for (const auto& [key, value] : item.items()) {
        if (key != "tokens" && key != "max_new_tokens") {
          throw ConfigError(field + "." + key, "unknown field (tokens, max_new_tokens)");
        }
      }
      r.prompt = idsOf(item.at("tokens"), field + ".tokens");
      if (item.contains("max_new_tokens")) {
        const json& n = item.at("max_new_tokens");
        if (!n.is_number_integer() || n.get<long long>() < 1 || n.get<long long>() > 1 << 24) {
          throw ConfigError(field + ".max_new_tokens",
                            "must be a positive integer, got " + n.dump());
        }
        r.max_new_tokens = n.get<int>();
      }
    }
    requests.push_back(std::move(r));
  }
  return requests;
}

std::vector<std::int32_t> fromText(const std::string& text, std::size_t index) {
  const std::string field = "--prompt #" + std::to_string(index + 1);
  json list = json::array();
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    try {
      std::size_t used = 0;
      const long long id = std::stoll(item, &used);
      while (used < item.size() && item[used] == ' ') ++used;
      if (used != item.size()) throw std::invalid_argument(item);
      list.push_back(id);
    } catch (const std::exception&) {
      throw ConfigError(field, "must be token ids separated by commas, got \"" + item + "\"");
    }
  }
  return idsOf(list, field);
}

}  // namespace

std::vector<GenerationRequest> readRequests(const std::string& prompts_path,
                                            const std::vector<std::string>& inline_prompts,
                                            int max_new_tokens) {
  if (prompts_path.empty() == inline_prompts.empty()) {
    throw ConfigError("--prompts", "give the prompts either as --prompts FILE or as --prompt");
  }
  if (!prompts_path.empty()) return fromFile(prompts_path, max_new_tokens);
  std::vector<GenerationRequest> requests;
  for (std::size_t i = 0; i < inline_prompts.size(); ++i) {
    requests.push_back({fromText(inline_prompts[i], i), max_new_tokens});
  }
  return requests;
}

void checkRequests(const config::Deployment& d, const std::vector<GenerationRequest>& requests) {
  const config::ModelConfig& m = d.model;
  if (m.vocab == 0) {
    throw ConfigError("model.vocab_size",
                      "generate needs the vocabulary (and the embedding and LM head it sizes)");
  }
  if (!m.causal) throw ConfigError("model.causal", "generate decodes causally; must be true");
  if (!m.moe.dropless()) {
    throw ConfigError("model.moe.capacity_factor",
                      "generate routes every token (a decode step's sequence is one token, "
                      "so a capacity per sequence has no meaning); leave it out");
  }
  const int batch = d.workload.batch_size, context = d.workload.seq_len;
  if (static_cast<int>(requests.size()) > batch) {
    throw ConfigError("requests", std::to_string(requests.size()) +
                                      " prompts exceed workload.batch_size " +
                                      std::to_string(batch) + " (the KV cache's sequences)");
  }
  for (std::size_t i = 0; i < requests.size(); ++i) {
    const GenerationRequest& r = requests[i];
    const std::string field = "requests[" + std::to_string(i) + "]";
    for (std::int32_t id : r.prompt) {
      if (id >= m.vocab) {
        throw ConfigError(field + ".tokens", "token id " + std::to_string(id) +
                                                 " is outside the vocabulary (vocab_size " +
                                                 std::to_string(m.vocab) + ")");
      }
    }
    if (r.max_new_tokens < 1) {
      throw ConfigError(field + ".max_new_tokens",
                        "must be at least 1, got " + std::to_string(r.max_new_tokens));
    }
    const long need = static_cast<long>(r.prompt.size()) + r.max_new_tokens;
    if (need > context) {
      throw ConfigError(field, "prompt " + std::to_string(r.prompt.size()) + " + max_new_tokens " +
                                   std::to_string(r.max_new_tokens) + " = " + std::to_string(need) +
                                   " tokens exceed workload.seq_len " + std::to_string(context) +
                                   " (the KV cache's context)");
    }
  }
}

}  // namespace shardrt::launch
