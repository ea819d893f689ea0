#include "launch/plan_command.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/atomic_file.h"
#include "common/error_report.h"
#include "common/errors.h"
#include "launch/output_paths.h"
#include "planner/plan_explain.h"
#include "planner/strategy_search.h"

namespace shardrt::launch {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// The plan as a deployment file: the runtime's sections for the candidate, and the planner's
// sections of the input, with profile paths made relative to where the plan is written.
json planFile(const config::Deployment& d, const planner::Candidate& c, const json& input,
              const fs::path& input_dir, const fs::path& out_dir) {
  json doc = config::toJson(planner::withCandidate(d, c));
  for (const char* key : {"cluster", "objective", "planner"}) {
    if (input.contains(key)) doc[key] = input[key];
  }
  for (auto& group : doc["cluster"]["groups"]) {
    auto& gpu = group["gpu"];
    if (!gpu.contains("profile")) continue;
    const fs::path profile(gpu["profile"].get<std::string>());
    if (profile.is_absolute()) continue;
    gpu["profile"] =
        fs::relative(fs::absolute(input_dir / profile), fs::absolute(out_dir)).string();
  }
  return doc;
}

void writeJson(const json& doc, const std::string& path) {
  const fs::path p(path);
  if (p.has_parent_path()) fs::create_directories(p.parent_path());
  try {
    writeFileAtomically(path, [&](std::ostream& out) { out << doc.dump(2) << "\n"; });
  } catch (const FileWriteError& e) {
    throw ConfigError(path, std::string("cannot write the file (") + e.what() + ")");
  }
}

// The condition file as read: its JSON (whose planner sections travel into the plan files),
// the deployment, and the cluster and objective the planner plans for.
struct Conditions {
  json input;
  config::Deployment deployment;
  fs::path dir;
  planner::PlanningInput planning;
};

Conditions readConditions(const PlanOptions& o) {
  json input = config::readDeploymentJson(o.deployment_path, o.overrides);
  config::Deployment d =
      config::parseDeployment(input, fs::path(o.deployment_path).stem().string());
  const fs::path input_dir = fs::path(o.deployment_path).parent_path();
  auto in = planner::planningInputOf(input, input_dir.string(), d);
  if (!in) {
    throw ConfigError("cluster",
                      "required by shardrt plan: the GPUs to plan for (see "
                      "docs/config.md, \"The condition file\")");
  }
  return {std::move(input), std::move(d), input_dir, std::move(*in)};
}

// The best plan's cost, op by op, for the explanation.
planner::PlanCost bestDetail(const Conditions& c, const planner::SearchResult& result) {
  const config::Deployment& d = c.deployment;
  const planner::PlanCostModel costs(d.model, d.workload, c.planning.cluster, c.planning.options,
                                     planner::generationWorkload(c.planning.objective));
  return costs.estimate(result.top.front().candidate, true);
}

// --out: the best plan, as a deployment file `run` executes.
void writeBestPlan(const PlanOptions& o, const Conditions& c, const planner::SearchResult& result) {
  writeJson(planFile(c.deployment, result.top.front().candidate, c.input, c.dir,
                     fs::path(o.out_path).parent_path()),
            o.out_path);
  std::printf("wrote %s: mpirun -np %d shardrt run %s\n", o.out_path.c_str(),
              c.planning.cluster.gpus(), o.out_path.c_str());
}

// --out-top: each of the top plans as DIR/plan-<i>.json.
void writeTopPlans(const PlanOptions& o, const Conditions& c, const planner::SearchResult& result) {
  for (std::size_t i = 0; i < result.top.size(); ++i) {
    const std::string path =
        (fs::path(o.out_top_dir) / ("plan-" + std::to_string(i + 1) + ".json")).string();
    writeJson(planFile(c.deployment, result.top[i].candidate, c.input, c.dir, o.out_top_dir), path);
  }
  std::printf("wrote the top %zu plans to %s/plan-<rank>.json\n", result.top.size(),
              o.out_top_dir.c_str());
}

}  // namespace

// The files plan will write, checked before the search (issue 18, item 4): a path that cannot
// be written is refused in one line, not found after the whole report.
std::string outputProblem(const PlanOptions& o) {
  for (const auto& [option, file] :
       {std::pair{"--out", o.out_path}, std::pair{"--json", o.json_path}}) {
    if (file.empty()) continue;
    const fs::path parent = fs::path(file).parent_path();
    std::string problem = outputDirectoryProblem(option, parent.empty() ? "." : parent.string());
    if (problem.empty() && fs::is_directory(file)) {
      problem = std::string(option) + ": " + file + " is a directory, not a file";
    }
    if (!problem.empty()) return problem;
  }
  return o.out_top_dir.empty() ? "" : outputDirectoryProblem("--out-top", o.out_top_dir);
}

int planCommand(const PlanOptions& o) {
  if (const std::string problem = outputProblem(o); !problem.empty()) {
    reportError(0, problem);
    return kExitBadInput;
  }
  try {
    const auto start = std::chrono::steady_clock::now();
    const Conditions c = readConditions(o);
    const planner::SearchResult result = planner::searchPlans(c.deployment, c.planning, o.top);
    const planner::PlanCost detail = bestDetail(c, result);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    std::fputs(planner::planReport(c.deployment, c.planning, result, detail).c_str(), stdout);
    std::printf("planned in %.3f s\n", seconds);
    if (!o.out_path.empty()) writeBestPlan(o, c, result);
    if (!o.out_top_dir.empty()) writeTopPlans(o, c, result);
    if (!o.json_path.empty()) {
      json report = planner::planReportJson(c.deployment, c.planning, result, detail);
      report["planning_seconds"] = seconds;
      writeJson(report, o.json_path);
    }
    std::fflush(stdout);
    return kExitOk;
  } catch (const ConfigError& e) {
    reportError(0, e.what());
    return kExitBadInput;
  }
}

}  // namespace shardrt::launch
