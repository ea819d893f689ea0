// Test-only fault (`shardrt run --test-fault-skip-allreduce`): a tensor-parallel group whose
// all-reduce after o_proj does nothing, so that each tp rank keeps only its partial sum of the
// attention output. Exists to prove that validation catches a wrong shard. Every other call,
// the FFN's all-reduce included, goes through.
#pragma once

#include <memory>

#include "comm/forwarding_communicator.h"

namespace shardrt {

class FaultSkipAttentionAllReduce final : public comm::ForwardingCommunicator {
 public:
  // Takes the place of the tp group it wraps (ProcessGroups::tp), so it owns it.
  explicit FaultSkipAttentionAllReduce(std::unique_ptr<comm::Communicator> tp);

  void allReduce(void* buf, std::size_t count, DType dtype, comm::ReduceOp op) override;

 private:
  std::unique_ptr<comm::Communicator> owned_;
  long skipped_in_layer_run_ = -1;  // the layer run whose all-reduce was last left out
};

}  // namespace shardrt
