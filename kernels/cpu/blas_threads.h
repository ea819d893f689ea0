// How many threads OpenBLAS may use in this process.
#pragma once

namespace shardrt::kernels::cpu {

void setBlasThreads(int threads);
int blasThreads();

}  // namespace shardrt::kernels::cpu
