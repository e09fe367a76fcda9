// The measurement rules, enforced in one place for every benchmark:
// verify first (random inputs, poisoned outputs; a failure gives no number), warm up,
// then time L2-cold samples until the noise target or the budget, keeping every sample,
// with NVML conditions recorded before and after.
#pragma once
#include <functional>
#include <optional>

#include "harness/device.hpp"
#include "harness/registry.hpp"
#include "harness/stats.hpp"
#include "harness/timer.hpp"

namespace trainbench {

struct MeasureOptions {
  bool hot = false;       // keep L2 warm between samples
  bool accuracy = false;  // an accuracy benchmark: see verification_passes
  int warmup_launches = 3;
  SamplingPolicy policy;  // policy.reference_clock_mhz is set from the device when 0
  // Called when work has moved on: after the verifying launch and its check, after the warm-up,
  // after each sample (the runner's hang watchdog restarts its clock there). May be empty.
  std::function<void()> progress;
};

struct Measurement {
  Verification verification;
  std::optional<SampleSet> samples;  // empty when verification failed
  GpuConditions before, after;
};

// Whether a verification passes. Ordinarily: the error is finite and within the impl's tolerance.
// In an accuracy benchmark the error is the result (fp8gemm.wgmma_nopromote's grows with k, as
// it exists to show), so a large one still passes and is recorded; what fails is an output that
// says nothing about the reference: any non-finite value (the NaN poison left unwritten), or
// norm_error >= 1, no closer to the reference than all zeros are (garbage, a wrong sign). An
// output whose every element lies between zero and the reference, as one that lost low-order
// bits towards zero does, stays below 1. Subtler bugs are the business of the same impls'
// ordinary runs and GPU tests, at their own tolerances. An impl that does not measure
// norm_error cannot take part in an accuracy benchmark.
bool verification_passes(const Verification& v, bool accuracy);

Measurement measure(Case& c, const Device& device, const MeasureOptions& options, GpuTimer& timer,
                    cudaStream_t stream);

}  // namespace trainbench
