// Synthetic results files for tests of compare, check and plots: made with the same code that
// writes real ones, labelled as synthetic in their command and host, and never placed under
// results/ (which holds only real runs).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "harness/ops.hpp"
#include "harness/results.hpp"

namespace trainbench::testing {

struct SyntheticBenchmark {
  Op op;
  std::string impl;
  double median_s;
  double noise = 0.01;          // relative spread of the samples
  double clock_mhz = 1980;      // every sample's SM clock; 0: not recorded
  int samples = 30;
  bool failed = false;          // verification failed: no number
  bool accuracy = false;        // an accuracy benchmark (SuiteEntry::accuracy)
  double verify_error = 0;
  double verify_tolerance = 0;
  std::optional<double> verify_norm_error = std::nullopt;
};

// A results file from `device_name` (matched to a chip spec when the name matches one).
Results synthetic_results(const std::string& device_name, const std::vector<SyntheticBenchmark>& benchmarks,
                          std::uint64_t seed);

// A small suite over memory, GEMM and attention ops, every time scaled by `time_scale`.
std::vector<SyntheticBenchmark> synthetic_suite(double time_scale = 1.0);

// The fp8-accuracy suite's benchmarks with made-up errors that grow with k: 2^-11 (k / 1024)^0.5
// with promotion, 2^-9 (k / 1024) for fp8gemm.wgmma_nopromote; normwise errors half those.
std::vector<SyntheticBenchmark> synthetic_accuracy_suite();

}  // namespace trainbench::testing
