// Generation: a prefill of the prompts, then one decode step per new token, on one rank's
// share of the model (runtime/transformer.h at the token level). Each data-parallel replica
// serves the requests of its batch rows (request i is batch row i) in its microbatches, which
// go through the stages one after another, so that while the last stage decodes one
// microbatch the stages before it work on the next. Round 0 is the
// prefill: a microbatch's prompts packed back to back, no padding. Each later round feeds every
// unfinished request its newest token. A request ends at max_new_tokens or at a stop token,
// and its row leaves the steps that follow; the others go on.
//
// The last stage chooses the tokens: its tp ranks each hold the logits of a block of the
// vocabulary (the LM head split by rows, Megatron's parallel output layer); greedy choice is
// the best of each block's argmax, gathered over tp (a value and an id a row, never the
// logits); sampling gathers the rows of the requests chosen for (runtime/token_sampler.h).
//
// Two schedules (RoundSchedule). Overlapped, the default: the last stage posts each
// microbatch's new tokens to the other stages as soon as it has chosen them, and each stage
// takes them just before that microbatch's next step, so with at least pp microbatches the
// first stage starts round r + 1 while the later stages finish round r (vLLM's virtual
// engines keep the pipeline full the same way); replicas run on their own. Lockstep: at the
// end of a round the last stage broadcasts the new tokens over the pipeline and the world
// agrees on the next round. It is needed where an expert-parallel group spans replicas: a
// replica with nothing left to decode still joins its MoE layers' exchanges with zero tokens,
// so every replica must run the same rounds. Elsewhere a zero-token step is skipped.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "comm/communicator.h"
#include "config/deployment.h"
#include "config/parallel_layout.h"
#include "config/plan.h"
#include "runtime/backend.h"
#include "runtime/token_sampler.h"
#include "runtime/tracer.h"
#include "runtime/transformer.h"

namespace shardrt {

struct GenerationRequest {
  std::vector<std::int32_t> prompt;
  int max_new_tokens = 0;
};

// How a replica's rounds follow one another (docs/generate.md, "Rounds and the pipeline").
enum class RoundSchedule {
  // Each microbatch goes on to its next step as soon as its new tokens are known: the last
  // stage posts them to the other stages, and the first starts the step while the later
  // stages still work on the round's other microbatches. Replicas run on their own. Where an
  // expert-parallel group spans replicas (which must join each other's steps), lockstep.
  Overlap,
  // Every microbatch of a round through every stage, then the new tokens broadcast over the
  // pipeline and the rounds agreed over the world before the next.
  Lockstep,
};

// "overlap" or "lockstep", as --schedule and generate.json name them, and back.
inline const char* roundScheduleName(RoundSchedule schedule) {
  return schedule == RoundSchedule::Overlap ? "overlap" : "lockstep";
}
inline RoundSchedule roundScheduleNamed(const std::string& name) {
  return name == "lockstep" ? RoundSchedule::Lockstep : RoundSchedule::Overlap;
}

struct GenerationSettings {
  Sampling sampling;                      // greedy by default
  std::vector<std::int32_t> stop_tokens;  // a request that chooses one ends (the token is kept)
  bool keep_logits = false;               // every chosen token's whole logits row, for validation
  RoundSchedule schedule = RoundSchedule::Overlap;
  // The tokens of each round over every replica, for a trace's labels (a Dim's whole) when
  // overlapping rounds, which agree on nothing: those of an earlier generation of the same
  // requests. Without them they are known only without stop tokens; a traced generation that
  // knows neither runs lockstep.
  std::vector<long> round_tokens;
};

// What generate() returns, the same on every rank.
struct GenerationResult {
  std::vector<std::vector<std::int32_t>> tokens;  // per request, the new tokens
  std::vector<std::string> finish;                // per request: "stop" or "length"
  std::vector<int> first_round, last_round;  // per request: the rounds of its first and last token
  std::vector<double> round_seconds;         // per round (0: the prefill), the slowest rank's
  std::vector<long> round_tokens;            // tokens computed in each round, all replicas
  RoundSchedule schedule = RoundSchedule::Overlap;  // the one that ran
  // keep_logits: per request, its chosen tokens' logits rows back to back (vocab each).
  std::vector<std::vector<float>> logits;
};

class GenerationExecutor {
 public:
  // world: every rank of the run, on host memory (MPI), for agreeing on the rounds and
  // gathering the results; groups: the executor's, on the backend's memory.
  GenerationExecutor(const config::Deployment& deployment, const config::Plan& plan,
                     const config::ParallelLayout& layout, Backend& backend, ExecutorGroups groups,
                     comm::Communicator& world, ExecutorOptions options);

  // The schedule these settings run with here: Overlap falls back to Lockstep where an ep group
  // spans replicas, or under a tracer that cannot know the rounds' tokens (see
  // GenerationSettings::round_tokens). The same on every rank of a plan.
  RoundSchedule scheduleFor(const std::vector<GenerationRequest>& requests,
                            const GenerationSettings& settings) const;

  // Every rank calls it with the same requests (at most workload.batch_size, each within
  // workload.seq_len, no microbatch's prompts longer than options.step_tokens: checked before,
  // by the command).
  GenerationResult generate(const std::vector<GenerationRequest>& requests,
                            const GenerationSettings& settings);

