// The tables `trainbench run` prints.
#pragma once
#include <cstdio>
#include <optional>
#include <utility>
#include <vector>

#include "harness/results.hpp"

namespace trainbench {

// One row per benchmark: op, shape, impl, median, throughput, % of the spec peak, ratio to the
// vendor impl of the same op and shape, noise, samples, SM clock, status.
void print_table(const Results& results, std::FILE* out);

// The accuracy benchmarks (BenchmarkResult::accuracy), if any: one row per impl and op shape
// without k, one column per k, each cell the verification error and the normwise error, and the
// row's growth exponent p (error ~ k^p). Prints nothing when there are none.
void print_accuracy_table(const Results& results, std::FILE* out);

// The least-squares slope of log(y) against log(x) over the points with x, y > 0: p in y ~ x^p.
// Empty with fewer than two such points or a single x.
std::optional<double> log_log_slope(const std::vector<std::pair<double, double>>& points);

}  // namespace trainbench
