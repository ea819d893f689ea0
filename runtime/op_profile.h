// Time and FLOPs per op kind, summed over a forward pass: what `shardrt run --profile` prints
// and what the GEMM-efficiency benchmark reads. Off unless asked for.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace shardrt {

class OpProfile {
 public:
  struct Entry {
    std::string op;
    long calls = 0;
    double seconds = 0.0;
    double flops = 0.0;
  };

  void record(std::string_view op, double seconds, double flops);
  void clear() { entries_.clear(); }
  const std::vector<Entry>& entries() const { return entries_; }  // in first-seen order
  double totalSeconds() const;

 private:
  std::vector<Entry> entries_;
};

}  // namespace shardrt
