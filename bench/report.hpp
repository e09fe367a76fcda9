// The table `trainbench run` prints.
#pragma once
#include <cstdio>

#include "harness/results.hpp"

namespace trainbench {

// One row per benchmark: op, shape, impl, median, throughput, % of the spec peak, ratio to the
// vendor impl of the same op and shape, noise, samples, SM clock, status.
void print_table(const Results& results, std::FILE* out);

}  // namespace trainbench
