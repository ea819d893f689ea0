#include "bench/calibrate.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <random>

#include "bench/collective_timing.h"
#include "bench/gemm_timing.h"
#include "bench/op_timing.h"
#include "comm/mpi_communicator.h"
#include "common/error_report.h"
#include "common/errors.h"
#include "kernels/cpu/blas_threads.h"
#include "planner/hardware_profile.h"
#include "runtime/host_values.h"
#include "runtime/rank_agreement.h"
#include "runtime/run_setup.h"

namespace shardrt::bench {
namespace {

constexpr double kGemmBudgetSeconds = 0.25;  // timed calls per shape: about this long

// Small to large in FLOPs, so that the planner interpolates rather than clamps: squares
// from one BLAS panel up, and a small transformer layer's projections (512 tokens, hidden
// 128 to 1024: q/k/v/o, FFN up and down at 4x) with sizes off every tile boundary.
std::vector<GemmShape> calibrationShapes() {
  std::vector<GemmShape> shapes = {{32, 32, 32}, {64, 64, 64}, {96, 100, 130}};
  for (long h : {128L, 256L, 512L, 1024L}) {
    shapes.push_back({512, h, h});
    shapes.push_back({512, 4 * h, h});
    shapes.push_back({512, h, 4 * h});
  }
  shapes.push_back({1000, 1000, 1000});
  shapes.push_back({1536, 1536, 1536});
  std::sort(shapes.begin(), shapes.end(),
            [](const GemmShape& a, const GemmShape& b) { return a.flops() < b.flops(); });
  return shapes;
}

std::string isoDateUtc() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buf;
}

std::string hostName() {
  char buf[256] = {};
  gethostname(buf, sizeof buf - 1);
  return buf;
}

Tensor randomTensor(Backend& backend, Shape shape, DType dtype, std::mt19937& rng) {
  Tensor t = backend.empty(std::move(shape), dtype);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(static_cast<std::size_t>(t.numel()));
  for (auto& x : v) x = dist(rng);
  uploadFloats(backend, t, v);
  return t;
}

// The slowest rank's median seconds of `op`, every rank calling it at once.
double slowestMedian(Backend& backend, comm::Communicator& world, int iterations,
                     const std::function<void()>& op) {
  op();  // warm-up: first-touch page faults, lazy initialisation
  backend.synchronize();
  return maxOverRanks(world, medianSecondsTogether(backend, world, iterations, op));
}

// Causal attention from a small layer's shapes to a large one's: the rate falls steeply with
// the sequence length on a CPU (short rows, small GEMMs), so one shape cannot stand for all.
std::vector<planner::AttentionSample> attentionSamples(Backend& backend, comm::Communicator& world,
                                                       DType dtype, bool gpu, std::mt19937& rng) {
  std::vector<planner::AttentionSample> shapes = {{1, 64, 8, 32, 0},
                                                  {1, 128, 8, 64, 0},
                                                  {1, 256, 8, 64, 0},
                                                  {1, 512, 8, 64, 0},
                                                  {1, 1024, 8, 128, 0}};
  if (gpu) shapes.push_back({4, 2048, 32, 128, 0});  // a Llama-8B-sized layer's
  for (auto& a : shapes) {
    const Shape shape = {Dim("batch_size", a.batch), Dim("seq_len", a.seq), Dim("heads", a.heads),
                         Dim("d_k", a.head_dim)};
    const Tensor q = randomTensor(backend, shape, dtype, rng);
    const Tensor k = randomTensor(backend, shape, dtype, rng);
    const Tensor v = randomTensor(backend, shape, dtype, rng);
    const Tensor out = backend.empty(shape, dtype);
    const kernels::AttentionHeads h{static_cast<int>(a.heads), static_cast<int>(a.heads), 0, 0, 1};
    a.seconds = slowestMedian(backend, world, 5, [&] { backend.attention(out, q, k, v, h, true); });
  }
  return shapes;
}

// Each elementwise op the executor runs, on one small layer's activations (512 tokens, hidden
// 1024; FFN 2048), rated in the bytes the planner counts for it: every input read and every
// output written once.
std::map<std::string, double> elementwiseRates(Backend& backend, comm::Communicator& world,
                                               DType dtype, std::mt19937& rng) {
  const std::int64_t tokens = 512, hidden = 1024, ffn = 2048;
  const double w = static_cast<double>(dtypeSize(dtype));
  const Shape act = {Dim("tokens", tokens), Dim("hidden", hidden)};
  const Shape wide = {Dim("tokens", tokens), Dim("ffn", ffn)};
  const Tensor x = randomTensor(backend, act, dtype, rng);
  const Tensor y = backend.empty(act, dtype);
  const Tensor gamma = randomTensor(backend, {Dim("hidden", hidden)}, dtype, rng);
  const Tensor beta = randomTensor(backend, {Dim("hidden", hidden)}, dtype, rng);
  const Tensor a = randomTensor(backend, wide, dtype, rng);
  const Tensor b = randomTensor(backend, wide, dtype, rng);
  const Tensor c = backend.empty(wide, dtype);
  const Tensor heads = randomTensor(
      backend, {Dim("batch_size", 1), Dim("seq_len", tokens), Dim("heads", 8), Dim("d_k", 128)},
      dtype, rng);
  const double act_bytes = tokens * hidden * w, wide_bytes = tokens * ffn * w;
  auto rate = [&](double bytes, const std::function<void()>& op) {
    return bytes / slowestMedian(backend, world, 7, op);
  };
  std::map<std::string, double> r;
  r["rmsnorm"] = rate(2 * act_bytes, [&] { backend.rmsNorm(y, x, gamma, 1e-5f); });
  r["layernorm"] = rate(2 * act_bytes, [&] { backend.layerNorm(y, x, gamma, beta, 1e-5f); });
  r["rope"] = rate(2 * act_bytes, [&] { backend.rotaryEmbedding(heads, 10000.0f); });
  r["swiglu"] = rate(3 * wide_bytes, [&] { backend.swiglu(c, a, b); });
  r["gelu"] = rate(2 * wide_bytes, [&] { backend.gelu(c, a); });
  r["add"] = rate(3 * act_bytes, [&] { backend.add(y, x, x); });
  return r;
}

// A decode step's two memory-bound ops (issue 17), in bytes moved per second:
//  - a projection of 4 rows, 8192 -> 8192: it reads its 8192 x 8192 weights once, so it runs at
//    the rate weights stream, far below the GEMM samples' FLOP rate, which the FLOP-interpolated
//    look-up would give it;
//  - attention of 4 tokens, 32 query heads over 8 kv heads of 128, each token at the end of an
//    8192-position cache: it reads each key and value once (GQA's query group as the rows).
// Each reads 256 MiB in fp32 (128 in bf16) on every rank at once: beyond a CPU's last-level
// cache and a GPU's L2, as a model's weights and KV cache are (at 2048 x 2048 the weights stay
// in a 260 MiB L3 and the rate overstates the one a decode step streams at).
struct DecodeRates {
  double gemm_stream = 0.0, cached_attention = 0.0;
};
DecodeRates decodeRates(Backend& backend, comm::Communicator& world, DType dtype,
                        std::mt19937& rng) {
  const double w = static_cast<double>(dtypeSize(dtype));
  DecodeRates r;
  const std::int64_t rows = 4, width = 8192;
  const Tensor in = randomTensor(backend, {Dim("tokens", rows), Dim("hidden", width)}, dtype, rng);
  const Tensor weight =
      randomTensor(backend, {Dim("out_features", width), Dim("in_features", width)}, dtype, rng);
  const Tensor out = backend.empty({Dim("tokens", rows), Dim("hidden", width)}, dtype);
  const double gemm_bytes = w * (width * width + 2.0 * rows * width);
  r.gemm_stream =
      gemm_bytes / slowestMedian(backend, world, 9, [&] { backend.linear(out, in, weight); });

  const int sequences = 4, context = 8192, heads = 32, kv_heads = 8, head_dim = 128;
  const Shape tokens_shape{Dim("tokens", sequences), Dim("seq_len", 1), Dim("heads", heads),
                           Dim("d_k", head_dim)};
  const Shape cache_shape{Dim("sequences", sequences), Dim("context", context),
                          Dim("kv_heads", kv_heads), Dim("d_k", head_dim)};
  const Tensor q = randomTensor(backend, tokens_shape, dtype, rng);
  const Tensor k_cache = randomTensor(backend, cache_shape, dtype, rng);
  const Tensor v_cache = randomTensor(backend, cache_shape, dtype, rng);
  const Tensor attn = backend.empty(tokens_shape, dtype);
  std::vector<std::int32_t> seq(sequences), pos(sequences, context - 1);
  for (int s = 0; s < sequences; ++s) seq[s] = s;
  const Tensor seq_t = backend.empty({Dim("tokens", sequences)}, DType::I32);
  const Tensor pos_t = backend.empty({Dim("tokens", sequences)}, DType::I32);
  backend.copyFromHost(seq_t, seq.data());
  backend.copyFromHost(pos_t, pos.data());
  const kernels::AttentionHeads h{heads, kv_heads, 0, 0, heads / kv_heads, 0.0f, 0};
  const double cache_bytes = 2.0 * w * sequences * context * kv_heads * head_dim;
  r.cached_attention = cache_bytes / slowestMedian(backend, world, 9, [&] {
                         backend.cachedAttention(attn, q, k_cache, v_cache, seq_t, pos_t, h);
                       });
  return r;
}

struct Elementwise {
  double bytes_per_second, op_seconds;
};

// A residual add on buffers well beyond the caches (bytes: two read, one written), and the
// same op on 8 elements: what an op costs when it does almost nothing.
Elementwise elementwise(Backend& backend, comm::Communicator& world, std::mt19937& rng) {
  const std::int64_t big = 8 << 20;  // 32 MiB per fp32 buffer
  const Tensor a = randomTensor(backend, {Dim("elements", big)}, DType::F32, rng);
  const Tensor b = randomTensor(backend, {Dim("elements", big)}, DType::F32, rng);
  const Tensor c = backend.empty({Dim("elements", big)}, DType::F32);
  const double add = slowestMedian(backend, world, 7, [&] { backend.add(c, a, b); });
  const Tensor x = randomTensor(backend, {Dim("elements", 8)}, DType::F32, rng);
  const Tensor y = backend.empty({Dim("elements", 8)}, DType::F32);
  const double tiny = slowestMedian(backend, world, 101, [&] { backend.add(y, x, x); });
  return {3.0 * big * sizeof(float) / add, tiny};
}

// Refused before a minute of measuring, not after: rank 0 must be able to write the profile.
bool profileWritableOnEveryRank(const CalibrateOptions& o, const comm::MpiSession& mpi,
                                comm::Communicator& world) {
  std::string error;
  if (mpi.worldRank() == 0) {
    const std::filesystem::path dir = std::filesystem::absolute(o.out_path).parent_path();
    if (!std::filesystem::is_directory(dir) || access(dir.c_str(), W_OK) != 0) {
      error = "--out: cannot write " + o.out_path + " (" + dir.string() +
              " is not a writable directory)";
    }
  }
  return noRankFailed(world, error, "rank 0 cannot write the profile");
}

// What is measured, and on what.
struct Calibration {
  Backend& backend;
  comm::Communicator& world;
  bool gpu;
  std::vector<DType> dtypes;  // the GEMMs', attention's and elementwise ops' types
  int rank() const { return world.rank(); }
};

void printHeader(const Calibration& c, const planner::HardwareProfile& p, const std::string& device,
                 int threads) {
  std::printf("# shardrt bench --calibrate: %s, %d rank(s) at once, backend %s (%s)",
              p.machine.c_str(), p.ranks, std::string(c.backend.name()).c_str(), device.c_str());
  if (!c.gpu) std::printf(", %d BLAS thread(s) per rank", threads);
  std::printf("\n# every figure is the slowest rank's median, all ranks running the op at once\n");
  std::printf(
      "#\n# GEMM: out (m x n) = in (m x k) @ weight (n x k)^T\n# %8s %8s %8s %5s %12s %10s %7s\n",
      "m", "n", "k", "type", "time(us)", "GFLOP/s", "#wrong");
}

// Every calibration shape in every type, a row printed for each; returns the wrong elements.
long measureGemms(const Calibration& c, planner::HardwareProfile& p) {
  long wrong = 0;
  unsigned seed = 1;
  for (DType t : c.dtypes) {
    for (const GemmShape& s : calibrationShapes()) {
      const GemmTiming g = timeGemm(c.backend, c.world, s, t, {1, 0, kGemmBudgetSeconds}, seed++);
      wrong += g.wrong;
      (t == DType::BF16 ? p.gemm_bf16 : p.gemm_fp32).push_back({s.m, s.n, s.k, g.slowest_seconds});
      if (c.rank() == 0) {
        std::printf("  %8ld %8ld %8ld %5s %12.1f %10.2f %7d\n", s.m, s.n, s.k,
                    std::string(dtypeName(t)).c_str(), g.slowest_seconds * 1e6,
                    s.flops() / g.slowest_seconds / 1e9, g.wrong);
      }
    }
  }
  return wrong;
}

// Attention, the elementwise ops, the memory bandwidth and the cost of an op doing nothing.
void measureOps(const Calibration& c, planner::HardwareProfile& p) {
  std::mt19937 rng(977u + static_cast<unsigned>(c.rank()));
  p.attention_fp32 = attentionSamples(c.backend, c.world, DType::F32, c.gpu, rng);
  p.elementwise_fp32 = elementwiseRates(c.backend, c.world, DType::F32, rng);
  if (c.gpu) {
    p.attention_bf16 = attentionSamples(c.backend, c.world, DType::BF16, c.gpu, rng);
    p.elementwise_bf16 = elementwiseRates(c.backend, c.world, DType::BF16, rng);
  }
  const DecodeRates decode = decodeRates(c.backend, c.world, DType::F32, rng);
  p.gemm_stream_fp32 = decode.gemm_stream;
  p.cached_attention_fp32 = decode.cached_attention;
  if (c.gpu) {
    const DecodeRates bf16 = decodeRates(c.backend, c.world, DType::BF16, rng);
    p.gemm_stream_bf16 = bf16.gemm_stream;
    p.cached_attention_bf16 = bf16.cached_attention;
  }
  const Elementwise e = elementwise(c.backend, c.world, rng);
  p.memory_bytes_per_second = e.bytes_per_second;
  p.op_overhead_seconds = e.op_seconds;
}

void printOps(const Calibration& c, const planner::HardwareProfile& p) {
  std::printf("#\n# attention (causal): batch x seq x heads x head_dim, GFLOP/s\n");
  for (DType t : c.dtypes) {
    for (const auto& a : p.attention(t)) {
      std::printf("  %ld x %5ld x %3ld x %3ld  %5s %10.2f\n", a.batch, a.seq, a.heads, a.head_dim,
                  std::string(dtypeName(t)).c_str(), a.flops() / a.seconds / 1e9);
    }
  }
  std::printf("# elementwise (512 tokens x hidden 1024, FFN 2048): GB/s read + written\n");
  for (DType t : c.dtypes) {
    std::printf("  %5s", std::string(dtypeName(t)).c_str());
    for (const auto& [op, rate] : p.elementwise(t)) {
      std::printf("  %s %.2f", op.c_str(), rate / 1e9);
    }
    std::printf("\n");
  }
  std::printf("# memory (residual add, 3 x 32 MiB read + written): %.2f GB/s\n",
              p.memory_bytes_per_second / 1e9);
  for (DType t : c.dtypes) {
    if (p.gemmStream(t) <= 0.0) continue;
    std::printf(
        "# decode %s: GEMM of 4 rows (8192 x 8192 weights) %.2f GB/s; attention over the "
        "KV cache (4 x 8192 positions, 8 kv heads of 128) %.2f GB/s\n",
        std::string(dtypeName(t)).c_str(), p.gemmStream(t) / 1e9, p.cachedAttention(t) / 1e9);
  }
  std::printf("# op overhead (add of 8 elements): %.2f us\n", p.op_overhead_seconds * 1e6);
}

// One collective at one size: the median of three means, since one rank descheduled once
// (other work on the machine) spoils a mean, seldom two of three.
CollectiveTiming timeCollectiveThrice(const Calibration& c, const CollectiveCase& op, long bytes,
                                      long& wrong) {
  const int iterations = bytes >= (1L << 20) ? 5 : 20;
  std::vector<double> means;
  CollectiveTiming t;
  for (int r = 0; r < 3; ++r) {
    t = timeCollective(op, c.backend, c.world, bytes, r == 0 ? 2 : 0, iterations);
    wrong += t.wrong;
    means.push_back(t.seconds);
  }
  t.seconds = median(means);
  return t;
}

// Every collective from 8 bytes to 16 MiB, a row printed for each; returns the wrong elements.
long measureCollectives(const Calibration& c, planner::HardwareProfile& p) {
  const int n = c.world.size(), rank = c.rank();
  if (n < 2) {
    if (rank == 0) {
      std::printf("#\n# collectives: none measured (one rank; mpirun -np N with N >= 2)\n");
    }
    return 0;
  }
  if (rank == 0) {
    std::printf(
        "#\n# collectives among %d ranks (nccl-tests' size; time: the median of 3 means, each "
        "the "
        "slowest rank's)\n# %-14s %12s %10s %8s %7s\n",
        n, "op", "size", "time(us)", "algbw", "#wrong");
  }
  long wrong = 0;
  for (const CollectiveCase& op : collectiveCases()) {
    for (long bytes = 8; bytes <= (16L << 20); bytes *= 4) {
      const CollectiveTiming t = timeCollectiveThrice(c, op, bytes, wrong);
      p.collectives.push_back({op.name, n, t.size_bytes, t.seconds});
      if (rank == 0) {
        std::printf("  %-14s %12.0f %10.2f %8.3f %7d\n", op.name, t.size_bytes, t.seconds * 1e6,
                    t.size_bytes / t.seconds / 1e9, t.wrong);
      }
    }
  }
  return wrong;
}

// Rank 0 writes the profile unless an element was wrong; every rank returns the exit code.
int writeProfile(const Calibration& c, const planner::HardwareProfile& p,
                 const std::string& out_path, long wrong) {
  std::int32_t written = 0;
  if (c.rank() == 0) {
    if (wrong > 0) {
      std::printf("# errors: %ld wrong element(s); no profile written\n", wrong);
    } else {
      try {
        planner::writeHardwareProfile(p, out_path);
        std::printf("# errors: 0 wrong elements\n# profile written to %s\n", out_path.c_str());
        written = 1;
      } catch (const ConfigError& e) {
        reportError(c.rank(), e.what());
      }
    }
    std::fflush(stdout);
  }
  c.world.broadcast(&written, 1, DType::I32, 0);
  if (wrong > 0) return kExitValidationFailed;
  return written ? kExitOk : kExitBadInput;
}

}  // namespace

