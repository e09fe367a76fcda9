// Is a difference between two sets of timings real? The two-sided Mann-Whitney U test, as
// Google Benchmark's tools/compare.py decides (scipy.stats.mannwhitneyu, method "auto").
#pragma once
#include <vector>

namespace trainbench {

struct MannWhitney {
  double u = 0;        // U statistic of the first sample
  double p_value = 1;  // two-sided
  bool exact = false;  // exact distribution (small samples without ties) or normal approximation
};

// Exact p-value when either sample has at most 8 values and there are no ties (scipy's rule);
// otherwise the normal approximation with tie correction and continuity correction.
// Either sample empty: p_value = 1.
MannWhitney mann_whitney_u(const std::vector<double>& a, const std::vector<double>& b);

}  // namespace trainbench
