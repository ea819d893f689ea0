// What `shardrt generate` is asked to do: the prompts (token ids from --prompts FILE or
// --prompt "1,2,3"), how many tokens each may add, and whether the deployment can serve them.
// Every refusal names the value and the limit, before any work.
#pragma once

#include <string>
#include <vector>

#include "config/deployment.h"
#include "runtime/generation_executor.h"

namespace shardrt::launch {

// --prompts FILE: {"requests": [{"tokens": [ids], "max_new_tokens": n}, ...]} (max_new_tokens
// optional), or a plain list of lists of ids. --prompt: "1,2,3" each. max_new_tokens: the
// default for requests that do not give theirs. Throws ConfigError naming the field.
std::vector<GenerationRequest> readRequests(const std::string& prompts_path,
                                            const std::vector<std::string>& inline_prompts,
                                            int max_new_tokens);

// The deployment can generate for these requests: a vocabulary, a causal model, no expert
// capacity, at most workload.batch_size requests, each prompt's ids within the vocabulary and
// prompt + max_new_tokens within workload.seq_len (the KV cache's context). Throws ConfigError.
void checkRequests(const config::Deployment& deployment,
                   const std::vector<GenerationRequest>& requests);

}  // namespace shardrt::launch
