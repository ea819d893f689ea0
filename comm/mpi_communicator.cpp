#include "comm/mpi_communicator.h"

#include <algorithm>
#include <climits>
#include <cstring>
#include <iterator>

#include "comm/collective_log.h"
#include "comm/progress_board.h"
#include "common/bfloat16.h"
#include "common/errors.h"
#include "common/mpi_check.h"

namespace shardrt::comm {
namespace {

// MPI has no bfloat16: it travels as 16-bit integers and reduces through our own MPI_Ops,
// which add, compare in fp32 and round back.
MPI_Datatype mpiType(DType dtype) {
  switch (dtype) {
    case DType::F32:
      return MPI_FLOAT;
    case DType::BF16:
      return MPI_UINT16_T;
    case DType::I32:
      return MPI_INT32_T;
  }
  throw CommError("mpi: unsupported dtype");
}

template <ReduceOp Op>
void reduceBfloat16(void* in, void* inout, int* len, MPI_Datatype*) {
  const auto* a = static_cast<const bfloat16*>(in);
  auto* b = static_cast<bfloat16*>(inout);
  for (int i = 0; i < *len; ++i) {
    const float x = toFloat(a[i]), y = toFloat(b[i]);
    const float r = Op == ReduceOp::Sum   ? x + y
                    : Op == ReduceOp::Max ? std::max(x, y)
                                          : std::min(x, y);
    b[i] = toBfloat16(r);
  }
}

MPI_Op bfloat16Op(ReduceOp op) {
  // Created once per process, on first use (after MPI_Init), and left to MPI_Finalize.
  static MPI_Op ops[3] = {MPI_OP_NULL, MPI_OP_NULL, MPI_OP_NULL};
  static MPI_User_function* functions[3] = {&reduceBfloat16<ReduceOp::Sum>,
                                            &reduceBfloat16<ReduceOp::Max>,
                                            &reduceBfloat16<ReduceOp::Min>};
  const int i = static_cast<int>(op);
  if (ops[i] == MPI_OP_NULL) MPI_CHECK(MPI_Op_create(functions[i], /*commute=*/1, &ops[i]));
  return ops[i];
}

MPI_Op mpiOp(ReduceOp op, DType dtype) {
  if (dtype == DType::BF16) return bfloat16Op(op);
  switch (op) {
    case ReduceOp::Sum:
      return MPI_SUM;
    case ReduceOp::Max:
      return MPI_MAX;
    case ReduceOp::Min:
      return MPI_MIN;
  }
  throw CommError("mpi: unsupported reduction");
}

// MPI counts are int; a larger message would silently wrap, so refuse it by name.
int mpiCount(std::size_t count, const char* what) {
  if (count > static_cast<std::size_t>(INT_MAX)) {
    throw CommError(std::string("mpi: ") + what + " of " + std::to_string(count) +
                    " elements exceeds MPI's int count limit");
  }
  return static_cast<int>(count);
}

// Counts and displacements in MPI's int form, for the v-collectives.
struct Layout {
  std::vector<int> counts, displs;
};

Layout mpiLayout(const std::vector<std::size_t>& counts, int group_size, const char* what) {
  if (static_cast<int>(counts.size()) != group_size) {
    throw CommError(std::string("mpi: ") + what + " needs one count per rank (" +
                    std::to_string(group_size) + "), got " + std::to_string(counts.size()));
  }
  Layout l;
  std::size_t offset = 0;
  for (std::size_t c : counts) {
    l.counts.push_back(mpiCount(c, what));
    l.displs.push_back(mpiCount(offset, what));
    offset += c;
  }
  return l;
}

// What --check-collectives compares: op, sequence number, element count, dtype, root and
// the runtime's call site; ops by their index in kOps.
constexpr int kDescriptorFields = 6;
const char* const kOps[] = {"all_reduce", "all_gather",    "reduce_scatter", "gather",
                            "all_gather_v", "gather_v",    "all_to_all_v",   "broadcast",
                            "barrier",     "send",          "recv"};

long long opCode(const char* op) {
  for (std::size_t i = 0; i < std::size(kOps); ++i) {
    if (std::strcmp(op, kOps[i]) == 0) return static_cast<long long>(i);
  }
  return -1;
}

std::string describeDescriptor(const long long* d) {
  const bool known = d[0] >= 0 && d[0] < static_cast<long long>(std::size(kOps));
  std::string out = std::string(known ? kOps[d[0]] : "an unknown op") + " #" + std::to_string(d[1]);
  if (d[2] >= 0) {
    out += " (" + std::to_string(d[2]) + " x " +
           std::string(dtypeName(static_cast<DType>(d[3]))) + ")";
  }
  if (d[4] >= 0) out += " to root " + std::to_string(d[4]);
  return out;
}

}  // namespace

std::unique_ptr<MpiCommunicator> MpiCommunicator::wrap(MPI_Comm comm, std::string group_name) {
  return std::unique_ptr<MpiCommunicator>(new MpiCommunicator(comm, false, std::move(group_name)));
}

MpiCommunicator::MpiCommunicator(MPI_Comm comm, bool owned, std::string group_name)
    : Communicator(group_name), comm_(comm), owned_(owned) {
  group_.name = std::move(group_name);
  // Errors come back as codes for MPI_CHECK to report, instead of MPI aborting silently.
  MPI_CHECK(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN));
  MPI_CHECK(MPI_Comm_rank(comm_, &group_.rank));
  MPI_CHECK(MPI_Comm_size(comm_, &group_.size));
  MPI_Group group = MPI_GROUP_NULL, world = MPI_GROUP_NULL;
  MPI_CHECK(MPI_Comm_group(comm_, &group));
  MPI_CHECK(MPI_Comm_group(MPI_COMM_WORLD, &world));
  std::vector<int> mine(size());
  for (int r = 0; r < size(); ++r) mine[r] = r;
  group_.world_ranks.resize(size());
  MPI_CHECK(
      MPI_Group_translate_ranks(group, size(), mine.data(), world, group_.world_ranks.data()));
  MPI_Group_free(&group);
  MPI_Group_free(&world);
  // A group of one waits for nobody; "self" has no slot, nor do unnamed groups.
  group_.board_slot = size() > 1 ? ProgressBoard::slotOf(groupName()) : -1;
}

