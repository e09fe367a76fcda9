// `trainbench run`: a suite's (op, impl) pairs as Google Benchmark benchmarks with manual time,
// each measured by the harness's rules, collected into a results file.
#pragma once
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "bench/model_suite.hpp"
#include "harness/ops.hpp"
#include "harness/results.hpp"

namespace trainbench {

// The hang timeout when none is given. The watchdog restarts its clock at every step of a
// benchmark (the verification with its oracle, the warm-up, each sample). The longest step seen on
// an H200 took a few seconds, but a verification is one FP64 oracle launch: at the largest FP8
// shapes (1e12 FP64 operations) that is seconds on an H100 and minutes where FP64 runs at 1/64 of
// FP32 (L40S, RTX 4090). Five minutes, so that slow is not taken for stuck; a GPU session that knows
// its chip passes less (scripts/gpu-session.sh's HANG_TIMEOUT).
inline constexpr double kDefaultHangTimeoutS = 300;

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
  // A results file of an earlier run on this GPU with this build and these settings (the partial
  // file of a run that hung or was killed): its benchmarks are kept as they are, the rest are run.
  std::string resume;
  // A benchmark that makes no progress (its verification, its warm-up, a sample) for this many
  // seconds is taken to hang: it is recorded as such in the partial file and the run ends with
  // kExitHung (3), so that --resume can go on past it. 0: never.
  double hang_timeout_s = kDefaultHangTimeoutS;
  ModelSuiteOptions model;  // the layout of a `model:NAME` suite
  std::string command;  // the command line, recorded in the file
};

// Runs and writes the results file (with verify_only: prints each benchmark's verification
// instead, times nothing, writes nothing; with list: prints the benchmarks the suite holds after
// --filter, with their FLOPs and bytes, without a GPU). Returns the exit code: 0, 1 if a verification failed
// (or a benchmark kept from --resume had hung), 2 if a benchmark could not run (out of memory, ...). Throws
// Error for usage and environment errors before anything runs. A benchmark that hangs ends the
// process with kExitHung (3) after saving the partial file.
int run_suite(const RunOptions& options);


// `--resume FILE`: the benchmarks of `earlier` (read from `origin`) that this run plans (`planned`:
// their names), keyed by name, to be kept instead of measured again. Throws Error (exit code 2)
// where the file cannot be continued without mixing what should not be mixed: another GPU (name or
// SM count), another build (commit) or other measurement settings, each named with both values.
std::map<std::string, BenchmarkResult> resumable_benchmarks(const Results& earlier, const std::string& origin,
                                                            const DeviceInfo& device, const std::string& commit,
                                                            const MeasurementSettings& settings,
                                                            const std::vector<std::string>& planned);

// The record of a benchmark that made no progress for timeout_s seconds: `planned` (its name, op,
// impl, shape, work) with no number, reported as failed (verify_detail says why, so that `run`
// counts it as a failed check, exit code 1, when a resumed run finishes).
BenchmarkResult hung_benchmark(BenchmarkResult planned, double timeout_s);

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
