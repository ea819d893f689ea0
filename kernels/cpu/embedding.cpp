#include "kernels/cpu/embedding.h"

#include <algorithm>
#include <cstring>

namespace shardrt::kernels::cpu {

void embedRows(float* out, const std::int32_t* ids, const float* table, long tokens, int hidden,
               long table_rows, long first_id) {
  for (long t = 0; t < tokens; ++t) {
    const long row = static_cast<long>(ids[t]) - first_id;
    float* dst = out + t * hidden;
    if (row >= 0 && row < table_rows) {
      std::memcpy(dst, table + row * hidden, sizeof(float) * hidden);
    } else {
      std::fill(dst, dst + hidden, 0.0f);
    }
  }
}

}  // namespace shardrt::kernels::cpu
