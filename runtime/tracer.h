// The tracer: one per rank, fed by the recorders that wrap the Backend and the Communicators
// (runtime/tracing_backend.h, runtime/tracing_communicator.h). It observes and never steers:
// with no tracer attached the executor runs exactly as before, and a recorder only adds two
// clock marks and one record per op.
//
// Besides ops, the stream holds a few bookkeeping records the graph builder replays to find
// data dependencies from addresses (op names in kPseudoOps): a fresh allocation or an upload
// from the host (nothing traced wrote those bytes), a device copy (the destination now holds
// what the source's writer wrote), and the model's input and output on this rank.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "runtime/backend.h"
#include "runtime/trace_event.h"

namespace shardrt {

// Bookkeeping records: not drawn as nodes and not shown on the timeline.
inline constexpr const char* kOpAllocate = "allocate";
inline constexpr const char* kOpHostWrite = "host_write";
inline constexpr const char* kOpDeviceCopy = "copy";
inline constexpr const char* kOpModelInput = "model_input";
inline constexpr const char* kOpModelOutput = "model_output";
bool isBookkeeping(const TraceEvent& event);
// The name of a round's new tokens handed from the last pipeline stage to the others when
// rounds overlap (runtime/generation_executor.h): recorded in the round that chose them, while
// the receiving stage already runs the next.
inline constexpr const char* kNewTokensHandOver = "new_tokens";

class Tracer {
 public:
  Tracer(Backend& backend, int world_rank) : backend_(backend), rank_(world_rank) {}

  // Starts a traced pass: drops earlier records and sets the clock's origin. Call on every rank
  // right after a barrier, so that the ranks' clocks start together.
  void start();
  // Ends the pass: waits for the device and turns clock marks into microseconds.
  std::vector<TraceEvent> finish();

  // Context the executor sets; records made meanwhile carry it.
  void setLayer(int layer) { layer_ = layer; }
  void setMicrobatch(int microbatch) { microbatch_ = microbatch; }
  void setRound(int round) { round_ = round; }
  // The executor's name for the ops that follow, and the FLOPs it counts for them: a recorder
  // that cannot count an op's FLOPs from its arguments alone (cached attention's visible keys
  // depend on the positions, which live on the device) takes the executor's (labelFlops).
  void pushLabel(std::string label, double flops = 0.0) {
    labels_.push_back(std::move(label));
    label_flops_.push_back(flops);
  }
  void popLabel() { labels_.pop_back(), label_flops_.pop_back(); }
  double labelFlops() const { return label_flops_.empty() ? 0.0 : label_flops_.back(); }
  // The MoE experts whose rows lie back to back in the buffers of the ops that follow:
  // elementwise ops and grouped GEMMs over those rows are recorded once per expert.
  void setExpertRows(std::vector<int> experts, std::vector<int> rows);
  void clearExpertRows() { expert_ids_.clear(), expert_rows_.clear(); }
  const std::vector<int>& expertIds() const { return expert_ids_; }
  const std::vector<int>& expertRows() const { return expert_rows_; }
  // Ops issued while quiet are not recorded: host-side bookkeeping off the data path (the
  // per-expert counts an MoE layer exchanges before its rows).
  void quiet(bool on) { quiet_ += on ? 1 : -1; }
  bool isQuiet() const { return quiet_ > 0; }

  // The recorders' side.
  bool recording() const { return active_ && quiet_ == 0; }
  std::size_t mark() { return backend_.mark(); }
  // e's rank, order and context are filled in here; start/end are clock marks.
  void record(TraceEvent event, std::size_t start_mark, std::size_t end_mark);
  void recordBookkeeping(const char* op, const std::vector<TensorRef>& reads,
                         const std::vector<TensorRef>& writes);
  // Work done on the host between device ops (indices made from the router's choice): a route
  // op with no duration of its own on the device's timeline.
  void recordHostOp(const char* op, const std::vector<TensorRef>& reads,
                    const std::vector<TensorRef>& writes);
  // A tensor the executor allocated: raw buffers handed to a Communicator are named by the
  // allocation they lie in.
  void allocated(const TensorView& tensor);
  TensorRef ref(const TensorView& tensor) const;
  // A view the executor is about to hand a Communicator as a raw pointer: refRaw names exactly
  // that memory with the view's shape, whose global sizes the allocation cannot know (a step's
  // tokens of its round, not of the buffer's capacity).
  void nameView(const TensorView& view) {
    views_[{reinterpret_cast<std::uint64_t>(view.raw()),
            static_cast<std::uint64_t>(view.bytes())}] = view.shape();
  }
  // count elements of dtype at p, shaped after the allocation that holds them (the first
  // dimension scaled when p covers part of it).
  TensorRef refRaw(const void* data, std::size_t count, DType dtype) const;
  int rank() const { return rank_; }

 private:
  // A record of no duration of its own, at the device's current point.
  void recordInstant(const char* op, const std::vector<TensorRef>& reads,
                     const std::vector<TensorRef>& writes);
  struct Allocation {
    std::uint64_t address, bytes;
    Shape shape;
    DType dtype;
  };

  Backend& backend_;
  int rank_;
  bool active_ = false;
  int quiet_ = 0;
  int layer_ = -1, microbatch_ = -1, round_ = -1;
  std::vector<std::string> labels_;
  std::vector<double> label_flops_;
  std::vector<int> expert_ids_, expert_rows_;
  // Live allocations by address (non-overlapping: a new one replaces those it overlaps).
  std::map<std::uint64_t, Allocation> allocations_;
  std::map<std::pair<std::uint64_t, std::uint64_t>, Shape> views_;  // (address, bytes): nameView
  std::vector<TraceEvent> events_;
  std::vector<std::pair<std::size_t, std::size_t>> marks_;  // per event: start, end
};

// Names the executor's ops for the tracer while it runs them (nothing when no tracer).
class TraceLabel {
 public:
  TraceLabel(Tracer* tracer, std::string label) : tracer_(tracer) {
    if (tracer_) tracer_->pushLabel(std::move(label));
  }
  ~TraceLabel() {
    if (tracer_) tracer_->popLabel();
  }
  TraceLabel(const TraceLabel&) = delete;
  TraceLabel& operator=(const TraceLabel&) = delete;

 private:
  Tracer* tracer_;
};

}  // namespace shardrt
