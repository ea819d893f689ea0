// The meta Communicator: every rank of a dry run is a thread of one process, and each rank's
// communicators meet the other members' in shared memory. Buffers of the meta backend (fake
// addresses, comm/meta_address.h) move nothing; host buffers move for real, so the executor's
// control flow (the per-expert counts an MoE layer exchanges, the tracer's group membership)
// is the real one. send is buffered and returns at once; recv waits for its message.
// Collectives block until every member has arrived; abort() wakes every waiting rank with an
// exception, so that one failing rank cannot hang the others.
#pragma once

#include <memory>
#include <vector>

#include "comm/communicator.h"

namespace shardrt::comm {

struct MetaWorldState;

class MetaWorld {
 public:
  explicit MetaWorld(int size);
  ~MetaWorld();
  int size() const;
  // The world communicator of `rank`, to be used by that rank's thread only.
  std::unique_ptr<Communicator> communicator(int rank);
  void abort();

 private:
  std::shared_ptr<MetaWorldState> state_;
};

}  // namespace shardrt::comm