MpiCommunicator::Call MpiCommunicator::begin(const char* op, long long count, DType dtype,
                                             int root, std::size_t bytes, bool agree) {
  Call call{op, nextCollectiveSeq(groupName()), count, dtype, root, bytes, -1};
  call.log_slot = beginCollective(groupName().c_str(), op, call.seq, bytes);
  ProgressBoard::entered(group_.board_slot, call.seq, op);
  if (!agree || !reliabilitySettings().check_collectives || size() == 1) return call;
  // Every rank states its call; all compare. A rank that skipped a collective, or read
  // another deployment, states a different op, sequence number or size: caught here
  // instead of hanging or mixing up buffers.
  const long long mine[kDescriptorFields] = {opCode(op), call.seq, count,
                                             static_cast<long long>(dtype), root, callSite()};
  std::vector<long long> all(static_cast<std::size_t>(size()) * kDescriptorFields);
  MPI_Request request = MPI_REQUEST_NULL;
  MPI_CHECK(MPI_Iallgather(mine, kDescriptorFields, MPI_LONG_LONG, all.data(), kDescriptorFields,
                           MPI_LONG_LONG, comm_, &request));
  wait(call, request, "the --check-collectives exchange before");
  for (int r = 0; r < size(); ++r) {
    const long long* theirs = &all[static_cast<std::size_t>(r) * kDescriptorFields];
    if (std::equal(mine, mine + kDescriptorFields, theirs)) continue;
    end(call);
    const bool same_call = std::equal(mine, mine + kDescriptorFields - 1, theirs);
    throw CommError("check-collectives: " + groupName() + " group: rank " +
                    std::to_string(rank()) + " (world " +
                    std::to_string(group_.world_ranks[rank()]) + ") calls " +
                    describeDescriptor(mine) + ", but rank " + std::to_string(r) +
                    " (world " + std::to_string(group_.world_ranks[r]) + ") calls " +
                    (same_call ? "it from another place in the layer (a collective was skipped "
                                 "or added on one of them)"
                               : describeDescriptor(theirs)));
  }
  return call;
}

void MpiCommunicator::end(const Call& call) {
  endCollective(call.log_slot);
  ProgressBoard::left();
}

