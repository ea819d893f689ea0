// `shardrt dag DEPLOYMENT.json [--ranks N] [--out DIR]`: the deployment drawn without running
// it. Every rank's executor runs in one process (a thread per rank) on the meta backend and
// communicator, which compute shapes only, through the same recorders as `run --trace`; so
// the graph has the structure of a real run's, node for node. One graph per strategy the file
// names (never merged), listed in DIR/dags.json.
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
};

int dagCommand(const DagOptions& options);

}  // namespace shardrt::launch
