#include "launch/dump.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "comm/progress_board.h"
#include "common/atomic_directory.h"
#include "common/atomic_file.h"
#include "runtime/model_weights.h"
#include "runtime/npy.h"

namespace shardrt::launch {

void writeDump(const std::string& dir, const config::Deployment& deployment,
               const WeightSource& weights, const float* input, const float* output) {
  // Whole or not at all, and nothing of an earlier dump left beside it (common/atomic_directory).
  writeDirectoryAtomically(dir, [&](const std::string& stage) {
    const std::vector<long> act = {deployment.workload.batch_size, deployment.workload.seq_len,
                                   deployment.model.hidden};
    writeNpy(stage + "/input.npy", input, act);
    writeNpy(stage + "/output.npy", output, act);
    for (const auto& spec :
         shardWeightSpecs(deployment.model, ShardHoldings::whole(deployment.model))) {
      comm::ProgressBoard::tick();  // ranks waiting for rank 0 see it working (docs/reliability.md)
      const std::vector<float> host = weights.slice(spec);
      writeNpy(stage + "/" + spec.name + ".npy", host.data(),
               std::vector<long>(spec.global_shape.begin(), spec.global_shape.end()));
    }
    writeFileAtomically(stage + "/deployment.json", [&](std::ostream& out) {
      out << config::toJson(deployment).dump(2) << "\n";
    });
  });
}

}  // namespace shardrt::launch
