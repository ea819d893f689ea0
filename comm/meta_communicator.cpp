#include "comm/meta_communicator.h"

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <numeric>
#include <stdexcept>

#include "comm/meta_address.h"

namespace shardrt::comm {

struct MetaGroup;

struct MetaWorldState {
  explicit MetaWorldState(int n) : size(n) {}
  int size;
  std::mutex mu;
  std::condition_variable cv;
  bool aborted = false;
  std::map<std::pair<int, int>, std::deque<std::vector<char>>> channels;  // (from, to) world
  std::shared_ptr<MetaGroup> world;

  void check() const {
    if (aborted) throw std::runtime_error("dry run stopped: another rank failed");
  }
};

// One group's meeting point: what each member passed to the current call.
struct MetaGroup {
  MetaGroup(MetaWorldState* w, std::vector<int> m) : world(w), members(std::move(m)) {
    calls.resize(members.size());
  }
  struct Call {
    const void* send = nullptr;
    void* recv = nullptr;
    std::vector<std::size_t> counts;  // elements, per member where the op has several
    int color = 0, key = 0;
  };
  MetaWorldState* world;
  std::vector<int> members;  // world ranks, in group rank order
  std::vector<Call> calls;
  long arrived = 0, generation = 0;
  std::map<std::pair<long, int>, std::shared_ptr<MetaGroup>> children;  // (split, color)

  // Every member waits here until all have arrived (or the run is aborted).
  void barrier() {
    std::unique_lock lock(world->mu);
    world->check();
    const long gen = generation;
    if (++arrived == static_cast<long>(members.size())) {
      arrived = 0;
      ++generation;
      world->cv.notify_all();
      return;
    }
    world->cv.wait(lock, [&] { return generation != gen || world->aborted; });
    world->check();
  }
};

namespace {

bool moves(const void* p) { return p != nullptr && !isMetaAddress(p); }

template <typename T>
void reduceInto(T* acc, const T* x, std::size_t n, ReduceOp op) {
  for (std::size_t i = 0; i < n; ++i) {
    acc[i] = op == ReduceOp::Sum   ? acc[i] + x[i]
             : op == ReduceOp::Max ? std::max(acc[i], x[i])
                                   : std::min(acc[i], x[i]);
  }
}

class MetaCommunicator final : public Communicator {
 public:
  MetaCommunicator(std::shared_ptr<MetaGroup> group, int rank, std::string name)
      : Communicator(std::move(name)), group_(std::move(group)), rank_(rank) {}

  std::string_view backendName() const override { return "meta"; }
  int rank() const override { return rank_; }
  int size() const override { return static_cast<int>(group_->members.size()); }

  void allReduce(void* buf, std::size_t count, DType dtype, ReduceOp op) override {
    publish({buf, buf, {count}});
    std::vector<char> result;
    if (moves(buf)) {
      const std::size_t bytes = count * dtypeSize(dtype);
      result.assign(static_cast<const char*>(group_->calls[0].send),
                    static_cast<const char*>(group_->calls[0].send) + bytes);
      for (int r = 1; r < size(); ++r) {
        const void* x = group_->calls[r].send;
        if (dtype == DType::F32) {
          reduceInto(reinterpret_cast<float*>(result.data()), static_cast<const float*>(x), count,
                     op);
        } else if (dtype == DType::I32) {
          reduceInto(reinterpret_cast<std::int32_t*>(result.data()),
                     static_cast<const std::int32_t*>(x), count, op);
        } else {
          throw std::invalid_argument("meta all_reduce: host bf16 is not supported");
        }
      }
    }
    group_->barrier();  // everyone has read every buffer: now write our own
    if (!result.empty()) std::memcpy(buf, result.data(), result.size());
  }

  void allGather(const void* send, void* recv, std::size_t count, DType dtype) override {
    allGatherV(send, recv, std::vector<std::size_t>(size(), count), dtype);
  }

  void reduceScatter(const void* send, void* recv, std::size_t count, DType dtype,
                     ReduceOp op) override {
    if (moves(send)) throw std::invalid_argument("meta reduce_scatter: host buffers unsupported");
    (void)recv, (void)count, (void)dtype, (void)op;
    publish({send, recv, {}});
    group_->barrier();
  }

  void gather(const void* send, void* recv, std::size_t count, DType dtype, int root) override {
    gatherV(send, recv, std::vector<std::size_t>(size(), count), dtype, root);
  }

  void allGatherV(const void* send, void* recv, const std::vector<std::size_t>& counts,
                  DType dtype) override {
    publish({send, recv, counts});
    collect(recv, counts, dtype);
    group_->barrier();
  }

  void gatherV(const void* send, void* recv, const std::vector<std::size_t>& counts, DType dtype,
               int root) override {
    publish({send, recv, counts});
    if (rank_ == root) collect(recv, counts, dtype);
    group_->barrier();
  }

