#include "runtime/model_input.h"

#include <vector>

#include "runtime/host_values.h"
#include "runtime/weight_generator.h"

namespace shardrt {

Tensor makeModelInput(Backend& backend, const config::Deployment& deployment,
                      config::Range batch_rows) {
  // The input tensor is (batch_size * seq_len, hidden) row-major, as one weight would be.
  const int seq = deployment.workload.seq_len, hidden = deployment.model.hidden;
  const config::Range token_rows{batch_rows.begin * seq, batch_rows.end * seq};
  std::vector<float> host(static_cast<std::size_t>(token_rows.size()) * hidden);
  WeightGenerator(deployment.seed, kInputName)
      .fillSlice(host.data(), {deployment.workload.batch_size * seq, hidden},
                 {token_rows, {0, hidden}}, 1.0f, 0.0f);
  Tensor t = backend.empty({Dim("batch_size", batch_rows.size(), deployment.workload.batch_size),
                            Dim("seq_len", seq), Dim("hidden", hidden)},
                           deployment.workload.dtype);
  uploadFloats(backend, t, host);
  return t;
}

Tensor makeModelInput(Backend& backend, const config::Deployment& deployment) {
  return makeModelInput(backend, deployment, {0, deployment.workload.batch_size});
}

}  // namespace shardrt
