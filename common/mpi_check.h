// MPI_CHECK: every MPI call goes through it. On failure it names the call, file:line, the
// world rank and MPI's own message, and throws CommError for the shardrt command's top level
// to report.
#pragma once

#include <mpi.h>

#include "common/errors.h"

namespace shardrt {

[[noreturn]] void throwMpiError(int code, const char* call, const char* file, int line);

}  // namespace shardrt

#define MPI_CHECK(call)                                                       \
  do {                                                                        \
    const int mpi_check_status_ = (call);                                     \
    if (mpi_check_status_ != MPI_SUCCESS) {                                   \
      ::shardrt::throwMpiError(mpi_check_status_, #call, __FILE__, __LINE__); \
    }                                                                         \
  } while (0)
