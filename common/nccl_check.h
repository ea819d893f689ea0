// NCCL_CHECK: every NCCL call goes through it. On failure it names the call, file:line, the
// MPI rank and NCCL's message (with its last detailed error where it has one) and throws
// CommError for the shardrt command's top level to report.
#pragma once

#include <nccl.h>

#include "common/errors.h"

namespace shardrt {

[[noreturn]] void throwNcclError(ncclResult_t status, const char* call, const char* file, int line);

}  // namespace shardrt

#define NCCL_CHECK(call)                                                        \
  do {                                                                          \
    const ncclResult_t nccl_check_status_ = (call);                             \
    if (nccl_check_status_ != ncclSuccess) {                                    \
      ::shardrt::throwNcclError(nccl_check_status_, #call, __FILE__, __LINE__); \
    }                                                                           \
  } while (0)
