#include "kernels/cpu/column_copy.h"

#include <algorithm>

namespace shardrt::kernels::cpu {

void copyColumns(float* out, int out_cols, int out_col, const float* inp, int inp_cols, int inp_col,
                 long out_rows, int width, int repeat) {
  for (long r = 0; r < out_rows; ++r) {
    float* row = out + r * out_cols;
    std::fill_n(row, out_col, 0.0f);
    std::copy_n(inp + (r / repeat) * inp_cols + inp_col, width, row + out_col);
    std::fill(row + out_col + width, row + out_cols, 0.0f);
  }
}

}  // namespace shardrt::kernels::cpu
