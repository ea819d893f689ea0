// The NVRTC functions the cuDNN frontend's headers reference, answered "cannot" here instead
// of linking libnvrtc. Why: cudnn_frontend 1.x compiles in, for every graph, an experimental
// engine of its own (Sm100RmsNormSiluEngine, an RMSNorm + SiLU fusion for Blackwell) that
// builds its kernel with NVRTC at run time. Our graphs are attention only and never select it,
// but its code is linked all the same; a libnvrtc.so.13 dependency would stop shardrt from
// starting on a machine without one (PyTorch's wheels place it in their own folders), for a
// function that is never called. Were it ever called, it fails cleanly: the frontend reports
// the engine unusable. cuDNN's own runtime-compiled engines load NVRTC themselves (dlopen) and
// are not affected: these definitions are not exported from the executable.
// Compiled only with cuDNN (SHARDRT_HAVE_CUDNN), beside kernels/cuda/attention_cudnn.cpp.
#ifdef SHARDRT_HAVE_CUDNN
#include <nvrtc.h>

#include <cstddef>

extern "C" {

nvrtcResult nvrtcCreateProgram(nvrtcProgram*, const char*, const char*, int, const char* const*,
                               const char* const*) {
  return NVRTC_ERROR_PROGRAM_CREATION_FAILURE;
}
nvrtcResult nvrtcCompileProgram(nvrtcProgram, int, const char* const*) {
  return NVRTC_ERROR_INVALID_PROGRAM;
}
nvrtcResult nvrtcGetProgramLogSize(nvrtcProgram, std::size_t*) {
  return NVRTC_ERROR_INVALID_PROGRAM;
}
nvrtcResult nvrtcGetProgramLog(nvrtcProgram, char*) { return NVRTC_ERROR_INVALID_PROGRAM; }
nvrtcResult nvrtcGetCUBINSize(nvrtcProgram, std::size_t*) { return NVRTC_ERROR_INVALID_PROGRAM; }
nvrtcResult nvrtcGetCUBIN(nvrtcProgram, char*) { return NVRTC_ERROR_INVALID_PROGRAM; }
nvrtcResult nvrtcDestroyProgram(nvrtcProgram*) { return NVRTC_ERROR_INVALID_PROGRAM; }

}  // extern "C"
#endif
