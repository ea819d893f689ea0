#include "launch/generation_prediction.h"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/errors.h"
#include "launch/forward_prediction.h"

namespace shardrt::launch {
namespace {

// Keys a token at position `position` sees: up to itself, within the model's window.
double visibleKeys(const config::ModelConfig& m, int position) {
  const double keys = position + 1.0;
  return m.sliding_window > 0 ? std::min(keys, static_cast<double>(m.sliding_window)) : keys;
}

}  // namespace

std::vector<std::vector<planner::GenerationStep>> stepsOfRound(
    const config::Deployment& d, const config::Plan& plan,
    const std::vector<GenerationRequest>& requests, const GenerationResult& result, int round) {
  std::vector<std::vector<planner::GenerationStep>> steps;
  const int n = static_cast<int>(requests.size());
  for (const config::Range& replica : plan.dp_batches) {
    const int rows = replica.size() / plan.microbatches;
    std::vector<planner::GenerationStep> per_microbatch;
    for (int mb = 0; mb < plan.microbatches; ++mb) {
      planner::GenerationStep step;
      for (int i = replica.begin + mb * rows; i < replica.begin + (mb + 1) * rows && i < n; ++i) {
        // A request computes in every round up to the one that chose its last token.
        if (round > result.last_round[static_cast<std::size_t>(i)]) continue;
        const int prompt = static_cast<int>(requests[static_cast<std::size_t>(i)].prompt.size());
        step.sequences += 1.0;
        if (round == 0) {
          step.tokens += prompt;
          for (int p = 0; p < prompt; ++p) step.attention_pairs += visibleKeys(d.model, p);
        } else {  // its newest token, at position prompt + round - 1
          step.tokens += 1.0;
          step.attention_pairs += visibleKeys(d.model, prompt + round - 1);
        }
      }
      per_microbatch.push_back(step);
    }
    steps.push_back(std::move(per_microbatch));
  }
  return steps;
}

std::optional<GenerationPrediction> predictGeneration(
    const std::string& path, const std::vector<std::string>& overrides, const config::Deployment& d,
    const config::Plan& plan, int world_size, const std::vector<GenerationRequest>& requests,
    const GenerationResult& result) {
  GenerationPrediction p;
  try {
    const auto view = plannerViewOf(path, overrides, d, plan, world_size);
    if (!view) return std::nullopt;
    if (!view->note.empty()) {
      p.note = view->note;
      return p;
    }
    const planner::PlanCostModel costs(d.model, d.workload, view->input.cluster,
                                       view->input.options);
    // Priced as the rounds ran: overlapped, the first from an empty pipeline and the rest at
    // the pipeline's period.
    using Pace = planner::PlanCostModel::RoundPace;
    const bool overlap = result.schedule == RoundSchedule::Overlap;
    double end = 0.0;
    for (std::size_t r = 0; r < result.round_seconds.size(); ++r) {
      const Pace pace = !overlap ? Pace::Lockstep : r == 0 ? Pace::Fill : Pace::Steady;
      end += costs.roundSeconds(view->candidate,
                                stepsOfRound(d, plan, requests, result, static_cast<int>(r)),
                                nullptr, pace);
      p.round_seconds.push_back(end);
    }
    p.rates = view->rates;
  } catch (const ConfigError& e) {
    p.note = e.what();
    p.round_seconds.clear();
  }
  return p;
}

}  // namespace shardrt::launch
