// `shardrt dag DEPLOYMENT.json [--ranks N] [--out DIR]`: the deployment drawn without running
// it. Every rank's executor runs in one process (a thread per rank) on the meta backend and
// communicator, which compute shapes only, through the same recorders as `run --trace`; so
// the graph has the structure of a real run's, node for node. One graph per strategy the file
// names (never merged), listed in DIR/dags.json. With --generate, two per strategy: a
// generation's prefill and its first decode step (the KV cache's writes and reads as nodes),
// as `generate --trace` draws them, without running.
// `shardrt dag check FILE.dot`: the rules of docs/dag.md, one line per violation.
#pragma once

#include <string>
#include <vector>

namespace shardrt::launch {

struct DagOptions {
  std::string deployment_path;
  std::vector<std::string> overrides;
  int ranks = 0;  // 0: tp * pp * dp of each strategy; else every strategy must use this many
  std::string out_dir = "shardrt-dag";
  std::string check_path;  // `dag check FILE`
  // --generate: a generation's prefill and first decode step instead of a forward pass, every
  // request with prompt_tokens tokens (0: half of workload.seq_len).
  bool generate = false;
  int prompt_tokens = 0;
};

int dagCommand(const DagOptions& options);

}  // namespace shardrt::launch
