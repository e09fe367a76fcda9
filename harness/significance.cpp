#include "harness/significance.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace trainbench {
namespace {

// Number of arrangements with each value of U for samples of sizes n1, n2 (no ties): the coefficients of the
// Gaussian binomial [n1 + n2 choose m]_q = prod_{i=1..m} (1 - q^(n+i)) / (1 - q^i), m = min(n1, n2), n = max.
// Each step multiplies by (1 - q^(n+i)) and divides by (1 - q^i) (a running sum with stride i); the partial
// product is the distribution for sizes (i, n). O(m^2 n) work, so one sample of 8 against thousands is cheap.
std::vector<double> u_distribution(std::size_t n1, std::size_t n2) {
  const std::size_t m = std::min(n1, n2), n = std::max(n1, n2);
  std::vector<double> f(m * n + 1, 0.0);
  f[0] = 1;
  for (std::size_t i = 1; i <= m; ++i) {
    const std::size_t degree = i * n;
    for (std::size_t u = degree; u >= n + i; --u) f[u] -= f[u - n - i];
    for (std::size_t u = i; u <= degree; ++u) f[u] += f[u - i];
  }
  return f;
}

}  // namespace

MannWhitney mann_whitney_u(const std::vector<double>& a, const std::vector<double>& b) {
  MannWhitney r;
  const std::size_t n1 = a.size(), n2 = b.size();
  if (n1 == 0 || n2 == 0) return r;

  // Midranks of the pooled sample.
  std::vector<std::pair<double, int>> pooled;
  pooled.reserve(n1 + n2);
  for (double v : a) pooled.emplace_back(v, 0);
  for (double v : b) pooled.emplace_back(v, 1);
  std::sort(pooled.begin(), pooled.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
  double rank_sum_a = 0, tie_term = 0;
  bool ties = false;
  for (std::size_t i = 0; i < pooled.size();) {
    std::size_t j = i;
    while (j < pooled.size() && pooled[j].first == pooled[i].first) ++j;
    const double midrank = 0.5 * static_cast<double>(i + 1 + j);  // ranks i+1 .. j
    const double t = static_cast<double>(j - i);
    if (t > 1) {
      ties = true;
      tie_term += t * t * t - t;
    }
    for (std::size_t k = i; k < j; ++k)
      if (pooled[k].second == 0) rank_sum_a += midrank;
    i = j;
  }
  const double dn1 = static_cast<double>(n1), dn2 = static_cast<double>(n2);
  r.u = rank_sum_a - dn1 * (dn1 + 1) / 2;
  const double mean_u = dn1 * dn2 / 2;

  if (!ties && (n1 <= 8 || n2 <= 8)) {
    const std::vector<double> f = u_distribution(n1, n2);
    const double total = std::accumulate(f.begin(), f.end(), 0.0);
    // Two-sided: twice the tail beyond the smaller of U and n1 n2 - U (the distribution is symmetric). The
    // lower tail's counts come from sums without cancellation; the upper tail's from large differences.
    const auto u_small = static_cast<std::size_t>(std::llround(std::min(r.u, dn1 * dn2 - r.u)));
    double tail = 0;
    for (std::size_t u = 0; u <= u_small; ++u) tail += f[u];
    r.p_value = std::min(1.0, 2 * tail / total);
    r.exact = true;
    return r;
  }

  const double n = dn1 + dn2;
  const double variance = dn1 * dn2 / 12 * ((n + 1) - tie_term / (n * (n - 1)));
  if (variance <= 0) return r;  // every value equal: no evidence of a difference
  const double z = (std::abs(r.u - mean_u) - 0.5) / std::sqrt(variance);
  r.p_value = std::min(1.0, std::erfc(std::max(z, 0.0) / std::sqrt(2.0)));
  return r;
}

}  // namespace trainbench
