#include "launch/run_report.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "config/parallel_layout.h"
#include "runtime/model_weights.h"

namespace shardrt::launch {
namespace {

std::string fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

std::string rangeText(config::Range r, int total) {
  return std::to_string(r.begin) + "-" + std::to_string(r.end - 1) + " (" +
         std::to_string(r.size()) + "/" + std::to_string(total) + ")";
}

std::string plural(int n, const std::string& noun, const std::string& nouns = "") {
  return std::to_string(n) + " " + (n == 1 ? noun : nouns.empty() ? noun + "s" : nouns);
}

std::string mib(double bytes) { return fmt("%.2f MiB", bytes / (1024.0 * 1024.0)); }

// Bytes of weights world rank `rank` holds, from the plan alone.
double weightBytes(const RunReport& r, const config::ParallelLayout& at) {
  const auto& p = r.plan;
  const auto specs = shardWeightSpecs(r.deployment.model,
                                      ShardHoldings::of(p, at.tpRank(), at.ppRank(), at.epRank()));
  double bytes = 0.0;
  for (const auto& s : specs) bytes += static_cast<double>(s.localNumel()) * 4.0;
  return bytes;
}

std::string expertText(const std::vector<int>& experts) {
  if (experts.empty()) return "none";
  std::string s;
  for (std::size_t i = 0; i < experts.size(); ++i) {
    // Runs of consecutive experts as a-b, the rest listed.
    std::size_t j = i;
    while (j + 1 < experts.size() && experts[j + 1] == experts[j] + 1) ++j;
    if (!s.empty()) s += ",";
    s += std::to_string(experts[i]);
    if (j > i) {
      s += '-';
      s += std::to_string(experts[j]);
    }
    i = j;
  }
  return s;
}

std::string countsText(const std::vector<long>& v) {
  std::string s;
  for (long x : v) {
    if (!s.empty()) s += ' ';
    s += std::to_string(x);
  }
  return s;
}

}  // namespace

double MoeLayerReport::imbalance(const std::vector<long>& values) {
  if (values.empty()) return 0.0;
  long sum = 0, max = 0;
  for (long x : values) {
    sum += x;
    max = std::max(max, x);
  }
  return sum > 0 ? static_cast<double>(max) * static_cast<double>(values.size()) / sum : 0.0;
}

double RunReport::medianForwardSeconds() const {
  if (forward_seconds.empty()) return 0.0;
  std::vector<double> t = forward_seconds;
  std::sort(t.begin(), t.end());
  const std::size_t n = t.size();
  return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

namespace {

void printModel(std::ostream& os, const RunReport& r) {
  const auto& d = r.deployment;
  const auto& m = d.model;
  os << "shardrt run: " << d.name << " (" << r.deployment_path << ")\n";
  if (!m.source.hf_config.empty()) {
    // What was derived from the checkpoint's config.json, and what of it the layers do not use.
    os << "  config    " << m.source.hf_config << ": model_type " << m.source.model_type
       << ", derived as below\n";
    for (const std::string& note : m.source.not_used)
      os << "            not used: " << note << "\n";
  }
  std::string rope = "off";
  if (m.rope) {
    rope = "theta " + fmt("%g", m.rope_theta);
    if (m.rotary_dim > 0) {
      rope += " on the first " + std::to_string(m.rotary_dim) + " of " +
              std::to_string(m.head_dim) + " dims of each head";
    }
    if (m.rope_scaling.yarn()) {
      const auto& s = m.rope_scaling;
      rope += " with yarn scaling (factor " + fmt("%g", s.factor) + ", original context " +
              std::to_string(s.original_max_position_embeddings) + ", beta_fast " +
              fmt("%g", s.beta_fast) + ", beta_slow " + fmt("%g", s.beta_slow) + ", cos/sin x " +
              fmt("%g", s.attention_factor) +
              (s.mscale_all_dim > 0.0
                   ? ", scores x mscale^2, mscale_all_dim " + fmt("%g", s.mscale_all_dim)
                   : std::string()) +
              ")";
    } else if (m.rope_scaling.on()) {
      const auto& s = m.rope_scaling;
      rope += " with llama3 scaling (factor " + fmt("%g", s.factor) + ", low_freq_factor " +
              fmt("%g", s.low_freq_factor) + ", high_freq_factor " + fmt("%g", s.high_freq_factor) +
              ", original context " + std::to_string(s.original_max_position_embeddings) + ")";
    }
  }
  os << "  model     " << plural(m.layers, "layer") << ", hidden " << m.hidden << ", heads "
     << m.heads << " (kv_heads " << m.kv_heads << ") x d_k " << m.head_dim << ", ffn_hidden "
     << m.ffn_hidden << " " << toString(m.activation) << ", " << toString(m.norm) << " eps "
     << m.norm_eps << (m.qkv_bias ? ", q/k/v biases" : "")
     << (m.qk_norm ? ", q/k rmsnorm per head" : "") << ", rope " << rope << ", "
     << (m.causal ? "causal" : "bidirectional")
     << (m.sliding_window > 0 ? ", sliding window " + std::to_string(m.sliding_window)
                              : std::string())
     << (m.weight_naming != config::WeightNaming::Llama
             ? std::string(", ") + toString(m.weight_naming) + " tensor names"
             : std::string())
     << "\n";
  if (m.hasMoe()) {
    const auto& moe = m.moe;
    std::string choice;
    if (moe.choice_bias) choice += ", chosen by score + e_score_correction_bias";
    if (moe.groups > 1 && moe.top_groups < moe.groups) {
      choice += " within the best " + std::to_string(moe.top_groups) + " of " +
                std::to_string(moe.groups) + " groups (by their " +
                (moe.group_score == config::GroupScore::Max ? "best score)" : "best two scores)");
    }
    if (moe.routed_scale != 1.0) choice += ", weights x " + fmt("%g", moe.routed_scale);
    os << "  moe       " << moe.experts << " experts, top_k " << moe.top_k << ", expert_ffn_hidden "
       << moe.expert_ffn_hidden << ", " << toString(moe.scoring)
       << (moe.normalize_top_k ? " (top-k renormalised)" : "") << choice << ", shared_experts "
       << moe.shared_experts
       << (moe.shared_ffn_hidden > 0 ? " of width " + std::to_string(moe.shared_ffn_hidden) : "")
       << (moe.shared_gate ? " (sigmoid-gated)" : "") << ", "
       << (moe.dropless() ? std::string("dropless")
                          : "capacity_factor " + fmt("%g", moe.capacity_factor))
       << ", every " << moe.every << (moe.every == 1 ? " layer" : " layers")
       << (moe.first_dense > 0
               ? " from layer " + std::to_string(moe.first_dense) + " (the first dense)"
               : std::string());
    if (!moe.dense_layers.empty()) {
      os << ", but dense in layers";
      for (int l : moe.dense_layers) os << " " << l;
    }
    os << "\n";
  }
}

void printWorkload(std::ostream& os, const RunReport& r) {
  const auto& d = r.deployment;
  os << "  workload  batch_size " << d.workload.batch_size << " x seq_len " << d.workload.seq_len
     << ", " << dtypeName(d.workload.dtype) << ", seed " << d.seed
     << (r.weights.empty() ? "" : " (the input; weights from --weights)") << "\n";
  if (!r.weights.empty()) {
    os << "  weights   " << r.weights << "\n            the busiest rank read "
       << mib(r.weights_bytes_read) << " in " << fmt("%.3f s", r.weights_read_seconds) << " ("
       << fmt("%.2f GB/s", r.weights_bytes_read / std::max(r.weights_read_seconds, 1e-9) / 1e9)
       << "); shards built in " << fmt("%.3f s", r.weights_seconds) << "\n";
  }
}

// The strategy, then a line per rank: what it holds of the model.
void printStrategy(std::ostream& os, const RunReport& r) {
  const auto& d = r.deployment;
  const auto& m = d.model;
  const auto& s = d.strategy;
  os << "  strategy  tp " << s.tp << ", pp " << s.pp << ", ep " << s.ep << ", dp " << s.dp
     << ", microbatches " << s.microbatches << " = " << plural(s.worldSize(), "rank")
     << "; backend " << r.backend << ", communicator " << r.communicator << ", "
     << plural(r.blas_threads, "BLAS thread") << " per rank\n";
  int host_width = 4;
  for (const RankPlacement& p : r.placement) {
    host_width = std::max(host_width, static_cast<int>(p.host.size()));
  }
  os << "  rank  tp pp dp ep  layers      batch_rows   heads          kv_heads       "
        "ffn_columns              experts      weights      "
     << "host" << std::string(static_cast<std::size_t>(host_width - 4), ' ') << "  local  device\n";
  for (int w = 0; w < s.worldSize(); ++w) {
    const config::ParallelLayout at(s.tp, s.pp, s.dp, w, s.ep);
    const auto& shard = r.plan.tp_shards[at.tpRank()];
    const std::string experts = m.hasMoe() ? expertText(r.plan.expert_placement[at.epRank()]) : "-";
    const RankPlacement where = static_cast<std::size_t>(w) < r.placement.size()
                                    ? r.placement[static_cast<std::size_t>(w)]
                                    : RankPlacement{"?", -1, "?"};
    char line[400];
    std::snprintf(
        line, sizeof line,
        "  %4d  %2d %2d %2d %2d  %-10s  %-11s  %-13s  %-13s  %-23s  %-11s  %-11s  %-*s  %5d  %s\n",
        w, at.tpRank(), at.ppRank(), at.dpRank(), at.epRank(),
        rangeText(r.plan.stages[at.ppRank()].layers, m.layers).c_str(),
        rangeText(r.plan.dp_batches[at.dpRank()], d.workload.batch_size).c_str(),
        rangeText(shard.q_heads, m.heads).c_str(), rangeText(shard.kv_heads, m.kv_heads).c_str(),
        rangeText(shard.ffn_columns, m.ffn_hidden).c_str(), experts.c_str(),
        mib(weightBytes(r, at)).c_str(), host_width, where.host.c_str(), where.node_rank,
        where.device.c_str());
    os << line;
  }
  if (!r.attention.empty()) os << "  attention rank 0: " << r.attention << "\n";
}

// The forward time, the planner's prediction of it, and with pp > 1 each stage's bubble.
void printTiming(std::ostream& os, const RunReport& r) {
  const auto& s = r.deployment.strategy;
  os << "  forward   " << fmt("%.3f ms", r.medianForwardSeconds() * 1e3) << " (median of "
     << r.forward_seconds.size() << " after " << r.warmup
     << " warm-up; each the slowest rank's time)\n";
  if (r.prediction && r.prediction->seconds > 0.0) {
    os << "  predicted " << fmt("%.3f ms", r.prediction->seconds * 1e3) << " by the planner ("
       << r.prediction->rates << "); measured / predicted "
       << fmt("%.2f", r.medianForwardSeconds() / r.prediction->seconds) << "\n";
  } else if (r.prediction) {
    os << "  predicted none: " << r.prediction->note << "\n";
  }
  if (s.pp > 1) {
    const int m_ = s.microbatches;
    os << "  pipeline  GPipe, " << plural(m_, "microbatch", "microbatches")
       << " per replica; ideal bubble " << fmt("%.1f%%", 100.0 * (s.pp - 1) / (m_ + s.pp - 1))
       << " = (pp-1)/(m+pp-1)\n";
    for (std::size_t i = 0; i < r.stages.size(); ++i) {
      os << "            stage " << i << ": busy " << fmt("%.3f ms", r.stages[i].busy_seconds * 1e3)
         << " of " << fmt("%.3f ms", r.stages[i].wall_seconds * 1e3) << ", bubble "
         << fmt("%.1f%%", 100.0 * r.stages[i].bubble()) << " (last timed pass, busiest rank)\n";
    }
  }
}

void printMoeLayers(std::ostream& os, const RunReport& r) {
  for (const auto& l : r.moe_layers) {
    long total = 0;
    for (long x : l.expert_tokens) total += x;
    os << "  moe layer " << l.layer << ": slots per expert [" << countsText(l.expert_tokens)
       << "] = " << total << ", dropped " << l.dropped << "; imbalance max/mean: experts "
       << fmt("%.2f", MoeLayerReport::imbalance(l.expert_tokens)) << ", ranks "
       << fmt("%.2f", MoeLayerReport::imbalance(l.rank_tokens)) << " [" << countsText(l.rank_tokens)
       << "]\n";
  }
}

void printProfile(std::ostream& os, const OpProfile& profile) {
  os << "  profile   rank 0, one forward pass:\n";
  const double total = profile.totalSeconds();
  for (const auto& e : profile.entries()) {
    char line[160];
    std::snprintf(line, sizeof line, "            %-14s %5ld calls %10.3f ms %5.1f%%", e.op.c_str(),
                  e.calls, e.seconds * 1e3, total > 0 ? 100.0 * e.seconds / total : 0.0);
    os << line;
    if (e.flops > 0) os << fmt(" %8.2f GFLOP/s", e.flops / e.seconds / 1e9);
    os << "\n";
  }
}

void printValidation(std::ostream& os, const ValidationReport& v, const RunReport& r) {
  const auto& d = r.deployment;
  os << "  validate  rel_err " << fmt("%.3e", v.worst.rel_err) << "  max_abs_err "
     << fmt("%.3e", v.worst.max_abs_err) << "  tolerance " << fmt("%.0e", v.tolerance) << " ("
     << dtypeName(d.workload.dtype) << ", normwise; worst of all ranks: rank " << v.worst_rank
     << ")  " << (v.passed ? "PASS" : "FAIL") << "\n";
  if (v.versus_cpu) {
    os << "  validate  versus the fp32 CPU model: rel_err " << fmt("%.3e", v.versus_cpu->rel_err)
       << "  max_abs_err " << fmt("%.3e", v.versus_cpu->max_abs_err) << "  tolerance "
       << fmt("%.0e", v.tolerance) << "  " << (v.versus_cpu->passes(v.tolerance) ? "PASS" : "FAIL")
       << "\n";
  }
  if (d.model.hasMoe()) {
    os << "  routing   " << v.routing_flips << " of " << v.routing_compared
       << " (layer, token) expert sets differ from the reference (routing flips); "
       << v.load_mismatches << " MoE layers whose slots per expert or dropped slots differ"
       << (v.routing_decides
               ? ""
               : " (bf16: reported, not judged; the references followed the run's routing)")
       << "\n";
  }
}

// Each rank's coordinates, where it runs and the bytes of weights it holds.
void addRanks(nlohmann::json& j, const RunReport& r) {
  const auto& s = r.deployment.strategy;
  for (int w = 0; w < s.worldSize(); ++w) {
    const config::ParallelLayout at(s.tp, s.pp, s.dp, w, s.ep);
    j["ranks"].push_back({{"rank", w},
                          {"tp_rank", at.tpRank()},
                          {"pp_rank", at.ppRank()},
                          {"dp_rank", at.dpRank()},
                          {"ep_rank", at.epRank()},
                          {"weight_bytes", weightBytes(r, at)}});
    if (static_cast<std::size_t>(w) < r.placement.size()) {
      const RankPlacement& p = r.placement[static_cast<std::size_t>(w)];
      j["ranks"].back().update(
          {{"host", p.host}, {"node_rank", p.node_rank}, {"device", p.device}});
    }
  }
}

// The profile, the stages and the MoE layers, each key present only when it has entries.
void addMeasurements(nlohmann::json& j, const RunReport& r) {
  if (r.profile) {
    for (const auto& e : r.profile->entries()) {
      j["profile"].push_back(
          {{"op", e.op}, {"calls", e.calls}, {"seconds", e.seconds}, {"flops", e.flops}});
    }
  }
  for (std::size_t i = 0; i < r.stages.size(); ++i) {
    j["stages"].push_back({{"stage", i},
                           {"busy_seconds", r.stages[i].busy_seconds},
                           {"wall_seconds", r.stages[i].wall_seconds},
                           {"bubble", r.stages[i].bubble()}});
  }
  for (const auto& l : r.moe_layers) {
    j["moe_layers"].push_back({{"layer", l.layer},
                               {"expert_tokens", l.expert_tokens},
                               {"dropped", l.dropped},
                               {"rank_tokens", l.rank_tokens},
                               {"expert_imbalance", MoeLayerReport::imbalance(l.expert_tokens)},
                               {"rank_imbalance", MoeLayerReport::imbalance(l.rank_tokens)}});
  }
}

nlohmann::json validationJson(const ValidationReport& v) {
  return {{"rel_err", v.worst.rel_err},
          {"max_abs_err", v.worst.max_abs_err},
          {"finite", v.worst.finite},
          {"worst_rank", v.worst_rank},
          {"tolerance", v.tolerance},
          {"routing_compared", v.routing_compared},
          {"routing_flips", v.routing_flips},
          {"load_mismatches", v.load_mismatches},
          {"routing_decides_verdict", v.routing_decides},
          {"versus_cpu_rel_err",
           v.versus_cpu ? nlohmann::json(v.versus_cpu->rel_err) : nlohmann::json()},
          {"passed", v.passed}};
}

}  // namespace

void printSummary(std::ostream& os, const RunReport& report) {
  printModel(os, report);
  printWorkload(os, report);
  printStrategy(os, report);
  printTiming(os, report);
  printMoeLayers(os, report);
  if (report.profile) printProfile(os, *report.profile);
  if (report.validation) printValidation(os, *report.validation, report);
}

nlohmann::json toJson(const RunReport& report) {
  nlohmann::json j;
  j["deployment"] = config::toJson(report.deployment);
  if (const auto& source = report.deployment.model.source; !source.hf_config.empty()) {
    j["model_source"] = {{"hf_config", source.hf_config},
                         {"model_type", source.model_type},
                         {"not_used", source.not_used}};
  }
  j["deployment_path"] = report.deployment_path;
  j["plan"] = config::toJson(report.plan);
  j["backend"] = report.backend;
  j["communicator"] = report.communicator;
  if (!report.attention.empty()) j["attention"] = report.attention;
  j["weights"] = {{"source", report.weights.empty() ? "generated from the seed" : report.weights},
                  {"build_seconds", report.weights_seconds},
                  {"max_bytes_read_per_rank", report.weights_bytes_read},
                  {"read_seconds_of_that_rank", report.weights_read_seconds}};
  j["blas_threads_per_rank"] = report.blas_threads;
  j["forward"] = {{"median_seconds", report.medianForwardSeconds()},
                  {"warmup", report.warmup},
                  {"iteration_seconds", report.forward_seconds}};
  if (report.prediction && report.prediction->seconds > 0.0) {
    j["forward"]["predicted_seconds"] = report.prediction->seconds;
    j["forward"]["predicted_from"] = report.prediction->rates;
  }
  addRanks(j, report);
  addMeasurements(j, report);
  if (report.validation) j["validation"] = validationJson(*report.validation);
  return j;
}

}  // namespace shardrt::launch
