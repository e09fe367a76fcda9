// `trainbench run`: a suite's (op, impl) pairs as Google Benchmark benchmarks with manual time,
// each measured by the harness's rules, collected into a results file.
#pragma once
#include <functional>
#include <string>

#include <benchmark/benchmark.h>

#include "bench/model_suite.hpp"
#include "harness/ops.hpp"
#include "harness/results.hpp"

namespace trainbench {

struct RunOptions {
  std::string suite = "quick";
  std::string filter;  // ECMAScript regex searched in benchmark names; empty: all
  std::string out;     // results file; empty: results-<chip>-<suite>-<time>.json
  bool force = false;
  bool hot = false;
  double noise_target = 0.005;
  double budget_s = 2.0;
  int min_samples = 10;
  int device = 0;
  bool verify_only = false;  // verify every benchmark, time none, write no results file
  bool list = false;         // print what would run (no GPU touched), run nothing
  ModelSuiteOptions model;  // the layout of a `model:NAME` suite
  std::string command;  // the command line, recorded in the file
};

// Runs and writes the results file (with verify_only: prints each benchmark's verification
// instead, times nothing, writes nothing; with list: prints the benchmarks the suite holds after
// --filter, with their FLOPs and bytes, without a GPU). Returns the exit code: 0, 1 if a verification failed,
// 2 if a benchmark could not run (out of memory, ...). Throws Error for usage and environment
// errors before anything runs.
int run_suite(const RunOptions& options);

// Registers one benchmark as `run` does: one iteration whose time the function sets (manual time,
// in microseconds).
void register_manual_benchmark(const std::string& name, std::function<void(benchmark::State&)> body);

// The name a benchmark was registered under, as a reporter receives it: Google Benchmark's
// run.benchmark_name() carries its settings too ("<name>/iterations:1/manual_time"); results are
// keyed by the registered name.
std::string registered_name(const benchmark::BenchmarkReporter::Run& run);

// Fills the derived fields of a result (throughput, % of peak) from its op, median and chip.
void derive_throughput(BenchmarkResult& b, double flops, double bytes, Roof roof, const ChipSpec* chip);

}  // namespace trainbench
