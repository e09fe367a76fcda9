#include "harness/gemm_efficiency.hpp"

#include <algorithm>
#include <cmath>

namespace trainbench {

double gemm_quantization_efficiency(std::uint64_t m, std::uint64_t n, std::uint64_t k, const GemmTiling& t) {
  if (m == 0 || n == 0 || k == 0 || t.tile_long <= 0 || t.tile_short <= 0) return 1.0;
  const double useful = double(m) * double(n);
  double best = 0;
  for (const auto& [tm, tn] : {std::pair{t.tile_long, t.tile_short}, std::pair{t.tile_short, t.tile_long}}) {
    const double tiles = std::ceil(double(m) / tm) * std::ceil(double(n) / tn);
    if (t.sms <= 0) {
      best = std::max(best, useful / (tiles * tm * tn));
      continue;
    }
    // Split K into s slices (powers of two, each at least min_split_k deep) while the tiles alone do
    // not fill one wave.
    for (double s = 1;; s *= 2) {
      const double ctas = tiles * s;
      const double waves = std::ceil(ctas / t.sms);
      // Each CTA does 1/s of its tile's K: the machine holds waves x SMs slots of tm x tn x k/s.
      best = std::max(best, useful * s / (waves * t.sms * tm * tn));
      if (ctas >= t.sms || double(k) / (2 * s) < t.min_split_k) break;
    }
  }
  return std::clamp(best, 1e-6, 1.0);
}

}  // namespace trainbench