void MpiCommunicator::finish(const Call& call, MPI_Request request) {
  wait(call, request, "");
  end(call);
}

void MpiCommunicator::wait(const Call& call, MPI_Request& request, const char* what) {
  const double timeout = reliabilitySettings().timeout_seconds;
  if (timeout <= 0.0) {
    MPI_CHECK(MPI_Wait(&request, MPI_STATUS_IGNORE));
    return;
  }
  // Poll instead of blocking, so that a collective some rank never joins ends in a report.
  watch(call, what, [&request] {
    int done = 0;
    MPI_CHECK(MPI_Test(&request, &done, MPI_STATUS_IGNORE));
    return done != 0;
  });
}

MpiCommunicator::~MpiCommunicator() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (owned_ && !finalized) MPI_Comm_free(&comm_);  // no throw from a destructor
}

void MpiCommunicator::allReduce(void* buf, std::size_t count, DType dtype, ReduceOp op) {
  const Call call = begin("all_reduce", count, dtype, -1, count * dtypeSize(dtype));
  MPI_Request r = MPI_REQUEST_NULL;
  MPI_CHECK(MPI_Iallreduce(MPI_IN_PLACE, buf, mpiCount(count, "all-reduce"), mpiType(dtype),
                           mpiOp(op, dtype), comm_, &r));
  finish(call, r);
}

void MpiCommunicator::allGather(const void* send, void* recv, std::size_t count, DType dtype) {
  const int n = mpiCount(count, "all-gather");
  const Call call = begin("all_gather", count, dtype, -1, count * dtypeSize(dtype));
  MPI_Request r = MPI_REQUEST_NULL;
  MPI_CHECK(MPI_Iallgather(send, n, mpiType(dtype), recv, n, mpiType(dtype), comm_, &r));
  finish(call, r);
}

void MpiCommunicator::reduceScatter(const void* send, void* recv, std::size_t count, DType dtype,
                                    ReduceOp op) {
  const Call call = begin("reduce_scatter", count, dtype, -1, count * size() * dtypeSize(dtype));
  MPI_Request r = MPI_REQUEST_NULL;
  MPI_CHECK(MPI_Ireduce_scatter_block(send, recv, mpiCount(count, "reduce-scatter"),
                                      mpiType(dtype), mpiOp(op, dtype), comm_, &r));
  finish(call, r);
}

void MpiCommunicator::gather(const void* send, void* recv, std::size_t count, DType dtype,
                             int root) {
  const int n = mpiCount(count, "gather");
  const Call call = begin("gather", count, dtype, root, count * dtypeSize(dtype));
  MPI_Request r = MPI_REQUEST_NULL;
  MPI_CHECK(MPI_Igather(send, n, mpiType(dtype), recv, n, mpiType(dtype), root, comm_, &r));
  finish(call, r);
}

namespace {
long long total(const std::vector<std::size_t>& counts) {
  long long t = 0;
  for (std::size_t c : counts) t += static_cast<long long>(c);
  return t;
}
}  // namespace

void MpiCommunicator::allGatherV(const void* send, void* recv,
                                 const std::vector<std::size_t>& counts, DType dtype) {
  const Layout l = mpiLayout(counts, size(), "all-gather-v");
  const Call call = begin("all_gather_v", total(counts), dtype, -1,
                          counts[rank()] * dtypeSize(dtype));
  MPI_Request r = MPI_REQUEST_NULL;
  MPI_CHECK(MPI_Iallgatherv(send, l.counts[rank()], mpiType(dtype), recv, l.counts.data(),
                            l.displs.data(), mpiType(dtype), comm_, &r));
  finish(call, r);
}

void MpiCommunicator::gatherV(const void* send, void* recv, const std::vector<std::size_t>& counts,
                              DType dtype, int root) {
  const Layout l = mpiLayout(counts, size(), "gather-v");
  const Call call = begin("gather_v", total(counts), dtype, root,
                          counts[rank()] * dtypeSize(dtype));
  MPI_Request r = MPI_REQUEST_NULL;
  MPI_CHECK(MPI_Igatherv(send, l.counts[rank()], mpiType(dtype), recv, l.counts.data(),
                         l.displs.data(), mpiType(dtype), root, comm_, &r));
  finish(call, r);
}

