// How many threads OpenBLAS may use in this process.
#pragma once

namespace shardrt::kernels::cpu {

void setBlasThreads(int threads);
int blasThreads();

// CPUs this process may run on (its affinity mask): 1 when mpirun bound the rank to a core,
// however many cores the machine has.
int usableCpus();

}  // namespace shardrt::kernels::cpu
