// Time and FLOPs per op kind, summed over a forward pass: what `shardrt run --profile` prints
// and what the GEMM-efficiency benchmark reads. Off unless asked for.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/op_context.h"
#include "runtime/tracer.h"

namespace shardrt {

class Backend;
class Tracer;

class OpProfile {
 public:
  struct Entry {
    std::string op;
    long calls = 0;
    double seconds = 0.0;
    double flops = 0.0;
  };

  void record(std::string_view op, double seconds, double flops);
  const std::vector<Entry>& entries() const { return entries_; }  // in first-seen order
  double totalSeconds() const;

 private:
  std::vector<Entry> entries_;
};

// Runs an op and, when a profile is attached, records its time and FLOPs under a name. The
// Backend measures the time in its own way (host clock on the CPU, CUDA events on a GPU), so
// that a GPU op is timed by the device, not by when the host happened to launch it.
// With a tracer attached, the ops run inside are named `label` (or `op`) in the trace.
class OpTimer {
 public:
  OpTimer(Backend& backend, OpProfile* profile) : backend_(backend), profile_(profile) {}
  void setProfile(OpProfile* profile) { profile_ = profile; }
  void setTracer(Tracer* tracer) { tracer_ = tracer; }
  Tracer* tracer() const { return tracer_; }

  template <typename Body>
  void operator()(std::string_view op, double flops, Body&& body, std::string_view label = {}) {
    const std::string_view name = label.empty() ? op : label;
    const long index = enterOp(name);
    if (OpFault fault = opFault(); fault && fault(index, name)) return;  // test-only: skipped
    if (tracer_) tracer_->pushLabel(std::string(label.empty() ? op : label), flops);
    if (!profile_) {
      body();
    } else {
      profile_->record(op, time(body), flops);
    }
    if (tracer_) tracer_->popLabel();
  }

 private:
  double time(const std::function<void()>& body);
  Backend& backend_;
  OpProfile* profile_;
  Tracer* tracer_ = nullptr;
};

}  // namespace shardrt
