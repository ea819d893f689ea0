// A block of columns copied between row-major matrices: multi-head latent attention assembles
// its keys and values from pieces with it (runtime/transformer.cpp). Row r of out reads row
// r / repeat of inp, so one row of inp fills `repeat` consecutive rows of out (DeepSeek's one
// rotary key per token, shared by every head).
//   out[r, out_col + j] = inp[r / repeat, inp_col + j]     r < out_rows, j < width
#pragma once

namespace shardrt::kernels::cpu {

// out: out_rows x out_cols; inp: (out_rows / repeat) x inp_cols. Columns outside the block
// are left as they are.
void copyColumns(float* out, int out_cols, int out_col, const float* inp, int inp_cols, int inp_col,
                 long out_rows, int width, int repeat);

}  // namespace shardrt::kernels::cpu
