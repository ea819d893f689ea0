#include "runtime/tracer.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace shardrt {

const char* opKindName(OpKind kind) {
  switch (kind) {
    case OpKind::Compute:
      return "compute";
    case OpKind::Comm:
      return "comm";
    case OpKind::Route:
      return "route";
  }
  return "?";
}

bool isBookkeeping(const TraceEvent& event) {
  for (const char* op : {kOpAllocate, kOpHostWrite, kOpDeviceCopy, kOpModelInput, kOpModelOutput}) {
    if (event.op == op) return true;
  }
  return false;
}

void Tracer::start() {
  events_.clear();
  views_.clear();
  marks_.clear();
  backend_.synchronize();
  backend_.clearMarks();
  backend_.mark();  // the origin: right after the barrier the caller passed
  active_ = true;
}

std::vector<TraceEvent> Tracer::finish() {
  backend_.synchronize();
  active_ = false;
  for (std::size_t i = 0; i < events_.size(); ++i) {
    events_[i].start_us = backend_.markMicroseconds(marks_[i].first);
    events_[i].end_us = backend_.markMicroseconds(marks_[i].second);
  }
  marks_.clear();
  return std::move(events_);
}

void Tracer::setExpertRows(std::vector<int> experts, std::vector<int> rows) {
  if (experts.size() != rows.size()) throw std::logic_error("tracer: one row count per expert");
  expert_ids_ = std::move(experts);
  expert_rows_ = std::move(rows);
}

void Tracer::record(TraceEvent event, std::size_t start_mark, std::size_t end_mark) {
  event.rank = rank_;
  event.seq = static_cast<long>(events_.size());
  event.layer = layer_;
  event.microbatch = microbatch_;
  event.round = round_;
  if (event.name.empty()) event.name = labels_.empty() ? event.op : labels_.back();
  events_.push_back(std::move(event));
  marks_.emplace_back(start_mark, end_mark);
}

void Tracer::recordInstant(const char* op, const std::vector<TensorRef>& reads,
                           const std::vector<TensorRef>& writes) {
  TraceEvent e;
  e.kind = OpKind::Route;
  e.op = op;
  e.inputs = reads;
  e.outputs = writes;
  const std::size_t m = backend_.mark();
  record(std::move(e), m, m);
}

// Kept while quiet too: what memory holds must stay right for the ops recorded after.
void Tracer::recordBookkeeping(const char* op, const std::vector<TensorRef>& reads,
                               const std::vector<TensorRef>& writes) {
  if (active_) recordInstant(op, reads, writes);
}

void Tracer::recordHostOp(const char* op, const std::vector<TensorRef>& reads,
                          const std::vector<TensorRef>& writes) {
  if (recording()) recordInstant(op, reads, writes);
}

void Tracer::allocated(const TensorView& tensor) {
  // Kept also outside traced passes: the executor allocates its buffers once, up front.
  const auto address = reinterpret_cast<std::uint64_t>(tensor.raw());
  const auto bytes = static_cast<std::uint64_t>(tensor.bytes());
  // Memory reused: the allocations the new one overlaps are gone. An empty tensor is still
  // named by its address (an expert-parallel rank may receive no row).
  auto it = allocations_.lower_bound(address);
  if (it != allocations_.begin()) {
    auto before = std::prev(it);
    if (before->second.address + before->second.bytes > address) it = before;
  }
  while (it != allocations_.end() && it->first < address + std::max<std::uint64_t>(bytes, 1)) {
    it = allocations_.erase(it);
  }
  allocations_[address] = {address, bytes, tensor.shape(), tensor.dtype()};
  recordBookkeeping(kOpAllocate, {}, {ref(tensor)});
}

TensorRef Tracer::ref(const TensorView& tensor) const {
  return {reinterpret_cast<std::uint64_t>(tensor.raw()), static_cast<std::uint64_t>(tensor.bytes()),
          tensor.shape()};
}

TensorRef Tracer::refRaw(const void* data, std::size_t count, DType dtype) const {
  const auto address = reinterpret_cast<std::uint64_t>(data);
  const std::uint64_t bytes = count * dtypeSize(dtype);
  if (const auto named = views_.find({address, bytes}); named != views_.end()) {
    return {address, bytes, named->second};
  }
  auto it = allocations_.upper_bound(address);
  if (it != allocations_.begin()) {
    const Allocation& a = std::prev(it)->second;
    if (address + bytes <= a.address + a.bytes) {
      if (address == a.address && bytes == a.bytes) return {address, bytes, a.shape};
      // Part of the allocation: as many of its leading rows as the count covers. Rows of a
      // buffer sized for the largest pass (its first dimension not a shard of anything) are
      // that many rows, not a shard of the buffer's capacity.
      const std::int64_t row =
          a.shape.rank() > 0 && a.shape.size(0) > 0 ? a.shape.numel() / a.shape.size(0) : 0;
      if (row > 0 && count % row == 0) {
        std::vector<Dim> dims = a.shape.dims();
        const auto rows = static_cast<std::int64_t>(count) / row;
        dims[0] = Dim(dims[0].name, rows, dims[0].sharded() ? dims[0].global : rows);
        return {address, bytes, Shape(dims)};
      }
    }
  }
  return {address, bytes, Shape{Dim("elements", static_cast<std::int64_t>(count))}};
}

}  // namespace shardrt
