// Clusters the planner's unit tests price on, written once for them.
#pragma once

#include "planner/cluster.h"

namespace shardrt::planner::testing {

// One node of `gpus` datasheet GPUs: 50 TFLOP/s fp32, 500 bf16, 2 TB/s memory, a 200 GB/s link.
inline ClusterConfig oneNode(int gpus, double memory_bytes = 80e9) {
  GpuGroup g;
  g.name = "gpu";
  g.gpus_per_node = gpus;
  g.gpu.memory_bytes = memory_bytes;
  g.gpu.flops_fp32 = 50e12;
  g.gpu.flops_bf16 = 500e12;
  g.gpu.memory_bytes_per_second = 2e12;
  g.intra_node = {200e9, 2e-6};
  ClusterConfig c;
  c.groups = {g};
  return c;
}

}  // namespace shardrt::planner::testing
