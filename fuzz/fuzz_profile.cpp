// Fuzzes the calibrated hardware profile reader (`bench --calibrate` writes, `plan` reads),
// then interpolates over what it accepted as the planner does. ConfigError is the expected
// answer to a bad file; anything else is a finding.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/errors.h"
#include "planner/hardware_profile.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace shardrt;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const planner::HardwareProfile p = planner::parseHardwareProfile(text, "fuzz.json");
    for (DType t : {DType::F32, DType::BF16}) {
      planner::profiledGemmSeconds(p, t, 4096, 4096, 4096);
      planner::profiledAttentionSeconds(p, t, 1e12);
      planner::profiledElementwiseSeconds(p, t, "add", 1e9);
    }
    for (int ranks : {2, 8}) planner::profiledCollectiveSeconds(p, "send_recv", ranks, 1e6);
  } catch (const ConfigError&) {
  }
  return 0;
}
