// check_profile FILE RANKS: reads a hardware profile the way the planner does and prints what
// the planner would look up in it; exit 2 (with the loader's one-line error) when it cannot
// be read, 1 when it lacks what a calibration at RANKS ranks must measure.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/errors.h"
#include "planner/hardware_profile.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: check_profile FILE RANKS\n");
    return 2;
  }
  using namespace shardrt::planner;
  const int ranks = std::atoi(argv[2]);
  HardwareProfile p;
  try {
    p = loadHardwareProfile(argv[1]);
  } catch (const shardrt::ConfigError& e) {
    std::printf("check_profile: %s\n", e.what());
    return 2;
  }
  const double gemm = profiledGemmSeconds(p, shardrt::DType::F32, 512, 1000, 1000);
  std::printf("check_profile: %s, %zu fp32 GEMMs (512x1000x1000: %.2f GFLOP/s), %zu collectives\n",
              p.machine.c_str(), p.gemm_fp32.size(), 2.0 * 512 * 1000 * 1000 / gemm / 1e9,
              p.collectives.size());
  int missing = 0;
  const char* ops[] = {"all_reduce", "all_gather", "reduce_scatter", "all_to_all", "send_recv"};
  for (const char* op : ops) {
    const double s = profiledCollectiveSeconds(p, op, ranks, 1 << 20);
    std::printf("check_profile: %s of 1 MiB among %d ranks: %.1f us\n", op, ranks, s * 1e6);
    if (ranks >= 2 && !(s > 0)) ++missing;
  }
  const double attention = profiledAttentionSeconds(p, shardrt::DType::F32, 1e9);
  const double norm = profiledElementwiseSeconds(p, shardrt::DType::F32, "rmsnorm", 1 << 20);
  std::printf("check_profile: attention of 1 GFLOP %.2f ms, rmsnorm of 1 MiB %.1f us\n",
              attention * 1e3, norm * 1e6);
  if (p.elementwise_fp32.size() != 6) ++missing;  // rmsnorm layernorm rope swiglu gelu add
  if (p.ranks != ranks || !(gemm > 0) || !(attention > 0) || !(norm > 0) || missing) {
    std::printf("check_profile: FAIL (ranks %d, want %d)\n", p.ranks, ranks);
    return 1;
  }
  std::printf("check_profile: OK\n");
  return 0;
}
