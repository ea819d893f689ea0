#include "kernels/cpu/blas_threads.h"

#include <cblas.h>

namespace shardrt::kernels::cpu {

void setBlasThreads(int threads) { openblas_set_num_threads(threads); }
int blasThreads() { return openblas_get_num_threads(); }

}  // namespace shardrt::kernels::cpu
