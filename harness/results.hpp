// Results files: Google Benchmark JSON (`context`, `benchmarks` with its standard fields, so
// its tools read them) with trainbench's keys beside the standard ones. Described in
// results/README.md; written and read back losslessly.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/chips.hpp"
#include "harness/device.hpp"
#include "harness/stats.hpp"

namespace trainbench {

struct MeasurementSettings {
  bool hot = false;
  double noise_target = 0.005;
  double budget_s = 2.0;
  int min_samples = 10;
  double throttle_fraction = 0.75;
  std::uint64_t l2_flush_bytes = 0;
  int warmup_launches = 3;
};

struct RunContext {
  nlohmann::ordered_json benchmark_context;  // Google Benchmark's own context keys, as it gave them
  int schema_version = 0;
  std::string trainbench_version;
  std::string git_commit;
  std::string cuda_toolkit;
  std::string command;  // the command line that produced the file
  DeviceInfo device;
  std::optional<ChipSpec> chip;  // the spec sheet "% of peak" used; empty if the GPU matched none
  MeasurementSettings measurement;
};

struct BenchmarkResult {
  // Google Benchmark's standard fields
  std::string name;  // "copy/memory.copy/bytes:1073741824"
  std::int64_t family_index = 0;
  std::int64_t per_family_instance_index = 0;
  std::string run_type = "iteration";
  std::int64_t repetitions = 1;
  std::int64_t repetition_index = 0;
  std::int64_t iterations = 1;
  double real_time_us = 0;  // the median sample
  double cpu_time_us = 0;
  bool error_occurred = false;
  std::string error_message;

  // trainbench's
  std::string op;
  std::string impl;
  nlohmann::ordered_json shape;
  double flops = 0;
  double bytes = 0;
  bool verified = false;
  double verify_error = 0;
  double verify_tolerance = 0;
  std::string verify_detail;
  std::optional<double> verify_norm_error;  // ||out - ref|| / ||ref||, where the impl measures it
  // An accuracy benchmark (SuiteEntry::accuracy): the verification error is the result, and
  // `verified` follows verification_passes(v, true), so verify_error may exceed verify_tolerance.
  bool accuracy = false;
  bool timed = false;  // false when verification failed or the case could not run
  double median_s = 0, min_s = 0, max_s = 0, mean_s = 0, noise = 0;
  double tflops = 0;   // flops / median
  double gbps = 0;     // bytes / median, 1e9
  std::string roof;    // "hbm", "bf16", ...
  std::optional<double> peak;         // spec-sheet value of the roof (TFLOP/s, or GB/s for hbm)
  std::optional<double> pct_of_peak;  // 100 x throughput / peak
  double sm_clock_mhz = 0;            // median effective SM clock over the kept samples
  std::string stop_reason;
  bool throttled = false;
  std::vector<double> samples_s;
  std::vector<double> samples_sm_clock_mhz;
  std::vector<double> discarded_samples_s;  // set aside: taken below the clock floor
  std::vector<double> discarded_sm_clock_mhz;
  GpuConditions conditions_before, conditions_after;
};

struct Results {
  RunContext context;
  std::vector<BenchmarkResult> benchmarks;
};

// What identifies a benchmark across files: (op, impl, shape).
std::string benchmark_key(const BenchmarkResult& b);
// The benchmark's headline throughput: GB/s for memory-bound ops (roof "hbm"), else TFLOP/s.
double headline_throughput(const BenchmarkResult& b);
const char* headline_unit(const BenchmarkResult& b);

nlohmann::ordered_json results_to_json(const Results& results);
// Throws Error naming `origin` and what is wrong (missing key, wrong type, other schema).
Results results_from_json(const nlohmann::json& doc, const std::string& origin);

// Writes atomically (a temporary file renamed into place). Refuses, with exit code 2 and
// nothing touched, when `path` exists and `force` is false.
void write_results_file(const std::string& path, const Results& results, bool force);

// Where `trainbench run --out path` keeps the benchmarks done so far while it runs (removed once
// `path` is written): path with ".json" replaced by ".partial.json" (appended when it has none).
std::string partial_results_path(const std::string& path);

// What `trainbench run` checks before it measures anything, so that no measurement is lost to a
// path it cannot write at the end and no earlier file is replaced: `path`'s directory exists, is
// a directory and takes a new file; `path` and its partial file (the record a killed run left)
// do not exist unless `force` (the partial file may exist where it is `resume`, the file the run
// goes on from). Throws Error saying which and what to do.
void check_results_path(const std::string& path, bool force, const std::string& resume = "");
// Throws Error naming the file for unreadable, truncated or malformed content.
Results read_results_file(const std::string& path);

}  // namespace trainbench
