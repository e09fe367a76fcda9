// The measurement rules, enforced in one place for every benchmark:
// verify first (random inputs, poisoned outputs; a failure gives no number), warm up,
// then time L2-cold samples until the noise target or the budget, keeping every sample,
// with NVML conditions recorded before and after.
#pragma once
#include <optional>

#include "harness/device.hpp"
#include "harness/registry.hpp"
#include "harness/stats.hpp"
#include "harness/timer.hpp"

namespace trainbench {

struct MeasureOptions {
  bool hot = false;      // keep L2 warm between samples
  int warmup_launches = 3;
  SamplingPolicy policy;  // policy.reference_clock_mhz is set from the device when 0
};

struct Measurement {
  Verification verification;
  std::optional<SampleSet> samples;  // empty when verification failed
  GpuConditions before, after;
};

Measurement measure(Case& c, const Device& device, const MeasureOptions& options, GpuTimer& timer,
                    cudaStream_t stream);

}  // namespace trainbench