void MpiCommunicator::allToAllV(const void* send, const std::vector<std::size_t>& send_counts,
                                void* recv, const std::vector<std::size_t>& recv_counts,
                                DType dtype) {
  const Layout s = mpiLayout(send_counts, size(), "all-to-all-v send");
  const Layout rl = mpiLayout(recv_counts, size(), "all-to-all-v recv");
  // Each rank's counts differ by design: the check compares op, sequence and dtype only.
  const Call call = begin("all_to_all_v", -1, dtype, -1, total(send_counts) * dtypeSize(dtype));
  MPI_Request r = MPI_REQUEST_NULL;
  MPI_CHECK(MPI_Ialltoallv(send, s.counts.data(), s.displs.data(), mpiType(dtype), recv,
                           rl.counts.data(), rl.displs.data(), mpiType(dtype), comm_, &r));
  finish(call, r);
}

void MpiCommunicator::broadcast(void* buf, std::size_t count, DType dtype, int root) {
  const Call call = begin("broadcast", count, dtype, root, count * dtypeSize(dtype));
  MPI_Request r = MPI_REQUEST_NULL;
  MPI_CHECK(MPI_Ibcast(buf, mpiCount(count, "broadcast"), mpiType(dtype), root, comm_, &r));
  finish(call, r);
}

// Point to point: logged and watched, but not agreed on (the pair is not the whole group; a
// send with no receive shows as a stalled recv).
void MpiCommunicator::send(const void* buf, std::size_t count, DType dtype, int peer) {
  const Call call = begin("send", count, dtype, peer, count * dtypeSize(dtype), false);
  MPI_Request r = MPI_REQUEST_NULL;
  MPI_CHECK(MPI_Isend(buf, mpiCount(count, "send"), mpiType(dtype), peer, 0, comm_, &r));
  finish(call, r);
}

void MpiCommunicator::recv(void* buf, std::size_t count, DType dtype, int peer) {
  const Call call = begin("recv", count, dtype, peer, count * dtypeSize(dtype), false);
  MPI_Request r = MPI_REQUEST_NULL;
  MPI_CHECK(MPI_Irecv(buf, mpiCount(count, "recv"), mpiType(dtype), peer, 0, comm_, &r));
  finish(call, r);
}

// Numbered and logged as a send, at once; its wait is flushPosted's. The same tag as send, so
// that MPI's order between one sender and one receiver holds for both.
void MpiCommunicator::post(const void* buf, std::size_t count, DType dtype, int peer) {
  const std::size_t bytes = count * dtypeSize(dtype);
  Posted p{MPI_REQUEST_NULL, {}, begin("send", count, dtype, peer, bytes, false)};
  end(p.call);
  p.message.assign(static_cast<const char*>(buf), static_cast<const char*>(buf) + bytes);
  MPI_CHECK(MPI_Isend(p.message.data(), mpiCount(count, "post"), mpiType(dtype), peer, 0, comm_,
                      &p.request));
  posted_.push_back(std::move(p));
  // Drop the ones already received, oldest first, so that a long generation keeps few.
  while (!posted_.empty()) {
    int done = 0;
    MPI_CHECK(MPI_Test(&posted_.front().request, &done, MPI_STATUS_IGNORE));
    if (!done) break;
    posted_.pop_front();
  }
}

void MpiCommunicator::flushPosted() {
  while (!posted_.empty()) {
    wait(posted_.front().call, posted_.front().request, "the delivery of a posted");
    posted_.pop_front();
  }
}

void MpiCommunicator::barrier() {
  const Call call = begin("barrier", 0, DType::F32, -1, 0);
  MPI_Request r = MPI_REQUEST_NULL;
  MPI_CHECK(MPI_Ibarrier(comm_, &r));
  finish(call, r);
}

std::unique_ptr<Communicator> MpiCommunicator::split(int color, int key, std::string group_name) {
  return splitMpi(color, key, std::move(group_name));
}

std::unique_ptr<MpiCommunicator> MpiCommunicator::splitMpi(int color, int key,
                                                           std::string group_name) {
  MPI_Comm sub = MPI_COMM_NULL;
  MPI_CHECK(MPI_Comm_split(comm_, color, key, &sub));
  return std::unique_ptr<MpiCommunicator>(new MpiCommunicator(sub, true, std::move(group_name)));
}

}  // namespace shardrt::comm
