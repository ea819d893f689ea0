#include "dag/trace_output.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "common/atomic_file.h"
#include "dag/dag_render.h"
#include "runtime/tracer.h"

namespace shardrt::dag {
namespace {

using nlohmann::json;

json shapeJson(const Shape& s) {
  json dims = json::array();
  for (const auto& d : s.dims()) dims.push_back({d.name, d.size, d.global});
  return dims;
}

Shape shapeFrom(const json& j) {
  std::vector<Dim> dims;
  for (const auto& d : j)
    dims.emplace_back(d[0].get<std::string>(), d[1].get<std::int64_t>(), d[2].get<std::int64_t>());
  return Shape(dims);
}

json refsJson(const std::vector<TensorRef>& refs) {
  json out = json::array();
  for (const auto& r : refs) out.push_back({r.address, r.bytes, shapeJson(r.shape)});
  return out;
}

std::vector<TensorRef> refsFrom(const json& j) {
  std::vector<TensorRef> out;
  for (const auto& r : j) {
    out.push_back({r[0].get<std::uint64_t>(), r[1].get<std::uint64_t>(), shapeFrom(r[2])});
  }
  return out;
}

json eventJson(const TraceEvent& e) {
  return {e.rank,
          e.seq,
          static_cast<int>(e.kind),
          e.op,
          e.name,
          e.layer,
          e.expert,
          e.microbatch,
          refsJson(e.inputs),
          refsJson(e.weights),
          refsJson(e.outputs),
          e.start_us,
          e.end_us,
          e.flops,
          e.bytes,
          e.group,
          e.group_ranks,
          e.group_seq,
          e.peer,
          e.mask,
          e.round};
}

TraceEvent eventFrom(const json& j) {
  TraceEvent e;
  e.rank = j[0];
  e.seq = j[1];
  e.kind = static_cast<OpKind>(j[2].get<int>());
  e.op = j[3];
  e.name = j[4];
  e.layer = j[5];
  e.expert = j[6];
  e.microbatch = j[7];
  e.inputs = refsFrom(j[8]);
  e.weights = refsFrom(j[9]);
  e.outputs = refsFrom(j[10]);
  e.start_us = j[11];
  e.end_us = j[12];
  e.flops = j[13];
  e.bytes = j[14];
  e.group = j[15];
  e.group_ranks = j[16].get<std::vector<int>>();
  e.group_seq = j[17];
  e.peer = j[18];
  e.mask = j[19];
  e.round = j[20];
  return e;
}

double secondsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

std::string graphName(const std::string& name) {
  std::string out;
  for (char c : name)
    out += std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' ? c : '_';
  return out.empty() ? "deployment" : out;
}

std::string deploymentTitle(const config::Deployment& deployment, const std::string& how) {
  const auto& m = deployment.model;
  const auto& s = deployment.strategy;
  std::string t = deployment.name + ": " + std::to_string(m.layers) + " layers, hidden " +
                  std::to_string(m.hidden) + ", heads " + std::to_string(m.heads) + " (kv " +
                  std::to_string(m.kv_heads) + ")";
  if (m.moe.experts > 0) {
    t += ", " + std::to_string(m.moe.experts) + " experts top-" + std::to_string(m.moe.top_k);
  }
  t += "; batch " + std::to_string(deployment.workload.batch_size) + " x seq " +
       std::to_string(deployment.workload.seq_len) + "; tp " + std::to_string(s.tp) + ", pp " +
       std::to_string(s.pp) + ", ep " + std::to_string(s.ep) + ", dp " + std::to_string(s.dp) +
       ", microbatches " + std::to_string(s.microbatches) + " = " +
       std::to_string(s.tp * s.pp * s.dp) + " GPUs; " + how;
  return t;
}

std::vector<TraceEvent> gatherTraces(comm::Communicator& world,
                                     const std::vector<TraceEvent>& mine) {
  // Each rank's events as MessagePack, padded to whole int32 words (the Communicator's
  // smallest type), sizes first.
  json list = json::array();
  for (const auto& e : mine) list.push_back(eventJson(e));
  std::vector<std::uint8_t> bytes = json::to_msgpack(list);
  const std::int32_t size = static_cast<std::int32_t>(bytes.size());
  bytes.resize((bytes.size() + 3) / 4 * 4);
  std::vector<std::int32_t> sizes(world.size());
  world.allGather(&size, sizes.data(), 1, DType::I32);
  std::vector<std::size_t> words(world.size());
  std::size_t total = 0;
  for (int r = 0; r < world.size(); ++r) total += words[r] = (sizes[r] + 3) / 4;
  std::vector<std::int32_t> all(world.rank() == 0 ? total : 0);
  world.gatherV(bytes.data(), all.data(), words, DType::I32, 0);
  std::vector<TraceEvent> events;
  if (world.rank() != 0) return events;
  const auto* base = reinterpret_cast<const std::uint8_t*>(all.data());
  std::size_t offset = 0;
  for (int r = 0; r < world.size(); ++r) {
    const json j = json::from_msgpack(base + offset, base + offset + sizes[r]);
    for (const auto& e : j) events.push_back(eventFrom(e));
    offset += words[r] * 4;
  }
  return events;
}

DagEntry writeDag(const std::vector<TraceEvent>& events, const GraphInfo& info,
                  const std::string& dir) {
  std::filesystem::create_directories(dir);
  DagEntry entry;
  entry.name = info.name;
  entry.title = info.title;
  entry.gpus = info.gpus;
  auto t0 = std::chrono::steady_clock::now();
  const DeploymentGraph graph = buildDeploymentGraph(events, info);
  entry.build_seconds = secondsSince(t0);
  entry.nodes = graph.nodes.size();
  entry.edges = graph.edges.size();
  entry.loads = gpuLoads(graph, events);

  entry.dot = dir + "/" + info.name + ".dot";
  entry.svg = dir + "/" + info.name + ".svg";
  t0 = std::chrono::steady_clock::now();
  writeFileAtomically(entry.dot, [&](std::ostream& out) { writeDot(graph, out); });
  entry.dot_seconds = secondsSince(t0);
  t0 = std::chrono::steady_clock::now();
  entry.renderer = renderSvg(graph, entry.dot, entry.svg);
  entry.svg_seconds = secondsSince(t0);
  return entry;
}

void writeDagIndex(const std::vector<DagEntry>& entries, const std::string& dir) {
  json dags = json::array();
  for (const auto& e : entries) {
    json per_gpu = json::array();
    double max_nodes = 0, max_flops = 0, max_bytes = 0, sum_nodes = 0, sum_flops = 0, sum_bytes = 0;
    for (const auto& l : e.loads) {
      per_gpu.push_back({{"gpu", l.gpu},
                         {"compute_nodes", l.compute_nodes},
                         {"flops", l.flops},
                         {"weight_bytes", l.weight_bytes}});
      max_nodes = std::max(max_nodes, static_cast<double>(l.compute_nodes));
      max_flops = std::max(max_flops, l.flops);
      max_bytes = std::max(max_bytes, l.weight_bytes);
      sum_nodes += static_cast<double>(l.compute_nodes);
      sum_flops += l.flops;
      sum_bytes += l.weight_bytes;
    }
    const double n = std::max<std::size_t>(1, e.loads.size());
    auto ratio = [&](double mx, double sum) { return sum > 0 ? mx / (sum / n) : 1.0; };
    dags.push_back(
        {{"name", e.name},
         {"title", e.title},
         // Names beside dags.json, not paths: the folder may be moved (or, for a traced
         // run, written under a staging name and then swapped in whole).
         {"dot", std::filesystem::path(e.dot).filename().string()},
         {"svg", std::filesystem::path(e.svg).filename().string()},
         {"gpus", e.gpus},
         {"nodes", e.nodes},
         {"edges", e.edges},
         {"renderer", e.renderer},
         {"seconds", {{"build", e.build_seconds}, {"dot", e.dot_seconds}, {"svg", e.svg_seconds}}},
         {"load",
          {{"per_gpu", per_gpu},
           {"max_over_mean",
            {{"compute_nodes", ratio(max_nodes, sum_nodes)},
             {"flops", ratio(max_flops, sum_flops)},
             {"weight_bytes", ratio(max_bytes, sum_bytes)}}}}}});
  }
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/dags.json";
  writeFileAtomically(path, [&](std::ostream& out) {
    out << json{{"dags", dags}}.dump(2) << "\n";
  });
}

std::vector<TraceEvent> roundEvents(const std::vector<TraceEvent>& events, int round) {
  std::vector<TraceEvent> out;
  for (const auto& e : events) {
    if (e.round == round) out.push_back(e);
  }
  return out;
}

long roundTokens(const std::vector<TraceEvent>& round) {
  for (const auto& e : round) {
    if (e.op == kOpModelInput && !e.outputs.empty() && e.outputs[0].shape.rank() > 0) {
      return static_cast<long>(e.outputs[0].shape[0].global);
    }
  }
  return 0;
}

}  // namespace shardrt::dag
