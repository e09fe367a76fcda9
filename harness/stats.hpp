// Sample statistics and the stopping rule. Pure host code: the rule is tested on a fake clock.
#pragma once
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace trainbench {

struct Summary {
  std::size_t n = 0;
  double median = 0, min = 0, max = 0, mean = 0, stdev = 0;
  double noise = 0;  // relative standard deviation, stdev / mean (nvbench's noise)
};
Summary summarize(const std::vector<double>& values);

struct SamplingPolicy {
  int min_samples = 10;
  int max_samples = 100000;
  double noise_target = 0.005;  // stop once noise is under this (nvbench's 0.5%) ...
  double budget_s = 2.0;        // ... or once this much wall time is spent
  // A sample whose effective SM clock is under throttle_fraction x reference_clock_mhz is set
  // aside (nvbench: 75% of the default clock). reference_clock_mhz = 0 turns the check off.
  double throttle_fraction = 0.75;
  double reference_clock_mhz = 0;
};

struct Sample {
  double seconds = 0;
  double sm_clock_mhz = 0;  // effective SM clock over the sample; 0 when unknown
};

enum class StopReason { NoiseTarget, Budget, MaxSamples };
const char* stop_reason_name(StopReason r);  // "noise_target", "budget", "max_samples"
StopReason stop_reason_from_name(const std::string& name);

struct SampleSet {
  std::vector<Sample> kept;       // the samples the statistics describe
  std::vector<Sample> discarded;  // taken while throttled below the clock floor
  StopReason reason = StopReason::Budget;
  // True when the kept samples cannot be trusted as unthrottled: more were discarded than kept,
  // or fewer than min_samples passed the clock floor (then every sample is kept and flagged).
  bool throttled = false;
  Summary summary;  // over kept
};

// Takes samples until min_samples are kept and then the noise target is met, the budget is
// spent, or max_samples were taken. Every sample is kept in the result. A run in which the
// clock floor keeps rejecting samples ends at 4x the budget with everything it has, flagged.
SampleSet collect_samples(const SamplingPolicy& policy, const std::function<Sample()>& take_sample,
                          const std::function<double()>& now_s);

}  // namespace trainbench
