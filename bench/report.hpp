// The tables `trainbench run` prints.
#pragma once
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <optional>
#include <utility>
#include <vector>

#include "harness/results.hpp"

namespace trainbench {

// The roofs measured on one GPU (DESIGN rule 6: throughput against the spec sheet and against what the chip
// was seen to do): per roof ("hbm", "bf16", "fp8", "int8"), the fastest verified copy or GEMM, any impl,
// in the files given, which should all come from that GPU. mamf-finder's "maximum achievable" in spirit:
// attention is read against the best BF16 GEMM, a quantize kernel against the best copy.
struct MeasuredRoof {
  double value = 0;  // TFLOP/s, or GB/s for hbm
  std::string impl, shape;
  std::optional<double> spec;  // the spec sheet's value of the roof, as the benchmark recorded it
};
using MeasuredRoofs = std::map<std::string, MeasuredRoof>;  // by roof name
MeasuredRoofs measured_roofs(const std::vector<const Results*>& files);

// One row per benchmark: op, shape, impl, median, throughput, % of the spec peak, % of the measured
// roof, ratio to the vendor impl of the same op and shape, noise, samples, SM clock, status. The
// status names the NVML slowdown reasons (power cap, thermal) in force before or after the
// benchmark, if any.
void print_table(const Results& results, std::FILE* out, const MeasuredRoofs& roofs = {});

// "measured roofs: bf16 803.4 TFLOP/s (gemm.wgmma at m:8192/..., 81.2% of the spec's 989), ...";
// nothing when there are none.
void print_measured_roofs(const MeasuredRoofs& roofs, std::FILE* out);

// The NVML clock slowdown reasons (harness/nvml.hpp) set before or after a benchmark; 0 for none.
std::uint64_t slowdown_reasons_seen(const BenchmarkResult& b);

// Per impl of ours, the geometric mean of its throughput over the vendor baseline's across the
// shapes where both were timed (the figure a target such as ">= 0.95x cuBLAS over the model
// shapes" is judged by): "gemm.wgmma / gemm.cublas: 0.97x geomean over 24 shapes (0.81x to 1.10x)".
// Prints nothing when no shape has both.
void print_vendor_geomeans(const Results& results, std::FILE* out);

// The accuracy benchmarks (BenchmarkResult::accuracy), if any: one row per impl and op shape
// without k, one column per k, each cell the verification error and the normwise error, and the
// row's growth exponent p (error ~ k^p). Prints nothing when there are none.
void print_accuracy_table(const Results& results, std::FILE* out);

// The least-squares slope of log(y) against log(x) over the points with x, y > 0: p in y ~ x^p.
// Empty with fewer than two such points or a single x.
std::optional<double> log_log_slope(const std::vector<std::pair<double, double>>& points);

}  // namespace trainbench
