#include "kernels/cpu/blas_threads.h"

#include <cblas.h>
#include <sched.h>

#include <algorithm>
#include <thread>

namespace shardrt::kernels::cpu {

void setBlasThreads(int threads) { openblas_set_num_threads(threads); }
int blasThreads() { return openblas_get_num_threads(); }

int usableCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

}  // namespace shardrt::kernels::cpu
