#include "runtime/model_input.h"

#include <vector>

#include "runtime/host_values.h"
#include "runtime/weight_generator.h"

namespace shardrt {

Tensor makeModelInput(Backend& backend, const planner::Deployment& d) {
  const int rows = d.workload.batch_size * d.workload.seq_len;
  const int hidden = d.model.hidden;
  std::vector<float> host(static_cast<std::size_t>(rows) * hidden);
  WeightGenerator(d.seed, kInputName)
      .fillSlice(host.data(), {rows, hidden}, {{0, rows}, {0, hidden}}, 1.0f, 0.0f);
  Tensor t = backend.empty({Dim("batch_size", d.workload.batch_size),
                            Dim("seq_len", d.workload.seq_len), Dim("hidden", hidden)},
                           d.workload.dtype);
  uploadFloats(backend, t, host);
  return t;
}

}  // namespace shardrt
