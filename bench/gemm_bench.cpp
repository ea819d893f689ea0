// OpenBLAS alone on the GEMM shapes of one transformer layer, as tp rank 0 holds them: the
// ceiling the runtime's `linear` op is measured against (docs/benchmarks.md).
//   gemm_bench --tokens 2048 --hidden 1024 --heads 16 --head-dim 64 --ffn 4096 --tp 2
#include <cblas.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/blas_threads.h"
#include "kernels/cpu/linear.h"

namespace {

struct Options {
  int tokens = 2048, hidden = 1024, heads = 16, kv_heads = 0, head_dim = 64, ffn = 4096, tp = 1;
  std::string activation = "swiglu";
  int threads = 1, warmup = 2, iters = 10;
  bool json = false;
};

struct Gemm {
  std::string name;
  int m, n, k;  // out (m, n) = inp (m, k) @ weight (n, k)^T
  double median_seconds = 0.0;
  double flops() const { return 2.0 * m * n * k; }
};

// The same split as config/plan.cpp: rank 0 holds the first heads/tp query heads and every
// kv head one of them reads.
std::vector<Gemm> layerGemms(const Options& o) {
  const int q_local = o.heads / o.tp;
  const int group = o.heads / o.kv_heads;
  const int kv_local = (q_local - 1) / group + 1;
  const int f_local = o.ffn / o.tp;
  std::vector<Gemm> g = {{"q_proj", o.tokens, q_local * o.head_dim, o.hidden},
                         {"k_proj", o.tokens, kv_local * o.head_dim, o.hidden},
                         {"v_proj", o.tokens, kv_local * o.head_dim, o.hidden},
                         {"o_proj", o.tokens, o.hidden, q_local * o.head_dim}};
  if (o.activation == "swiglu") g.push_back({"gate_proj", o.tokens, f_local, o.hidden});
  g.push_back({"up_proj", o.tokens, f_local, o.hidden});
  g.push_back({"down_proj", o.tokens, o.hidden, f_local});
  return g;
}

double median(std::vector<double> t) {
  std::sort(t.begin(), t.end());
  const std::size_t n = t.size();
  return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

void timeGemm(Gemm& g, const Options& o, std::mt19937& rng) {
  // Random, not zeros, so that no shortcut for zeros (in a kernel or the OS) flatters the time.
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> inp(static_cast<std::size_t>(g.m) * g.k);
  std::vector<float> weight(static_cast<std::size_t>(g.n) * g.k);
  std::vector<float> out(static_cast<std::size_t>(g.m) * g.n);
  for (float& x : inp) x = dist(rng);
  for (float& x : weight) x = dist(rng);

  std::vector<double> seconds;
  for (int i = 0; i < o.warmup + o.iters; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    shardrt::kernels::cpu::linear(out.data(), inp.data(), weight.data(), g.m, g.k, g.n);
    const std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
    if (i >= o.warmup) seconds.push_back(dt.count());
  }
  g.median_seconds = median(seconds);
}

void printTable(const std::vector<Gemm>& gemms, const Options& o) {
  std::printf(
      "# gemm_bench: %s, %d thread(s); tokens %d hidden %d heads %d/%d "
      "head_dim %d ffn %d %s tp %d (rank 0's shapes); median of %d after %d warm-up\n",
      openblas_get_config(), shardrt::kernels::cpu::blasThreads(), o.tokens, o.hidden, o.heads,
      o.kv_heads, o.head_dim, o.ffn, o.activation.c_str(), o.tp, o.iters, o.warmup);
  std::printf("%-10s %7s %7s %7s %12s %10s\n", "gemm", "M", "N", "K", "time(ms)", "GFLOP/s");
  double total_s = 0.0, total_flops = 0.0;
  for (const auto& g : gemms) {
    std::printf("%-10s %7d %7d %7d %12.3f %10.2f\n", g.name.c_str(), g.m, g.n, g.k,
                g.median_seconds * 1e3, g.flops() / g.median_seconds / 1e9);
    total_s += g.median_seconds;
    total_flops += g.flops();
  }
  std::printf("%-10s %7s %7s %7s %12.3f %10.2f\n", "total", "", "", "", total_s * 1e3,
              total_flops / total_s / 1e9);
}

void printJson(const std::vector<Gemm>& gemms, const Options& o) {
  nlohmann::ordered_json j;
  j["openblas_config"] = openblas_get_config();
  j["threads"] = shardrt::kernels::cpu::blasThreads();
  j["warmup"] = o.warmup;
  j["iters"] = o.iters;
  double total_s = 0.0, total_flops = 0.0;
  for (const auto& g : gemms) {
    j["gemms"].push_back({{"name", g.name},
                          {"m", g.m},
                          {"n", g.n},
                          {"k", g.k},
                          {"median_seconds", g.median_seconds},
                          {"gflops", g.flops() / g.median_seconds / 1e9}});
    total_s += g.median_seconds;
    total_flops += g.flops();
  }
  j["total"] = {
      {"median_seconds", total_s}, {"flops", total_flops}, {"gflops", total_flops / total_s / 1e9}};
  std::cout << j.dump(2) << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"Time OpenBLAS sgemm on the linear shapes of one transformer layer"};
  app.add_option("--tokens", o.tokens, "M: batch_size * seq_len")->capture_default_str();
  app.add_option("--hidden", o.hidden)->capture_default_str();
  app.add_option("--heads", o.heads)->capture_default_str();
  app.add_option("--kv-heads", o.kv_heads, "Default: --heads");
  app.add_option("--head-dim", o.head_dim)->capture_default_str();
  app.add_option("--ffn", o.ffn, "ffn_hidden")->capture_default_str();
  app.add_option("--tp", o.tp)->capture_default_str();
  app.add_option("--activation", o.activation)
      ->check(CLI::IsMember({"swiglu", "gelu"}))
      ->capture_default_str();
  app.add_option("--threads", o.threads, "BLAS threads")->capture_default_str();
  app.add_option("--warmup", o.warmup)->capture_default_str();
  app.add_option("--iters", o.iters)->capture_default_str();
  app.add_flag("--json", o.json, "Print JSON instead of the table");
  CLI11_PARSE(app, argc, argv);
  if (o.kv_heads == 0) o.kv_heads = o.heads;
  for (int v :
       {o.tokens, o.hidden, o.heads, o.kv_heads, o.head_dim, o.ffn, o.tp, o.threads, o.iters}) {
    if (v <= 0) return std::fprintf(stderr, "gemm_bench: sizes must be positive\n"), 2;
  }
  if (o.heads % o.kv_heads || o.heads % o.tp || o.ffn % o.tp || o.warmup < 0) {
    std::fprintf(stderr, "gemm_bench: need kv-heads | heads, tp | heads, tp | ffn\n");
    return 2;
  }

  shardrt::kernels::cpu::setBlasThreads(o.threads);
  std::mt19937 rng(1234);
  std::vector<Gemm> gemms = layerGemms(o);
  for (auto& g : gemms) timeGemm(g, o, rng);
  if (o.json) {
    printJson(gemms, o);
  } else {
    printTable(gemms, o);
  }
  return 0;
}