  // The largest step these requests make on any rank of the plan: a microbatch's prompts
  // packed (the prefill) or its rows (a decode step). options.step_tokens sizes the buffers to
  // it; without it they hold a microbatch's rows of workload.seq_len tokens.
  static long stepTokens(const config::Plan& plan, const std::vector<GenerationRequest>& requests);

  std::size_t kvCacheBytes() const;

  // CUDA graphs (issue 17, item 9): each decode step's device work (the embedding, the layers,
  // the LM head) recorded once per microbatch and token count, then replayed, its inputs
  // uploaded into the same buffers first. Empty when this rank can: otherwise why not (a
  // backend without capture; pp > 1, whose sends and receives the rounds order on the host; MoE
  // layers, which route on the host; latent attention, whose step uploads its head order; a tp
  // group whose collectives wait on the host). Every rank of a plan gives the same answer.
  std::string graphsUnavailable() const;
  // Records and replays decode steps from now on (graphsUnavailable() must be empty).
  void useGraphs() { graphs_on_ = true; }
  int graphsCaptured() const { return static_cast<int>(graphs_.size()); }

  // Records the generations that follow on `tracer` (null: none), which must be the one the
  // backend and communicators this executor runs on record to. Each record carries its round
  // (0: the prefill, then one per decode step); each round records the model's input (a step's
  // token ids, on the first stage) and output (the new tokens, on every rank of the replica once
  // it knows them), so that a round's records make a deployment graph of their own
  // (dag/deployment_graph.h).
  void setTracer(Tracer* tracer);

 private:
  struct Sequence;  // one request's state on this replica
  struct StepPlan;  // one microbatch's tokens in one round
  struct Run;       // one generation's state on this rank
  void lockstep(Run& run, long first_round_tokens, const GenerationSettings& settings);
  void overlapped(Run& run, const std::vector<long>& totals, const GenerationSettings& settings);
  // Runs microbatch `mb`'s step of `round` through this stage; on the last stage puts its new
  // tokens in chosen_host_ (and keeps their logits). Returns the step's tokens.
  long runMicrobatch(Run& run, int mb, int round, long round_tokens,
                     const GenerationSettings& settings);
  // Takes the new tokens of replica rows [first, first + count) from chosen_host_ (-1: none),
  // chosen in `round`; returns how many of those rows' requests go on.
  int accept(Run& run, int first, int count, int round, const GenerationSettings& settings);
  // The tokens of each round over every replica, where known (see round_tokens above).
  static std::vector<long> roundTotals(const std::vector<GenerationRequest>& requests,
                                       const GenerationSettings& settings);
  StepPlan planStep(const std::vector<Sequence>& sequences, int microbatch, int round,
                    long round_tokens) const;
  // Runs the step through this stage; on the last stage returns the chosen tokens, one per
  // entry of plan.requests (and their logits rows with keep_logits).
  std::vector<std::int32_t> runStep(const StepPlan& plan, const GenerationSettings& settings,
                                    std::vector<std::vector<float>>* logits_rows);
  std::vector<std::int32_t> chooseTokens(const StepPlan& plan, const TensorView& logits,
                                         const GenerationSettings& settings,
                                         std::vector<std::vector<float>>* logits_rows);
  std::vector<float> gatherLogits(const TensorView& logits, long rows);
  // The tracer's name for `count` of this round's new tokens from replica row `row` on
  // (chosen_host_, on the host).
  TensorRef chosenRef(int row, int count) const;
  // Every request's result from the rank that reports it, on every rank.
  GenerationResult gather(const std::vector<Sequence>& sequences,
                          const std::vector<std::vector<float>>& logits,
                          const std::vector<double>& round_end,
                          const std::vector<long>& round_tokens, int n, bool keep_logits);

  const config::Deployment& deployment_;
  const config::Plan& plan_;
  Backend& backend_;
  ExecutorGroups groups_;
  comm::Communicator& world_;
  TransformerExecutor executor_;
  config::Range replica_;  // this replica's batch rows
  int microbatch_rows_;
  int context_;
  bool first_stage_, last_stage_;
  bool reporter_;           // the replica's last stage, tp rank 0: reports its requests
  bool counter_;            // the replica's first stage, tp rank 0: counts its tokens
  bool joins_empty_steps_;  // the stage's MoE exchanges span replicas
  KvCache cache_;
  Tracer* tracer_ = nullptr;
  bool graphs_on_ = false;
  std::map<std::pair<int, long>, int> graphs_;  // (microbatch, tokens) -> Backend graph
  std::vector<std::int32_t> chosen_host_;  // a round's new tokens, one per replica row (-1: none)
  // Device buffers of a step, allocated once for the largest: the tokens' ids, sequences,
  // positions and cache slots; the rows whose logits are computed; the logits; a round's new
  // tokens, one per replica row (what the last stage broadcasts over the pipeline).
  Tensor ids_, seq_, pos_, slot_, picked_, logits_, chosen_;
  Tensor best_value_, best_index_, gathered_value_, gathered_index_, gathered_logits_;
};

}  // namespace shardrt
