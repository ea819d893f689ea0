#include "runtime/fault_skip_attention_all_reduce.h"

#include <string_view>

#include "runtime/op_context.h"

namespace shardrt {

FaultSkipAttentionAllReduce::FaultSkipAttentionAllReduce(std::unique_ptr<comm::Communicator> tp)
    : ForwardingCommunicator(*tp), owned_(std::move(tp)) {}

void FaultSkipAttentionAllReduce::allReduce(void* buf, std::size_t count, DType dtype,
                                            comm::ReduceOp op) {
  // The executor labels both tp all-reduces of a layer "all_reduce" (runtime/transformer.cpp),
  // and the attention block runs first in every layer: the one after o_proj is the layer's
  // first. A layer run (this layer, this microbatch, this pass) is known by the index of the
  // op before its first, which no other run shares.
  const OpContext& context = currentOp();
  const long layer_run = context.index - context.in_layer;
  if (context.layer >= 0 && std::string_view(context.op) == "all_reduce" &&
      layer_run != skipped_in_layer_run_) {
    skipped_in_layer_run_ = layer_run;
    return;
  }
  ForwardingCommunicator::allReduce(buf, count, dtype, op);
}

}  // namespace shardrt
