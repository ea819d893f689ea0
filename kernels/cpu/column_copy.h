// A block of columns copied into an otherwise zero matrix: multi-head latent attention
// assembles its keys and values with it (runtime/latent_attention.h). Row r of out reads row
// r / repeat of inp, so one row of inp fills `repeat` consecutive rows of out (DeepSeek's one
// rotary key per token, shared by every head):
//   out[r, out_col + j] = inp[r / repeat, inp_col + j]     r < out_rows, j < width
//   out[r, c] = 0                                           every other column c
// Every element of out is written, so out depends on inp alone (one node in the DAG).
#pragma once

namespace shardrt::kernels::cpu {

// out: out_rows x out_cols; inp: (out_rows / repeat) x inp_cols.
void copyColumns(float* out, int out_cols, int out_col, const float* inp, int inp_cols,
                 int inp_col, long out_rows, int width, int repeat);

}  // namespace shardrt::kernels::cpu
