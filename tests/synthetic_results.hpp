// Synthetic results files for tests of compare, check and plots: made with the same code that
// writes real ones, labelled as synthetic in their command and host, and never placed under
// results/ (which holds only real runs).
#pragma once
#include <cstdint>
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
};

// A results file from `device_name` (matched to a chip spec when the name matches one).
Results synthetic_results(const std::string& device_name, const std::vector<SyntheticBenchmark>& benchmarks,
                          std::uint64_t seed);

// A small suite over memory, GEMM and attention ops, every time scaled by `time_scale`.
std::vector<SyntheticBenchmark> synthetic_suite(double time_scale = 1.0);

}  // namespace trainbench::testing