  void allToAllV(const void* send, const std::vector<std::size_t>& send_counts, void* recv,
                 const std::vector<std::size_t>& recv_counts, DType dtype) override {
    publish({send, recv, send_counts});
    if (moves(recv)) {
      const std::size_t e = dtypeSize(dtype);
      char* out = static_cast<char*>(recv);
      for (int p = 0; p < size(); ++p) {
        // Peer p's block for us starts after its blocks for the ranks before us.
        const auto& theirs = group_->calls[p].counts;
        const std::size_t offset = std::accumulate(theirs.begin(), theirs.begin() + rank_, 0UL);
        std::memcpy(out, static_cast<const char*>(group_->calls[p].send) + offset * e,
                    recv_counts[p] * e);
        out += recv_counts[p] * e;
      }
    }
    group_->barrier();
  }

  void broadcast(void* buf, std::size_t count, DType dtype, int root) override {
    publish({buf, buf, {count}});
    if (moves(buf) && rank_ != root) {
      std::memcpy(buf, group_->calls[root].send, count * dtypeSize(dtype));
    }
    group_->barrier();
  }

  void send(const void* buf, std::size_t count, DType dtype, int peer) override {
    MetaWorldState& w = *group_->world;
    std::vector<char> message;
    if (moves(buf)) {
      message.assign(static_cast<const char*>(buf),
                     static_cast<const char*>(buf) + count * dtypeSize(dtype));
    }
    std::lock_guard lock(w.mu);
    w.check();
    w.channels[{group_->members[rank_], group_->members.at(peer)}].push_back(std::move(message));
    w.cv.notify_all();
  }

  void recv(void* buf, std::size_t count, DType dtype, int peer) override {
    MetaWorldState& w = *group_->world;
    std::unique_lock lock(w.mu);
    auto& channel = w.channels[{group_->members.at(peer), group_->members[rank_]}];
    w.cv.wait(lock, [&] { return !channel.empty() || w.aborted; });
    w.check();
    std::vector<char> message = std::move(channel.front());
    channel.pop_front();
    if (moves(buf) && !message.empty()) {
      std::memcpy(buf, message.data(), std::min(message.size(), count * dtypeSize(dtype)));
    }
  }

  // send already returns at once: the message waits in its channel.
  void post(const void* buf, std::size_t count, DType dtype, int peer) override {
    send(buf, count, dtype, peer);
  }
  void flushPosted() override {}

  void barrier() override { group_->barrier(); }

  std::unique_ptr<Communicator> split(int color, int key, std::string group_name) override {
    MetaGroup::Call call;
    call.color = color;
    call.key = key;
    publish(call);
    std::vector<int> order;  // group ranks of my color, by (key, rank)
    for (int r = 0; r < size(); ++r) {
      if (group_->calls[r].color == color) order.push_back(r);
    }
    std::stable_sort(order.begin(), order.end(),
                     [&](int a, int b) { return group_->calls[a].key < group_->calls[b].key; });
    std::shared_ptr<MetaGroup> child;
    {
      std::lock_guard lock(group_->world->mu);
      auto& slot = group_->children[{splits_, color}];
      if (!slot) {
        std::vector<int> members;
        for (int r : order) members.push_back(group_->members[r]);
        slot = std::make_shared<MetaGroup>(group_->world, members);
      }
      child = slot;
    }
    ++splits_;
    group_->barrier();
    const int new_rank =
        static_cast<int>(std::find(order.begin(), order.end(), rank_) - order.begin());
    return std::make_unique<MetaCommunicator>(child, new_rank, std::move(group_name));
  }

 private:
  // Our part of the call, then wait for everyone's.
  void publish(MetaGroup::Call call) {
    {
      std::lock_guard lock(group_->world->mu);
      group_->calls[rank_] = std::move(call);
    }
    group_->barrier();
  }

  // recv = every member's send, counts[r] elements from member r, back to back.
  void collect(void* recv, const std::vector<std::size_t>& counts, DType dtype) {
    if (!moves(recv)) return;
    const std::size_t e = dtypeSize(dtype);
    char* out = static_cast<char*>(recv);
    for (int r = 0; r < size(); ++r) {
      std::memcpy(out, group_->calls[r].send, counts[r] * e);
      out += counts[r] * e;
    }
  }

  std::shared_ptr<MetaGroup> group_;
  int rank_;
  long splits_ = 0;
};

}  // namespace

MetaWorld::MetaWorld(int size) : state_(std::make_shared<MetaWorldState>(size)) {
  std::vector<int> members(size);
  std::iota(members.begin(), members.end(), 0);
  state_->world = std::make_shared<MetaGroup>(state_.get(), members);
}

MetaWorld::~MetaWorld() = default;

int MetaWorld::size() const { return state_->size; }

std::unique_ptr<Communicator> MetaWorld::communicator(int rank) {
  return std::make_unique<MetaCommunicator>(state_->world, rank, "world");
}

void MetaWorld::abort() {
  std::lock_guard lock(state_->mu);
  state_->aborted = true;
  state_->cv.notify_all();
}

}  // namespace shardrt::comm
