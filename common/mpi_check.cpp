#include "common/mpi_check.h"

namespace shardrt {

void throwMpiError(int code, const char* call, const char* file, int line) {
  char text[MPI_MAX_ERROR_STRING] = {0};
  int len = 0;
  MPI_Error_string(code, text, &len);
  int rank = -1, initialized = 0;
  MPI_Initialized(&initialized);
  if (initialized) MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  throw CommError(std::string("MPI error on rank ") + std::to_string(rank) + ": " + call +
                  " failed at " + file + ":" + std::to_string(line) + ": " +
                  std::string(text, static_cast<size_t>(len)));
}

}  // namespace shardrt
