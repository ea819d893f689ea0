// Whether a buffer handed to a communicator lives in GPU memory: the GPU-aware communicators
// move device buffers their way and pass host buffers (counts, verdicts) to MPI.
#pragma once

namespace shardrt::comm {

bool isDevicePointer(const void* pointer);

}  // namespace shardrt::comm
