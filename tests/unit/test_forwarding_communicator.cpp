// ForwardingCommunicator passes every call to its inner Communicator with the same arguments
// and returns what the inner one returned: each call is made once on a recording fake
// directly and once through the forwarder, and the two records must be the same.
#include <gtest/gtest.h>

#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "comm/forwarding_communicator.h"

namespace shardrt::comm {
namespace {

// Made-up buffers: the fake never reads them, it only writes down their addresses.
void* buffer(std::uintptr_t address) { return reinterpret_cast<void*>(address); }

std::string counts(const std::vector<std::size_t>& values) {
  std::string out;
  for (std::size_t v : values) out += std::to_string(v) + ",";
  return out;
}

// Writes each call it receives, with its arguments, as one line.
class RecordingCommunicator final : public Communicator {
 public:
  explicit RecordingCommunicator(std::vector<std::string>& calls)
      : Communicator("recorded"), calls_(calls) {}

  std::string_view backendName() const override { return "recording"; }
  int rank() const override { return 2; }
  int size() const override { return 5; }
  void allReduce(void* buf, std::size_t count, DType dtype, ReduceOp op) override {
    log("allReduce", buf, count, dtypeName(dtype), static_cast<int>(op));
  }
  void allGather(const void* send, void* recv, std::size_t count, DType dtype) override {
    log("allGather", send, recv, count, dtypeName(dtype));
  }
  void reduceScatter(const void* send, void* recv, std::size_t count, DType dtype,
                     ReduceOp op) override {
    log("reduceScatter", send, recv, count, dtypeName(dtype), static_cast<int>(op));
  }
  void gather(const void* send, void* recv, std::size_t count, DType dtype, int root) override {
    log("gather", send, recv, count, dtypeName(dtype), root);
  }
  void allGatherV(const void* send, void* recv, const std::vector<std::size_t>& sizes,
                  DType dtype) override {
    log("allGatherV", send, recv, counts(sizes), dtypeName(dtype));
  }
  void gatherV(const void* send, void* recv, const std::vector<std::size_t>& sizes, DType dtype,
               int root) override {
    log("gatherV", send, recv, counts(sizes), dtypeName(dtype), root);
  }
  void allToAllV(const void* send, const std::vector<std::size_t>& send_counts, void* recv,
                 const std::vector<std::size_t>& recv_counts, DType dtype) override {
    log("allToAllV", send, counts(send_counts), recv, counts(recv_counts), dtypeName(dtype));
  }
  void broadcast(void* buf, std::size_t count, DType dtype, int root) override {
    log("broadcast", buf, count, dtypeName(dtype), root);
  }
  void send(const void* buf, std::size_t count, DType dtype, int peer) override {
    log("send", buf, count, dtypeName(dtype), peer);
  }
  void recv(void* buf, std::size_t count, DType dtype, int peer) override {
    log("recv", buf, count, dtypeName(dtype), peer);
  }
  void post(const void* buf, std::size_t count, DType dtype, int peer) override {
    log("post", buf, count, dtypeName(dtype), peer);
  }
  void flushPosted() override { log("flushPosted"); }
  void barrier() override { log("barrier"); }
  std::unique_ptr<Communicator> split(int color, int key, std::string group_name) override {
    log("split", color, key, group_name);
    return std::make_unique<RecordingCommunicator>(calls_);
  }

 private:
  template <typename... Args>
  void log(const char* call, const Args&... args) {
    std::ostringstream line;
    line << call;
    ((line << ' ' << args), ...);
    calls_.push_back(line.str());
  }
  std::vector<std::string>& calls_;
};

// One call of every Communicator method, each with arguments distinct from the others', and
// what it returned, as text.
std::vector<std::function<std::string(Communicator&)>> everyCall() {
  auto none = [](auto&& call) {
    return [call](Communicator& c) {
      call(c);
      return std::string();
    };
  };
  return {
      [](Communicator& c) { return std::string(c.backendName()); },
      [](Communicator& c) { return c.groupName(); },
      [](Communicator& c) { return std::to_string(c.rank()); },
      [](Communicator& c) { return std::to_string(c.size()); },
      none([](Communicator& c) { c.allReduce(buffer(0x10), 3, DType::BF16, ReduceOp::Max); }),
      none([](Communicator& c) { c.allGather(buffer(0x20), buffer(0x30), 4, DType::F32); }),
      none([](Communicator& c) {
        c.reduceScatter(buffer(0x40), buffer(0x50), 5, DType::I32, ReduceOp::Min);
      }),
      none([](Communicator& c) { c.gather(buffer(0x60), buffer(0x70), 6, DType::F32, 1); }),
      none([](Communicator& c) {
        c.allGatherV(buffer(0x80), buffer(0x90), {1, 2}, DType::I32);
      }),
      none([](Communicator& c) {
        c.gatherV(buffer(0xA0), buffer(0xB0), {3, 4, 5}, DType::BF16, 3);
      }),
      none([](Communicator& c) {
        c.allToAllV(buffer(0xC0), {6, 7}, buffer(0xD0), {8, 9}, DType::F32);
      }),
      none([](Communicator& c) { c.broadcast(buffer(0xE0), 7, DType::I32, 4); }),
      none([](Communicator& c) { c.send(buffer(0xF0), 8, DType::BF16, 1); }),
      none([](Communicator& c) { c.recv(buffer(0x100), 9, DType::F32, 0); }),
      none([](Communicator& c) { c.post(buffer(0x110), 10, DType::I32, 2); }),
      none([](Communicator& c) { c.flushPosted(); }),
      none([](Communicator& c) { c.barrier(); }),
      [](Communicator& c) { return c.split(3, 1, "tp")->groupName(); },
  };
}

TEST(ForwardingCommunicator, ForwardsEveryCallWithItsArgumentsAndResult) {
  std::vector<std::string> direct_calls, inner_calls;
  RecordingCommunicator direct(direct_calls), inner(inner_calls);
  ForwardingCommunicator forwarding(inner);
  const auto calls = everyCall();
  for (std::size_t i = 0; i < calls.size(); ++i) {
    const std::string want = calls[i](direct);
    const std::string got = calls[i](forwarding);
    SCOPED_TRACE("call " + std::to_string(i) + ": " +
                 (direct_calls.empty() ? want : direct_calls.back()));
    EXPECT_EQ(got, want);
    EXPECT_EQ(inner_calls, direct_calls);  // the same calls reached the inner communicator
  }
  EXPECT_EQ(direct_calls.size(), calls.size() - 4);  // the four queries log nothing
}

}  // namespace
}  // namespace shardrt::comm