int calibrate(const CalibrateOptions& o, const comm::MpiSession& mpi) {
  auto mpi_world = comm::MpiCommunicator::wrap(MPI_COMM_WORLD, "world");
  const std::optional<ExecutionContext> ctx =
      contextOnEveryRank(o.device, mpi, DType::F32, *mpi_world);
  if (!ctx) return kExitBadInput;
  if (!profileWritableOnEveryRank(o, mpi, *mpi_world)) return kExitBadInput;
  // Ranks sharing a GPU would write link bandwidths the planner then trusts: refused.
  if (!noRankFailed(*mpi_world,
                    ctx->ranks_share_a_gpu
                        ? "--calibrate: " + std::to_string(mpi.ranksOnThisNode()) +
                              " ranks share this node's GPU(s); a profile needs one rank per GPU"
                        : std::string(),
                    "another rank shares a GPU")) {
    return kExitBadInput;
  }
  const int threads = defaultBlasThreads(mpi);
  kernels::cpu::setBlasThreads(threads);
  const bool gpu = ctx->backend->device() == Device::Cuda;
  Calibration c{*ctx->backend, *ctx->world, gpu, {DType::F32}};
  if (gpu) c.dtypes.push_back(DType::BF16);  // the cpu Backend computes in fp32 only

  planner::HardwareProfile p;
  const int n = c.world.size();
  p.machine = hostName() + (mpi.ranksOnThisNode() < n ? " (and other nodes)" : "");
  p.date = isoDateUtc();
  p.backend = gpu ? "cuda" : "cpu";
  p.ranks = n;
  if (c.rank() == 0) printHeader(c, p, ctx->device, threads);
  long wrong = measureGemms(c, p);
  measureOps(c, p);
  if (c.rank() == 0) printOps(c, p);
  wrong += measureCollectives(c, p);
  return writeProfile(c, p, o.out_path, wrong);
}

}  // namespace shardrt::bench
