#include "harness/measure.hpp"

#include <chrono>
#include <cmath>

#include "harness/error.hpp"

namespace trainbench {

bool verification_passes(const Verification& v, bool accuracy) {
  if (!std::isfinite(v.error)) return false;
  if (accuracy) return v.norm_error && *v.norm_error < 1.0;
  return v.error <= v.tolerance;
}

Measurement measure(Case& c, const Device& device, const MeasureOptions& options, GpuTimer& timer,
                    cudaStream_t stream) {
  Measurement m;
  m.before = device.conditions();

  c.prepare(stream);
  c.poison(stream);
  c.launch(stream);
  TB_CUDA_CHECK(cudaGetLastError());
  TB_CUDA_CHECK(cudaStreamSynchronize(stream));
  m.verification = c.check(stream);
  m.verification.passed = verification_passes(m.verification, options.accuracy);
  const auto moved_on = [&] {
    if (options.progress) options.progress();
  };
  moved_on();
  if (!m.verification.passed) {
    m.after = device.conditions();
    return m;
  }

  for (int i = 0; i < options.warmup_launches; ++i) c.launch(stream);
  TB_CUDA_CHECK(cudaStreamSynchronize(stream));
  moved_on();

  SamplingPolicy policy = options.policy;
  if (policy.reference_clock_mhz == 0) policy.reference_clock_mhz = device.info().sm_clock_max_mhz;
  const auto t0 = std::chrono::steady_clock::now();
  m.samples = collect_samples(
      policy,
      [&] {
        const Sample s = timer.time([&](cudaStream_t stream_) { c.launch(stream_); });
        moved_on();
        return s;
      },
      [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); });
  m.after = device.conditions();
  return m;
}

}  // namespace trainbench
