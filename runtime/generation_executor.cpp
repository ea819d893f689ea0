#include "runtime/generation_executor.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <stdexcept>

#include "runtime/head_views.h"
#include "runtime/host_values.h"

namespace shardrt {
namespace {

double seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// The executor's options at the token level: the step size given (stepTokens), else a
// microbatch's rows of workload.seq_len tokens, the longest prefill there can be.
ExecutorOptions tokenLevel(ExecutorOptions options, const config::Deployment& d,
                           const config::Plan& plan, const config::ParallelLayout& layout) {
  const long rows = plan.dp_batches.at(layout.dpRank()).size() / plan.microbatches;
  if (options.step_tokens <= 0) options.step_tokens = rows * d.workload.seq_len;
  options.log_routing = false;
  return options;
}

enum Finish : std::int32_t { kRunning = 0, kLength = 1, kStop = 2 };

}  // namespace

struct GenerationExecutor::Sequence {
  int request = -1;                  // global index; -1: a row with no request
  std::vector<std::int32_t> tokens;  // the prompt, then the new tokens
  int prompt = 0;
  int max_new = 0;
  std::int32_t finish = kRunning;
  int first_round = -1, last_round = -1;
  bool active() const { return request >= 0 && finish == kRunning; }
  int generated() const { return static_cast<int>(tokens.size()) - prompt; }
};

struct GenerationExecutor::StepPlan {
  int microbatch = 0;
  int round = 0;
  long round_tokens = 0;                          // the round's, over every replica
  std::vector<std::int32_t> ids, seq, pos, slot;  // per token of the step
  std::vector<std::int32_t> picked;               // per request: the step row of its last token
  std::vector<int> requests;                      // per request: its global index
  std::vector<int> new_index;                     // per request: which new token this is
  double pairs = 0.0;                             // (query, key) pairs of attention
};

GenerationExecutor::GenerationExecutor(const config::Deployment& d, const config::Plan& plan,
                                       const config::ParallelLayout& layout, Backend& backend,
                                       ExecutorGroups groups, comm::Communicator& world,
                                       ExecutorOptions options)
    : deployment_(d),
      plan_(plan),
      backend_(backend),
      groups_(groups),
      world_(world),
      executor_(d, plan, layout, backend, groups, tokenLevel(options, d, plan, layout)),
      replica_(plan.dp_batches.at(layout.dpRank())),
      microbatch_rows_(replica_.size() / plan.microbatches),
      context_(d.workload.seq_len),
      first_stage_(layout.ppRank() == 0),
      last_stage_(layout.ppRank() == plan.pp - 1),
      reporter_(last_stage_ && layout.tpRank() == 0),
      counter_(first_stage_ && layout.tpRank() == 0) {
  const auto& m = d.model;
  const config::Range layers = plan.stages.at(layout.ppRank()).layers;
  bool stage_has_moe = false;
  for (int l = layers.begin; l < layers.end; ++l) stage_has_moe |= m.isMoeLayer(l);
  // An ep group is ep adjacent ranks of a stage (tp fastest): wider than tp, it spans replicas.
  joins_empty_steps_ = stage_has_moe && plan.ep > plan.tp;
  cache_ = executor_.makeKvCache(replica_.size(), context_);
  const Dim tokens("tokens", tokenLevel(options, d, plan, layout).step_tokens);
  ids_ = backend.empty({tokens}, DType::I32);
  seq_ = backend.empty({tokens}, DType::I32);
  pos_ = backend.empty({tokens}, DType::I32);
  slot_ = backend.empty({tokens}, DType::I32);
  chosen_ = backend.empty({Dim("sequences", replica_.size(), d.workload.batch_size)}, DType::I32);
  chosen_host_.assign(static_cast<std::size_t>(replica_.size()), -1);
  if (last_stage_) {
    const Dim rows("sequences", microbatch_rows_, d.workload.batch_size);
    const config::Range vocab = executor_.shard().vocab;
    const int tp = groups.tp->size();
    picked_ = backend.empty({rows}, DType::I32);
    logits_ = backend.empty({rows, Dim("vocab", vocab.size(), m.vocab)}, d.workload.dtype);
    best_value_ = backend.empty({rows}, DType::F32);
    best_index_ = backend.empty({rows}, DType::I32);
    // Each tp rank's best (value, id) of each row, side by side.
    gathered_value_ = backend.empty(
        {Dim("tp*sequences", static_cast<std::int64_t>(tp) * microbatch_rows_)}, DType::F32);
    gathered_index_ = backend.empty(gathered_value_.shape(), DType::I32);
    gathered_logits_ = backend.empty(
        {Dim("sequences*vocab", static_cast<std::int64_t>(microbatch_rows_) * m.vocab)},
        d.workload.dtype);
  }
}

long GenerationExecutor::stepTokens(const config::Plan& plan,
                                    const std::vector<GenerationRequest>& requests) {
  long most = 1;
  for (const config::Range& replica : plan.dp_batches) {
    const int rows = replica.size() / plan.microbatches;
    for (int mb = 0; mb < plan.microbatches; ++mb) {
      long prompts = 0;
      for (int r = replica.begin + mb * rows; r < replica.begin + (mb + 1) * rows; ++r) {
        if (r < static_cast<int>(requests.size())) {
          prompts += static_cast<long>(requests[static_cast<std::size_t>(r)].prompt.size());
        }
      }
      most = std::max({most, prompts, static_cast<long>(rows)});
    }
  }
  return most;
}

std::size_t GenerationExecutor::kvCacheBytes() const {
  std::size_t bytes = 0;
  for (const auto& t : cache_.k) bytes += t.bytes();
  for (const auto& t : cache_.v) bytes += t.bytes();
  return bytes;
}

std::string GenerationExecutor::graphsUnavailable() const {
  if (!backend_.canCapture()) {
    return "the " + std::string(backend_.name()) + " backend records no graphs (use --device cuda)";
  }
  if (plan_.pp > 1) return "pp " + std::to_string(plan_.pp) + ": graphs need pp 1";
  const auto& m = deployment_.model;
  for (int l = 0; l < m.layers; ++l) {
    if (m.isMoeLayer(l)) return "MoE layers route on the host between their kernels";
  }
  if (m.mla.on()) return "latent attention uploads its head order in each step";
  if (!groups_.tp->graphSafe()) {
    return "the tp group's collectives wait on the host (staged through MPI, watched or checked)";
  }
  return "";
}

void GenerationExecutor::setTracer(Tracer* tracer) {
  tracer_ = tracer;
  executor_.setTracer(tracer);
}

TensorRef GenerationExecutor::chosenRef(int row, int count) const {
  const std::int32_t* at = chosen_host_.data() + row;
  return {reinterpret_cast<std::uint64_t>(at), static_cast<std::uint64_t>(count) * sizeof(*at),
          Shape{Dim("sequences", count, deployment_.workload.batch_size)}};
}

GenerationExecutor::StepPlan GenerationExecutor::planStep(const std::vector<Sequence>& sequences,
                                                          int microbatch, int round,
                                                          long round_tokens) const {
  StepPlan p;
  p.microbatch = microbatch;
  p.round = round;
  p.round_tokens = round_tokens;
  const int first = microbatch * microbatch_rows_;
  for (int r = first; r < first + microbatch_rows_; ++r) {
    const Sequence& s = sequences[static_cast<std::size_t>(r)];
    if (!s.active()) continue;
    // The prefill feeds the whole prompt; a decode step the newest token, which is not in the
    // cache yet (its position is the sequence's length less one).
    const int length = static_cast<int>(s.tokens.size());
    const int from = round == 0 ? 0 : length - 1;
    const kernels::AttentionHeads window{1, 1, 0, 0, 1, 0.0f, deployment_.model.sliding_window};
    for (int position = from; position < length; ++position) {
      p.ids.push_back(s.tokens[static_cast<std::size_t>(position)]);
      p.seq.push_back(r);
      p.pos.push_back(position);
      p.slot.push_back(r * context_ + position);
      p.pairs += position + 1 - window.firstVisibleKey(position);
    }
    p.picked.push_back(static_cast<std::int32_t>(p.ids.size()) - 1);
    p.requests.push_back(s.request);
    p.new_index.push_back(s.generated());
  }
  return p;
}

std::vector<float> GenerationExecutor::gatherLogits(const TensorView& logits, long rows) {
  const int tp = groups_.tp->size();
  if (tp == 1) return downloadFloats(backend_, logits);
  const int vocab = deployment_.model.vocab;
  std::vector<std::size_t> counts;
  std::vector<config::Range> blocks;
  for (int t = 0; t < tp; ++t) {
    blocks.push_back(plan_.tp_shards.at(t).vocab);
    counts.push_back(static_cast<std::size_t>(rows) * blocks.back().size());
  }
  const TensorView gathered = firstRows(gathered_logits_, rows * vocab, rows * vocab);
  if (tracer_) tracer_->nameView(logits), tracer_->nameView(gathered);
  groups_.tp->allGatherV(logits.raw(), gathered.raw(), counts, logits.dtype());
  const std::vector<float> by_rank = downloadFloats(backend_, gathered);
  // Rank t's block is (rows, its ids): put each row's ids in order.
  std::vector<float> out(static_cast<std::size_t>(rows) * vocab);
  std::size_t offset = 0;
  for (int t = 0; t < tp; ++t) {
    const int width = blocks[t].size();
    for (long r = 0; r < rows; ++r) {
      std::copy_n(by_rank.begin() + static_cast<long>(offset) + r * width, width,
                  out.begin() + r * vocab + blocks[t].begin);
    }
    offset += counts[t];
  }
  return out;
}

std::vector<std::int32_t> GenerationExecutor::chooseTokens(
    const StepPlan& plan, const TensorView& logits, const GenerationSettings& settings,
    std::vector<std::vector<float>>* logits_rows) {
  const long rows = static_cast<long>(plan.picked.size());
  const int vocab = deployment_.model.vocab;
  std::vector<float> whole;
  if (!settings.sampling.greedy() || logits_rows) whole = gatherLogits(logits, rows);
  // What the host chooses from: the tp ranks' best (value, id) of each row, or whole rows.
  std::vector<TensorView> candidates;
  if (!settings.sampling.greedy()) {
    const int tp = groups_.tp->size();
    candidates = {tp == 1 ? logits
                          : firstRows(gathered_logits_, rows * deployment_.model.vocab,
                                      rows * deployment_.model.vocab)};
  }
  std::vector<std::int32_t> chosen(static_cast<std::size_t>(rows));
  if (settings.sampling.greedy()) {
    // Each rank's best of its block, then the best of those: the largest value, the smaller
    // id on ties (the first maximum of the whole row, as one device would choose).
    const long batch = deployment_.workload.batch_size;
    const TensorView value = firstRows(best_value_, rows, batch);
    const TensorView index = firstRows(best_index_, rows, batch);
    backend_.argmaxRows(value, index, logits, executor_.shard().vocab.begin);
    const int tp = groups_.tp->size();
    std::vector<float> values(static_cast<std::size_t>(tp * rows));
    std::vector<std::int32_t> ids(values.size());
    if (tp > 1) {
      const TensorView all_values = firstRows(gathered_value_, tp * rows, tp * rows);
      const TensorView all_ids = firstRows(gathered_index_, tp * rows, tp * rows);
      if (tracer_) tracer_->nameView(value), tracer_->nameView(all_values);
      groups_.tp->allGather(value.raw(), all_values.raw(), rows, DType::F32);
      if (tracer_) tracer_->nameView(index), tracer_->nameView(all_ids);
      groups_.tp->allGather(index.raw(), all_ids.raw(), rows, DType::I32);
      backend_.copyToHost(values.data(), all_values);
      backend_.copyToHost(ids.data(), all_ids);
      candidates = {all_values, all_ids};
    } else {
      backend_.copyToHost(values.data(), value);
      backend_.copyToHost(ids.data(), index);
      candidates = {value, index};
    }
    for (long r = 0; r < rows; ++r) {
      long best = r;
      for (long at = r + rows; at < tp * rows; at += rows) {
        const float v = values[at], b = values[best];
        if (v > b || (std::isnan(b) && !std::isnan(v)) || (v == b && ids[at] < ids[best])) {
          best = at;
        }
      }
      chosen[r] = ids[best];
    }
  } else {
    for (long r = 0; r < rows; ++r) {
      chosen[r] = sampleToken(whole.data() + r * vocab, vocab, settings.sampling, plan.requests[r],
                              plan.new_index[r]);
    }
  }
  if (logits_rows) {
    for (long r = 0; r < rows; ++r) {
      logits_rows->emplace_back(whole.begin() + r * vocab, whole.begin() + (r + 1) * vocab);
    }
  }
  if (tracer_) {  // the host's choice, into the microbatch's rows of the round's new tokens
    std::vector<TensorRef> reads;
    for (const TensorView& v : candidates) reads.push_back(tracer_->ref(v));
    tracer_->recordHostOp("choose_tokens", reads,
                          {chosenRef(plan.microbatch * microbatch_rows_, microbatch_rows_)});
  }
  return chosen;
}

std::vector<std::int32_t> GenerationExecutor::runStep(
    const StepPlan& plan, const GenerationSettings& settings,
    std::vector<std::vector<float>>* logits_rows) {
  const long n = static_cast<long>(plan.ids.size());
  if (n == 0 && !joins_empty_steps_) return {};
  // A step's views are its first rows of buffers sized for the largest step: of the round's
  // tokens (what the trace's labels show), or, for the rows it picks, just those rows.
  auto upload = [&](const Tensor& t, const std::vector<std::int32_t>& host, long global) {
    const auto rows = static_cast<long>(host.size());
    const TensorView v = firstRows(t, rows, global < 0 ? rows : global);
    if (!host.empty()) backend_.copyFromHost(v, host.data());
    return v;
  };
  TokenStep step;
  step.tokens = n;
  step.round_tokens = plan.round_tokens;
  step.ids = upload(ids_, plan.ids, plan.round_tokens);
  step.seq = upload(seq_, plan.seq, plan.round_tokens);
  step.pos = upload(pos_, plan.pos, plan.round_tokens);
  step.slot = upload(slot_, plan.slot, plan.round_tokens);
  step.attention_pairs = plan.pairs;
  // The model's input is the step's token ids, which the first stage embeds. Each token's
  // sequence, position and cache slot come from the host on every stage: ops list them as
  // inputs, as they do their weights, without an edge.
  if (tracer_ && first_stage_)
    tracer_->recordBookkeeping(kOpModelInput, {}, {tracer_->ref(step.ids)});
  const long batch = deployment_.workload.batch_size;
  const auto rows = static_cast<long>(plan.picked.size());
  if (graphs_on_ && !tracer_ && plan.round > 0 && n > 0 && rows > 0) {
    // A decode step: its inputs are in place; its device work is one graph per (microbatch,
    // tokens), recorded the first time and replayed since (graphsUnavailable: pp 1, so this
    // rank embeds, runs every layer and computes the logits).
    const TensorView picked = upload(picked_, plan.picked, batch);
    const TensorView logits = firstRows(logits_, rows, batch);
    const auto key = std::make_pair(plan.microbatch, n);
    auto it = graphs_.find(key);
    if (it == graphs_.end()) {
      backend_.beginCapture();
      executor_.embed(step);
      executor_.step(step, cache_);
      executor_.logits(picked, logits);
      it = graphs_.emplace(key, backend_.endCapture()).first;
    }
    backend_.replay(it->second);
    return chooseTokens(plan, logits, settings, logits_rows);
  }
  comm::Communicator& pp = *groups_.pp;
  const TensorView hidden = executor_.stepHidden(step);
  if (tracer_) tracer_->nameView(hidden);
  // A step of no tokens (a replica with nothing left that still joins its MoE exchanges) runs
  // every op on zero rows, the stages' messages and the LM head included: the same ops as any
  // step, so that a trace draws it whole (an op with nothing before it would hang loose).
  if (first_stage_) {
    executor_.embed(step);
  } else {
    pp.recv(hidden.raw(), static_cast<std::size_t>(hidden.numel()), hidden.dtype(), pp.rank() - 1);
  }
  executor_.step(step, cache_);
  if (!last_stage_) {
    if (tracer_) tracer_->nameView(hidden);
    pp.send(hidden.raw(), static_cast<std::size_t>(hidden.numel()), hidden.dtype(), pp.rank() + 1);
    return {};
  }
  const TensorView picked = upload(picked_, plan.picked, batch);
  const TensorView logits = firstRows(logits_, rows, batch);
  executor_.logits(picked, logits);
  return chooseTokens(plan, logits, settings, logits_rows);
}

struct GenerationExecutor::Run {
  std::vector<Sequence> sequences;         // one a replica row
  std::vector<std::vector<float>> logits;  // per request, with keep_logits
  std::vector<double> round_end;           // seconds from the start, per round
  std::vector<long> round_tokens;          // counted by this rank (counter_), per round
  double start = 0.0;
};

std::vector<long> GenerationExecutor::roundTotals(const std::vector<GenerationRequest>& requests,
                                                  const GenerationSettings& settings) {
  if (!settings.round_tokens.empty()) return settings.round_tokens;
  if (!settings.stop_tokens.empty()) return {};
  // Without stop tokens a request runs its prompt, then one token a round until its last.
  std::vector<long> totals;
  for (const GenerationRequest& r : requests) {
    const auto rounds = static_cast<std::size_t>(std::max(r.max_new_tokens, 1));
    if (totals.size() < rounds) totals.resize(rounds, 0);
    totals[0] += static_cast<long>(r.prompt.size());
    for (std::size_t round = 1; round < rounds; ++round) ++totals[round];
  }
  return totals;
}

RoundSchedule GenerationExecutor::scheduleFor(const std::vector<GenerationRequest>& requests,
                                              const GenerationSettings& settings) const {
  if (settings.schedule == RoundSchedule::Lockstep) return RoundSchedule::Lockstep;
  // Any stage's ep group spanning replicas says so on every rank.
  if (config::expertGroupSpansReplicas(deployment_.model, deployment_.strategy)) {
    return RoundSchedule::Lockstep;
  }
  if (tracer_ && roundTotals(requests, settings).empty()) return RoundSchedule::Lockstep;
  return RoundSchedule::Overlap;
}

GenerationResult GenerationExecutor::generate(const std::vector<GenerationRequest>& requests,
                                              const GenerationSettings& settings) {
  const int n = static_cast<int>(requests.size());
  Run run;
  run.sequences.resize(static_cast<std::size_t>(replica_.size()));
  for (int r = 0; r < replica_.size(); ++r) {
    const int i = replica_.begin + r;
    if (i >= n) continue;
    Sequence& s = run.sequences[static_cast<std::size_t>(r)];
    s.request = i;
    s.tokens = requests[static_cast<std::size_t>(i)].prompt;
    s.prompt = static_cast<int>(s.tokens.size());
    s.max_new = requests[static_cast<std::size_t>(i)].max_new_tokens;
  }
  run.logits.resize(static_cast<std::size_t>(n));
  const RoundSchedule schedule = scheduleFor(requests, settings);
  run.start = seconds();
  if (schedule == RoundSchedule::Overlap) {
    overlapped(run, roundTotals(requests, settings), settings);
  } else {
    long prompts = 0;
    for (const GenerationRequest& r : requests) prompts += static_cast<long>(r.prompt.size());
    lockstep(run, prompts, settings);
  }
  if (tracer_) tracer_->setRound(-1);
  GenerationResult out =
      gather(run.sequences, run.logits, run.round_end, run.round_tokens, n, settings.keep_logits);
  out.schedule = schedule;
  return out;
}

long GenerationExecutor::runMicrobatch(Run& run, int mb, int round, long round_tokens,
                                       const GenerationSettings& settings) {
  enterLayer(-1, mb);
  if (tracer_) tracer_->setRound(round), tracer_->setMicrobatch(mb), tracer_->setLayer(-1);
  const StepPlan step = planStep(run.sequences, mb, round, round_tokens);
  std::vector<std::vector<float>> rows;
  const auto got = runStep(step, settings, settings.keep_logits ? &rows : nullptr);
  // The microbatch's rows of the round's new tokens, -1 where none was chosen: what the last
  // stage hands over (the other stages' rows are what it handed them).
  const auto first = chosen_host_.begin() + mb * microbatch_rows_;
  if (last_stage_) std::fill(first, first + microbatch_rows_, -1);
  for (std::size_t j = 0; j < got.size(); ++j) {
    chosen_host_[static_cast<std::size_t>(step.requests[j] - replica_.begin)] = got[j];
    if (!rows.empty()) {
      auto& kept = run.logits[static_cast<std::size_t>(step.requests[j])];
      kept.insert(kept.end(), rows[j].begin(), rows[j].end());
    }
  }
  return static_cast<long>(step.ids.size());
}

int GenerationExecutor::accept(Run& run, int first, int count, int round,
                               const GenerationSettings& settings) {
  int active = 0;
  for (int r = first; r < first + count; ++r) {
    Sequence& s = run.sequences[static_cast<std::size_t>(r)];
    const std::int32_t token = chosen_host_[static_cast<std::size_t>(r)];
    if (token >= 0 && s.active()) {
      s.tokens.push_back(token);
      if (s.first_round < 0) s.first_round = round;
      s.last_round = round;
      const auto& stop = settings.stop_tokens;
      if (std::find(stop.begin(), stop.end(), token) != stop.end()) {
        s.finish = kStop;
      } else if (s.generated() >= s.max_new) {
        s.finish = kLength;
      }
    }
    if (s.active()) ++active;
  }
  return active;
}

void GenerationExecutor::lockstep(Run& run, long first_round_tokens,
                                  const GenerationSettings& settings) {
  // The round's tokens over every replica (labels' global size): the prompts, then one a
  // request still running, agreed at each round's end.
  long all_tokens = first_round_tokens;
  std::vector<std::int32_t>& chosen = chosen_host_;
  const int replica_rows = static_cast<int>(chosen.size());
  for (int round = 0;; ++round) {
    long tokens = 0;
    for (int mb = 0; mb < plan_.microbatches; ++mb) {
      tokens += runMicrobatch(run, mb, round, all_tokens, settings);
    }
    enterLayer(-1, -1);
    if (tracer_) tracer_->setMicrobatch(-1), tracer_->setLayer(-1);
    // A replica with nothing to compute (every stage knows) chose nothing, unless its MoE
    // layers joined the others' exchanges with zero tokens, which draws the step whole.
    const bool idle = tokens == 0 && !joins_empty_steps_;
    // The last stage chose: every stage of the replica learns the new tokens.
    if (plan_.pp > 1 && !idle) {
      if (last_stage_) {
        backend_.copyFromHost(chosen_, chosen.data());
        // The device copy holds what the host's choice wrote (the graph's edge into the
        // broadcast).
        if (tracer_) {
          tracer_->recordBookkeeping(kOpDeviceCopy, {chosenRef(0, replica_rows)},
                                     {tracer_->ref(chosen_)});
        }
      }
      groups_.pp->broadcast(chosen_.view().raw(), chosen.size(), DType::I32, plan_.pp - 1);
      backend_.copyToHost(chosen.data(), chosen_);
    }
    if (tracer_ && !idle) {  // the model's output: the new tokens, as each rank of the replica
                             // holds them
      tracer_->recordBookkeeping(
          kOpModelOutput, {last_stage_ ? chosenRef(0, replica_rows) : tracer_->ref(chosen_)}, {});
    }
    backend_.synchronize();
    const int active = accept(run, 0, replica_rows, round, settings);
    run.round_end.push_back(seconds() - run.start);
    run.round_tokens.push_back(counter_ ? tokens : 0);
    // Whether any request goes on, and the next round's tokens (one a running request; one
    // rank of each replica counts its own).
    std::int32_t agreed[2] = {active, counter_ ? active : 0};
    world_.allReduce(agreed, 2, DType::I32, comm::ReduceOp::Sum);
    all_tokens = agreed[1];
    if (agreed[0] == 0) break;
    if (round > context_) throw std::logic_error("generate: more rounds than the context holds");
  }
}

void GenerationExecutor::overlapped(Run& run, const std::vector<long>& totals,
                                    const GenerationSettings& settings) {
  // Each stage takes the steps in the same order, round by round, microbatch by microbatch,
  // leaving out a microbatch with no request still running (the same on every stage, whose
  // sequences change only by the tokens every stage takes). Before a microbatch's next step
  // every stage takes the tokens its last step chose: the last stage from its own choice, the
  // others from the last stage's post. The post does not wait for its receiver, so the first
  // stage can be sending a later step forward while the last stage hands back an earlier one
  // (a blocking send there would close a ring of waiting ranks).
  comm::Communicator& pp = *groups_.pp;
  const int last = plan_.pp - 1;
  const int rows = microbatch_rows_;
  for (int round = 0;; ++round) {
    const long all_tokens =
        round < static_cast<int>(totals.size()) ? totals[static_cast<std::size_t>(round)] : 0;
    long tokens = 0;
    bool ran = false;
    for (int mb = 0; mb < plan_.microbatches; ++mb) {
      // Done, or rows with no request at all (a batch larger than the requests): it ran no step
      // last round, so nothing was handed over, and it runs none now.
      const auto first = run.sequences.begin() + mb * rows;
      if (std::none_of(first, first + rows, [](const Sequence& s) { return s.active(); })) {
        continue;
      }
      if (round > 0) {
        // It ran last round: take the tokens that step chose.
        // The hand-over belongs to the round that chose the tokens (its graph ends with them).
        enterLayer(-1, mb);
        if (tracer_) tracer_->setRound(round - 1), tracer_->setMicrobatch(mb);
        if (!last_stage_) {
          {
            const TraceLabel label(tracer_, kNewTokensHandOver);
            pp.recv(chosen_host_.data() + mb * rows, static_cast<std::size_t>(rows), DType::I32,
                    last);
          }
          if (tracer_) tracer_->recordBookkeeping(kOpModelOutput, {chosenRef(mb * rows, rows)}, {});
        }
        if (accept(run, mb * rows, rows, round - 1, settings) == 0) continue;
      }
      tokens += runMicrobatch(run, mb, round, all_tokens, settings);
      ran = true;
      if (last_stage_) {
        // The model's output: the microbatch's new tokens, as the last stage chose them.
        if (tracer_) tracer_->recordBookkeeping(kOpModelOutput, {chosenRef(mb * rows, rows)}, {});
        const TraceLabel label(tracer_, kNewTokensHandOver);
        for (int stage = 0; stage < last; ++stage) {
          pp.post(chosen_host_.data() + mb * rows, static_cast<std::size_t>(rows), DType::I32,
                  stage);
        }
      }
    }
    enterLayer(-1, -1);
    if (tracer_) tracer_->setMicrobatch(-1), tracer_->setLayer(-1);
    if (!ran) break;
    backend_.synchronize();
    run.round_end.push_back(seconds() - run.start);
    run.round_tokens.push_back(counter_ ? tokens : 0);
    if (round > context_) throw std::logic_error("generate: more rounds than the context holds");
  }
  pp.flushPosted();
}

GenerationResult GenerationExecutor::gather(const std::vector<Sequence>& sequences,
                                            const std::vector<std::vector<float>>& logits,
                                            const std::vector<double>& round_end,
                                            const std::vector<long>& round_tokens, int n,
                                            bool keep_logits) {
  // Each request is reported by one rank (its replica's last stage, tp rank 0); the others
  // add nothing to the reductions.
  int longest = 0;
  for (const Sequence& s : sequences) longest = std::max(longest, s.max_new);
  world_.allReduce(&longest, 1, DType::I32, comm::ReduceOp::Max);
  const std::size_t width = static_cast<std::size_t>(longest) + 3;  // tokens, finish, rounds
  std::vector<std::int32_t> table(static_cast<std::size_t>(n) * width, -1);
  if (reporter_) {
    for (const Sequence& s : sequences) {
      if (s.request < 0) continue;
      std::int32_t* row = table.data() + static_cast<std::size_t>(s.request) * width;
      std::copy(s.tokens.begin() + s.prompt, s.tokens.end(), row);
      row[longest] = s.finish;
      row[longest + 1] = s.first_round;
      row[longest + 2] = s.last_round;
    }
  }
  world_.allReduce(table.data(), table.size(), DType::I32, comm::ReduceOp::Max);
  GenerationResult out;
  for (int i = 0; i < n; ++i) {
    const std::int32_t* row = table.data() + static_cast<std::size_t>(i) * width;
    std::vector<std::int32_t> tokens;
    for (int j = 0; j < longest && row[j] >= 0; ++j) tokens.push_back(row[j]);
    out.tokens.push_back(tokens);
    out.finish.push_back(row[longest] == kStop ? "stop" : "length");
    out.first_round.push_back(row[longest + 1]);
    out.last_round.push_back(row[longest + 2]);
  }
  // Seconds as fp32 (the communicators' widest float): 1e-7 of the total, microseconds here.
  // Overlapping replicas run their own rounds: a round past a replica's last adds nothing.
  int rounds = static_cast<int>(round_end.size());
  world_.allReduce(&rounds, 1, DType::I32, comm::ReduceOp::Max);
  std::vector<float> ends(round_end.begin(), round_end.end());
  ends.resize(static_cast<std::size_t>(rounds), 0.0f);
  world_.allReduce(ends.data(), ends.size(), DType::F32, comm::ReduceOp::Max);
  out.round_seconds.assign(ends.begin(), ends.end());
  std::vector<std::int32_t> counted(round_tokens.begin(), round_tokens.end());
  counted.resize(static_cast<std::size_t>(rounds), 0);
  world_.allReduce(counted.data(), counted.size(), DType::I32, comm::ReduceOp::Sum);
  out.round_tokens.assign(counted.begin(), counted.end());
  if (keep_logits) {
    const std::size_t vocab = static_cast<std::size_t>(deployment_.model.vocab);
    for (int i = 0; i < n; ++i) {
      std::vector<float> rows(out.tokens[static_cast<std::size_t>(i)].size() * vocab, 0.0f);
      if (reporter_ && !logits[static_cast<std::size_t>(i)].empty()) {
        rows = logits[static_cast<std::size_t>(i)];
      }
      world_.allReduce(rows.data(), rows.size(), DType::F32, comm::ReduceOp::Sum);
      out.logits.push_back(std::move(rows));
    }
  }
  return out;
}

}  // namespace shardrt
