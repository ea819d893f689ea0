// SHARDRT_HOST_DEVICE: a function compiled for the host and, under nvcc, for the GPU too, so
// that a formula the CPU and CUDA kernels share is written once.
#pragma once

#ifdef __CUDACC__
#define SHARDRT_HOST_DEVICE __host__ __device__
#else
#define SHARDRT_HOST_DEVICE
#endif
