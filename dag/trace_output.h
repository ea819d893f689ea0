// What `--trace DIR` and `shardrt dag` write: every rank's trace brought to rank 0, the
// deployment graph as DIR/<name>.dot and .svg, DIR/dags.json listing the graphs with each
// GPU's load, and the Chrome/Kineto timeline (DIR/trace.json, DIR/ranks/rank<N>.trace.json).
#pragma once

#include <string>
#include <vector>

#include "comm/communicator.h"
#include "config/deployment.h"
#include "dag/deployment_graph.h"
#include "runtime/trace_event.h"

namespace shardrt::dag {

// The graph's name (the deployment's, made safe for a file name) and title line.
std::string graphName(const std::string& name);
std::string deploymentTitle(const config::Deployment& deployment, const std::string& how);

// Every rank's events, on rank 0 (empty elsewhere). Collective over `world`.
std::vector<TraceEvent> gatherTraces(comm::Communicator& world,
                                     const std::vector<TraceEvent>& mine);

// One graph's entry in dags.json.
struct DagEntry {
  std::string name, title, dot, svg, renderer;
  int gpus = 0;
  std::size_t nodes = 0, edges = 0;
  double build_seconds = 0.0, dot_seconds = 0.0, svg_seconds = 0.0;
  std::vector<GpuLoad> loads;
};

// A generation's events of round `round` (0: the prefill, then one per decode step).
std::vector<TraceEvent> roundEvents(const std::vector<TraceEvent>& events, int round);
// The tokens a round's events computed over every replica: the model input's global rows.
long roundTokens(const std::vector<TraceEvent>& round);

// Builds the graph of `events`, writes DIR/<info.name>.dot and .svg and returns its entry.
DagEntry writeDag(const std::vector<TraceEvent>& events, const GraphInfo& info,
                  const std::string& dir);

// DIR/dags.json: {"dags": [...]} with every entry.
void writeDagIndex(const std::vector<DagEntry>& entries, const std::string& dir);

}  // namespace shardrt::dag
