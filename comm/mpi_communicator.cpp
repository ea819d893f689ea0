#include "comm/mpi_communicator.h"

#include <algorithm>
#include <climits>

#include "comm/mpi_check.h"
#include "common/bfloat16.h"

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

}  // namespace

std::unique_ptr<MpiCommunicator> MpiCommunicator::wrap(MPI_Comm comm, std::string group_name) {
  return std::unique_ptr<MpiCommunicator>(new MpiCommunicator(comm, false, std::move(group_name)));
}

MpiCommunicator::MpiCommunicator(MPI_Comm comm, bool owned, std::string group_name)
    : Communicator(std::move(group_name)), comm_(comm), owned_(owned) {
  // Errors come back as codes for MPI_CHECK to report, instead of MPI aborting silently.
  MPI_CHECK(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN));
  MPI_CHECK(MPI_Comm_rank(comm_, &rank_));
  MPI_CHECK(MPI_Comm_size(comm_, &size_));
}

MpiCommunicator::~MpiCommunicator() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (owned_ && !finalized) MPI_Comm_free(&comm_);  // no throw from a destructor
}

void MpiCommunicator::allReduce(void* buf, std::size_t count, DType dtype, ReduceOp op) {
  MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, buf, mpiCount(count, "all-reduce"), mpiType(dtype),
                          mpiOp(op, dtype), comm_));
}

void MpiCommunicator::allGather(const void* send, void* recv, std::size_t count, DType dtype) {
  const int n = mpiCount(count, "all-gather");
  MPI_CHECK(MPI_Allgather(send, n, mpiType(dtype), recv, n, mpiType(dtype), comm_));
}

void MpiCommunicator::reduceScatter(const void* send, void* recv, std::size_t count, DType dtype,
                                    ReduceOp op) {
  MPI_CHECK(MPI_Reduce_scatter_block(send, recv, mpiCount(count, "reduce-scatter"), mpiType(dtype),
                                     mpiOp(op, dtype), comm_));
}

void MpiCommunicator::gather(const void* send, void* recv, std::size_t count, DType dtype,
                             int root) {
  const int n = mpiCount(count, "gather");
  MPI_CHECK(MPI_Gather(send, n, mpiType(dtype), recv, n, mpiType(dtype), root, comm_));
}

void MpiCommunicator::allGatherV(const void* send, void* recv,
                                 const std::vector<std::size_t>& counts, DType dtype) {
  const Layout l = mpiLayout(counts, size_, "all-gather-v");
  MPI_CHECK(MPI_Allgatherv(send, l.counts[rank_], mpiType(dtype), recv, l.counts.data(),
                           l.displs.data(), mpiType(dtype), comm_));
}

void MpiCommunicator::gatherV(const void* send, void* recv, const std::vector<std::size_t>& counts,
                              DType dtype, int root) {
  const Layout l = mpiLayout(counts, size_, "gather-v");
  MPI_CHECK(MPI_Gatherv(send, l.counts[rank_], mpiType(dtype), recv, l.counts.data(),
                        l.displs.data(), mpiType(dtype), root, comm_));
}

void MpiCommunicator::allToAllV(const void* send, const std::vector<std::size_t>& send_counts,
                                void* recv, const std::vector<std::size_t>& recv_counts,
                                DType dtype) {
  const Layout s = mpiLayout(send_counts, size_, "all-to-all-v send");
  const Layout r = mpiLayout(recv_counts, size_, "all-to-all-v recv");
  MPI_CHECK(MPI_Alltoallv(send, s.counts.data(), s.displs.data(), mpiType(dtype), recv,
                          r.counts.data(), r.displs.data(), mpiType(dtype), comm_));
}

void MpiCommunicator::broadcast(void* buf, std::size_t count, DType dtype, int root) {
  MPI_CHECK(MPI_Bcast(buf, mpiCount(count, "broadcast"), mpiType(dtype), root, comm_));
}

void MpiCommunicator::send(const void* buf, std::size_t count, DType dtype, int peer) {
  MPI_CHECK(MPI_Send(buf, mpiCount(count, "send"), mpiType(dtype), peer, 0, comm_));
}

void MpiCommunicator::recv(void* buf, std::size_t count, DType dtype, int peer) {
  MPI_CHECK(
      MPI_Recv(buf, mpiCount(count, "recv"), mpiType(dtype), peer, 0, comm_, MPI_STATUS_IGNORE));
}

void MpiCommunicator::barrier() { MPI_CHECK(MPI_Barrier(comm_)); }

std::unique_ptr<Communicator> MpiCommunicator::split(int color, int key, std::string group_name) {
  MPI_Comm sub = MPI_COMM_NULL;
  MPI_CHECK(MPI_Comm_split(comm_, color, key, &sub));
  return std::unique_ptr<Communicator>(new MpiCommunicator(sub, true, std::move(group_name)));
}

}  // namespace shardrt::comm
