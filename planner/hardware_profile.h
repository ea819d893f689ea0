// A hardware profile: what `shardrt bench --calibrate` measured on one machine (GEMM rate by
// shape, attention rate, memory bandwidth, the fixed cost of one op, collectives by size and
// group), written as JSON so that the planner prices ops with measured rates instead of
// datasheet numbers. docs/planner.md documents the file.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/dtype.h"

namespace shardrt::planner {

struct GemmSample {  // one timed C[m x n] = A[m x k] B[k x n]
  long m = 0, n = 0, k = 0;
  double seconds = 0.0;
  double flopsPerSecond() const { return 2.0 * m * n * k / seconds; }
};

struct AttentionSample {  // one timed causal attention, FLOPs counted as the executor does
  long batch = 0, seq = 0, heads = 0, head_dim = 0;
  double seconds = 0.0;
  double flops() const { return 4.0 * batch * heads * head_dim * 0.5 * seq * (seq + 1.0); }
};

struct CollectiveSample {  // one timed collective, sizes as nccl-tests counts them
  std::string op;          // all_reduce, all_gather, reduce_scatter, all_to_all, send_recv
  int ranks = 0;
  double bytes = 0.0;
  double seconds = 0.0;
};

struct HardwareProfile {
  std::string machine;  // host name
  std::string date;     // ISO 8601, when it was measured
  std::string backend;  // cpu or cuda
  int ranks = 1;        // ranks that ran concurrently while it was measured
  std::vector<GemmSample> gemm_fp32, gemm_bf16;
  std::vector<AttentionSample> attention_fp32, attention_bf16;  // by shape, small to large
  // Per elementwise op (rmsnorm, layernorm, rope, swiglu, gelu, add), bytes read + written
  // per second: on a CPU these ops are bound by their arithmetic (exp, sin/cos), not memory.
  std::map<std::string, double> elementwise_fp32, elementwise_bf16;
  double memory_bytes_per_second = 0.0;  // a residual add beyond the caches: other ops
  double op_overhead_seconds = 0.0;      // the time of an op that does (almost) nothing
  std::vector<CollectiveSample> collectives;
  // Generation (issue 17), bytes per second; 0: not measured (older profiles, or bf16 on a
  // CPU). gemm_stream: the weights (plus input and output) a GEMM of 4 rows moves, a decode
  // step's projection, bound by reading its weights, not by FLOPs. cached_attention: the keys
  // and values a decode step's attention reads from the KV cache.
  double gemm_stream_fp32 = 0.0, gemm_stream_bf16 = 0.0;
  double cached_attention_fp32 = 0.0, cached_attention_bf16 = 0.0;

  const std::vector<GemmSample>& gemm(DType dtype) const {
    return dtype == DType::BF16 ? gemm_bf16 : gemm_fp32;
  }
  const std::vector<AttentionSample>& attention(DType dtype) const {
    return dtype == DType::BF16 ? attention_bf16 : attention_fp32;
  }
  const std::map<std::string, double>& elementwise(DType dtype) const {
    return dtype == DType::BF16 ? elementwise_bf16 : elementwise_fp32;
  }
  double gemmStream(DType dtype) const {
    return dtype == DType::BF16 ? gemm_stream_bf16 : gemm_stream_fp32;
  }
  double cachedAttention(DType dtype) const {
    return dtype == DType::BF16 ? cached_attention_bf16 : cached_attention_fp32;
  }
};

// GEMM seconds for m x n x k from the measured samples of that dtype: the rate of the samples
// interpolated in log(FLOPs) (clamped at the ends), plus nothing else. Returns 0 when the
// profile has no sample of that dtype.
double profiledGemmSeconds(const HardwareProfile& profile, DType dtype, double m, double n,
                           double k);

// Attention seconds for `flops` (as AttentionSample counts them) from the measured shapes of
// that dtype, the rate interpolated in log(FLOPs) like GEMMs. 0 when none was measured.
double profiledAttentionSeconds(const HardwareProfile& profile, DType dtype, double flops);

// Seconds of elementwise op `op` moving `bytes`, at its measured rate; 0 when not measured.
double profiledElementwiseSeconds(const HardwareProfile& profile, DType dtype,
                                  const std::string& op, double bytes);

// Seconds of a collective measured under `op` among `ranks` ranks, interpolated linearly in
// bytes between the measured sizes (extrapolated from the last two beyond them). Returns a
// negative number when the profile has no sample of that op and group size.
double profiledCollectiveSeconds(const HardwareProfile& profile, const std::string& op, int ranks,
                                 double bytes);

// Reads a profile file; ConfigError naming the file and field on anything malformed.
HardwareProfile loadHardwareProfile(const std::string& path);
// The same from the file's text, errors naming `source` (the fuzzer's entry point).
HardwareProfile parseHardwareProfile(std::string_view text, const std::string& source);
void writeHardwareProfile(const HardwareProfile& profile, const std::string& path);

}  // namespace shardrt::planner
