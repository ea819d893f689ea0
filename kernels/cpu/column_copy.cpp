#include "kernels/cpu/column_copy.h"

#include <algorithm>

namespace shardrt::kernels::cpu {

void copyColumns(float* out, int out_cols, int out_col, const float* inp, int inp_cols, int inp_col,
                 long out_rows, int width, int repeat) {
  for (long r = 0; r < out_rows; ++r) {
    std::copy_n(inp + (r / repeat) * inp_cols + inp_col, width, out + r * out_cols + out_col);
  }
}

}  // namespace shardrt::kernels::cpu
