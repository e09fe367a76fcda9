#include "tests/synthetic_results.hpp"

#include <cmath>
#include <random>

#include "bench/runner.hpp"
#include "bench/suites.hpp"
#include "harness/build_info.hpp"
#include "harness/chips.hpp"

namespace trainbench::testing {

Results synthetic_results(const std::string& device_name, const std::vector<SyntheticBenchmark>& benchmarks,
                          std::uint64_t seed) {
  Results r;
  r.context.benchmark_context = {{"date", "2026-01-01T00:00:00+0000"}, {"host_name", "synthetic"},
                                 {"executable", "synthetic"}};
  r.context.schema_version = kResultsSchemaVersion;
  r.context.trainbench_version = std::string(version());
  r.context.git_commit = "synthetic";
  r.context.cuda_toolkit = std::string(cuda_toolkit_version());
  r.context.command = "synthetic test data, not a measurement";
  r.context.device.name = device_name;
  r.context.device.cc_major = 9;
  r.context.device.sm_count = 132;
  r.context.device.sm_clock_max_mhz = 1980;
  r.context.device.nvml_status = "synthetic";
  const ChipSpec* chip = ChipTable::builtin().match(device_name);
  if (chip) r.context.chip = *chip;

  std::mt19937_64 rng(seed);
  for (const auto& s : benchmarks) {
    BenchmarkResult b;
    b.name = benchmark_name(s.op, s.impl);
    b.op = op_family(s.op);
    b.impl = s.impl;
    b.shape = op_shape(s.op);
    b.accuracy = s.accuracy;
    b.verify_norm_error = s.verify_norm_error;
    if (s.failed) {
      b.error_occurred = true;
      b.error_message = "verification failed: error 1 > tolerance 0.01 (synthetic)";
      b.verify_error = 1;
      b.verify_tolerance = 0.01;
      b.verify_detail = "synthetic";
      derive_throughput(b, op_flops(s.op), op_bytes(s.op), op_roof(s.op), chip);
      r.benchmarks.push_back(b);
      continue;
    }
    std::normal_distribution<double> d(s.median_s, s.median_s * s.noise);
    for (int i = 0; i < s.samples; ++i) {
      b.samples_s.push_back(std::max(d(rng), s.median_s * 0.01));
      b.samples_sm_clock_mhz.push_back(s.clock_mhz);
    }
    const Summary sum = summarize(b.samples_s);
    b.verified = true;
    b.verify_detail = "synthetic";
    b.verify_error = s.verify_error;
    b.verify_tolerance = s.verify_tolerance;
    b.timed = true;
    b.median_s = sum.median;
    b.min_s = sum.min;
    b.max_s = sum.max;
    b.mean_s = sum.mean;
    b.noise = sum.noise;
    b.real_time_us = b.median_s * 1e6;
    b.sm_clock_mhz = s.clock_mhz;
    b.stop_reason = "noise_target";
    derive_throughput(b, op_flops(s.op), op_bytes(s.op), op_roof(s.op), chip);
    r.benchmarks.push_back(b);
  }
  return r;
}

std::vector<SyntheticBenchmark> synthetic_suite(double time_scale) {
  const double t = time_scale;
  return {
      {Copy{1ull << 30}, "memory.copy", 0.70e-3 * t},
      {Copy{1ull << 30}, "memory.cudaMemcpy", 0.72e-3 * t},
      {Gemm{8192, 8192, 8192, "tn", "bf16", "bf16"}, "gemm.cublas", 1.45e-3 * t},
      {Gemm{8192, 8192, 8192, "tn", "bf16", "bf16"}, "gemm.mma", 2.30e-3 * t},
      {Gemm{4096, 4096, 4096, "tn", "bf16", "bf16"}, "gemm.cublas", 0.20e-3 * t},
      {Attention{4, 16, 16, 8192, 8192, 128, false, "fwd"}, "attention.cudnn", 5.4e-3 * t},
  };
}

std::vector<SyntheticBenchmark> synthetic_accuracy_suite() {
  std::vector<SyntheticBenchmark> out;
  for (const auto& entry : find_suite("fp8-accuracy").entries) {
    const auto& g = std::get<ScaledGemm>(entry.op);
    const double doublings = std::log2(double(g.k) / 1024);
    for (const auto& impl : entry.impls) {
      const bool promoted = impl != "fp8gemm.wgmma_nopromote";
      const double error = promoted ? 0x1p-11 * std::exp2(0.5 * doublings) : 0x1p-9 * std::exp2(doublings);
      SyntheticBenchmark b{entry.op, impl, op_flops(entry.op) / 500e12};
      b.accuracy = true;
      b.verify_error = error;
      b.verify_tolerance = promoted ? 0x1p-7 : 0x1p-4;
      b.verify_norm_error = error / 2;
      out.push_back(b);
    }
  }
  return out;
}

}  // namespace trainbench::testing
