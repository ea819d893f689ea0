#include "common/nccl_check.h"

#include <mpi.h>

#include <string>

namespace shardrt {

void throwNcclError(ncclResult_t status, const char* call, const char* file, int line) {
  int rank = -1, initialized = 0;
  MPI_Initialized(&initialized);
  if (initialized) MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  throw CommError(std::string("NCCL error on rank ") + std::to_string(rank) + ": " + call +
                  " failed at " + file + ":" + std::to_string(line) + ": " +
                  ncclGetErrorString(status) + " (" + ncclGetLastError(nullptr) + ")");
}

}  // namespace shardrt
