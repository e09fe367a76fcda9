#include "harness/stats.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "harness/error.hpp"

namespace trainbench {

Summary summarize(const std::vector<double>& values) {
  Summary s;
  s.n = values.size();
  if (values.empty()) return s;
  std::vector<double> sorted = values;
  std::sort(sorted.begin(), sorted.end());
  const std::size_t n = sorted.size();
  s.min = sorted.front();
  s.max = sorted.back();
  s.median = n % 2 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
  s.mean = std::accumulate(sorted.begin(), sorted.end(), 0.0) / static_cast<double>(n);
  if (n > 1) {
    double ss = 0;
    for (double v : sorted) ss += (v - s.mean) * (v - s.mean);
    s.stdev = std::sqrt(ss / static_cast<double>(n - 1));
  }
  s.noise = s.mean > 0 ? s.stdev / s.mean : 0.0;
  return s;
}

const char* stop_reason_name(StopReason r) {
  switch (r) {
    case StopReason::NoiseTarget: return "noise_target";
    case StopReason::Budget: return "budget";
    case StopReason::MaxSamples: return "max_samples";
  }
  return "?";
}

StopReason stop_reason_from_name(const std::string& name) {
  for (StopReason r : {StopReason::NoiseTarget, StopReason::Budget, StopReason::MaxSamples})
    if (name == stop_reason_name(r)) return r;
  throw Error("unknown stop reason \"" + name + "\"; expected noise_target, budget or max_samples");
}

namespace {
std::vector<double> seconds_of(const std::vector<Sample>& samples) {
  std::vector<double> out;
  out.reserve(samples.size());
  for (const auto& s : samples) out.push_back(s.seconds);
  return out;
}
}  // namespace

SampleSet collect_samples(const SamplingPolicy& policy, const std::function<Sample()>& take_sample,
                          const std::function<double()>& now_s) {
  const double floor_mhz = policy.reference_clock_mhz * policy.throttle_fraction;
  const std::size_t min_kept = static_cast<std::size_t>(std::max(policy.min_samples, 1));
  const std::size_t max_total = static_cast<std::size_t>(std::max(policy.max_samples, policy.min_samples));
  SampleSet set;
  // Running mean and variance of the kept samples (Welford): the stopping rule is checked after
  // every sample, and re-sorting thousands of samples each time would make the host the bottleneck.
  double mean = 0, m2 = 0;
  const double start = now_s();
  for (;;) {
    const Sample s = take_sample();
    const bool slow_clock = floor_mhz > 0 && s.sm_clock_mhz > 0 && s.sm_clock_mhz < floor_mhz;
    (slow_clock ? set.discarded : set.kept).push_back(s);
    if (!slow_clock) {
      const double n = static_cast<double>(set.kept.size());
      const double delta = s.seconds - mean;
      mean += delta / n;
      m2 += delta * (s.seconds - mean);
    }
    const double elapsed = now_s() - start;
    const std::size_t total = set.kept.size() + set.discarded.size();
    if (set.kept.size() >= min_kept) {
      const double n = static_cast<double>(set.kept.size());
      const double noise = (n > 1 && mean > 0) ? std::sqrt(m2 / (n - 1)) / mean : 0.0;
      if (noise < policy.noise_target) {
        set.reason = StopReason::NoiseTarget;
        break;
      }
      if (elapsed >= policy.budget_s) {
        set.reason = StopReason::Budget;
        break;
      }
      if (total >= max_total) {
        set.reason = StopReason::MaxSamples;
        break;
      }
    } else if (elapsed >= 4 * policy.budget_s || total >= 4 * max_total) {
      set.reason = elapsed >= 4 * policy.budget_s ? StopReason::Budget : StopReason::MaxSamples;
      break;
    }
  }
  if (set.kept.size() < min_kept) {
    // Never return nothing: keep every sample and say the result was taken throttled.
    set.kept.insert(set.kept.end(), set.discarded.begin(), set.discarded.end());
    set.discarded.clear();
    set.throttled = true;
  } else if (set.discarded.size() > set.kept.size()) {
    set.throttled = true;
  }
  set.summary = summarize(seconds_of(set.kept));
  return set;
}

}  // namespace trainbench
