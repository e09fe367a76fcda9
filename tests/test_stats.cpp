// Statistics and the stopping rule, on a fake clock with planted noise.
#include <gtest/gtest.h>

#include <random>

#include "harness/stats.hpp"

namespace trainbench {
namespace {

// A sampler whose samples take `cost_s` of fake wall time each, with durations drawn from a
// normal distribution of relative spread `noise` around `mean_s`.
struct FakeBench {
  double mean_s, noise, cost_s;
  double clock_mhz = 1980;
  double now = 0;
  std::mt19937_64 rng{42};
  int taken = 0;

  Sample take() {
    std::normal_distribution<double> d(mean_s, mean_s * noise);
    now += cost_s;
    ++taken;
    return Sample{std::max(d(rng), 1e-9), clock_mhz};
  }
};

SamplingPolicy policy(double budget_s) {
  SamplingPolicy p;
  p.min_samples = 10;
  p.noise_target = 0.005;
  p.budget_s = budget_s;
  p.reference_clock_mhz = 1980;
  return p;
}

TEST(Summarize, MedianMinMaxMeanAndNoise) {
  const Summary s = summarize({4, 1, 3, 2});
  EXPECT_EQ(s.n, 4u);
  EXPECT_DOUBLE_EQ(s.median, 2.5);
  EXPECT_DOUBLE_EQ(s.min, 1);
  EXPECT_DOUBLE_EQ(s.max, 4);
  EXPECT_DOUBLE_EQ(s.mean, 2.5);
  EXPECT_NEAR(s.stdev, 1.2909944487, 1e-9);  // sample stdev (n - 1)
  EXPECT_NEAR(s.noise, 1.2909944487 / 2.5, 1e-9);
  EXPECT_DOUBLE_EQ(summarize({5, 1, 3}).median, 3);
  EXPECT_EQ(summarize({}).n, 0u);
  EXPECT_DOUBLE_EQ(summarize({7}).noise, 0);
}

TEST(CollectSamples, QuietBenchmarkStopsAtTheNoiseTargetAfterTheMinimum) {
  FakeBench f{1e-3, 0.001, 0.01};
  const SampleSet s = collect_samples(policy(2.0), [&] { return f.take(); }, [&] { return f.now; });
  EXPECT_EQ(s.reason, StopReason::NoiseTarget);
  EXPECT_EQ(s.kept.size(), 10u);  // never fewer than min_samples, even when quiet at once
  EXPECT_TRUE(s.discarded.empty());
  EXPECT_FALSE(s.throttled);
  EXPECT_LT(s.summary.noise, 0.005);
  EXPECT_NEAR(s.summary.median, 1e-3, 1e-5);
}

TEST(CollectSamples, NoisyBenchmarkStopsAtTheBudgetKeepingEverySample) {
  FakeBench f{1e-3, 0.05, 0.01};  // 5% noise never meets a 0.5% target
  const SampleSet s = collect_samples(policy(2.0), [&] { return f.take(); }, [&] { return f.now; });
  EXPECT_EQ(s.reason, StopReason::Budget);
  EXPECT_EQ(static_cast<int>(s.kept.size()), f.taken);
  EXPECT_NEAR(static_cast<double>(s.kept.size()), 200.0, 1.0);  // 2 s of budget / 10 ms per sample
  EXPECT_GT(s.summary.noise, 0.03);
  EXPECT_LT(s.summary.noise, 0.07);
}

TEST(CollectSamples, MaxSamplesEndsAFastNoisyBenchmark) {
  FakeBench f{1e-6, 0.05, 1e-6};
  SamplingPolicy p = policy(10.0);
  p.max_samples = 50;
  const SampleSet s = collect_samples(p, [&] { return f.take(); }, [&] { return f.now; });
  EXPECT_EQ(s.reason, StopReason::MaxSamples);
  EXPECT_EQ(s.kept.size(), 50u);
}

TEST(CollectSamples, SamplesBelowTheClockFloorAreSetAsideNotMixed) {
  FakeBench f{1e-3, 0.001, 0.01};
  int i = 0;
  auto take = [&] {
    Sample s = f.take();
    if (++i % 3 == 0) {  // every third sample at half clock, twice as slow
      s.sm_clock_mhz = 990;
      s.seconds *= 2;
    }
    return s;
  };
  const SampleSet s = collect_samples(policy(2.0), take, [&] { return f.now; });
  EXPECT_GE(s.kept.size(), 10u);
  EXPECT_FALSE(s.discarded.empty());
  for (const auto& k : s.kept) EXPECT_GE(k.sm_clock_mhz, 0.75 * 1980);
  for (const auto& d : s.discarded) EXPECT_LT(d.sm_clock_mhz, 0.75 * 1980);
  EXPECT_FALSE(s.throttled);
  EXPECT_NEAR(s.summary.median, 1e-3, 1e-5);  // the slow samples did not move the median
}

TEST(CollectSamples, AThrottledCardReturnsEverythingFlaggedNeverNothing) {
  FakeBench f{1e-3, 0.001, 0.01};
  f.clock_mhz = 900;  // always under 75% of 1980
  const SampleSet s = collect_samples(policy(1.0), [&] { return f.take(); }, [&] { return f.now; });
  EXPECT_TRUE(s.throttled);
  EXPECT_TRUE(s.discarded.empty());
  EXPECT_EQ(static_cast<int>(s.kept.size()), f.taken);
  EXPECT_NEAR(f.now, 4.0, 0.011);  // gave up at 4x the budget
  EXPECT_GT(s.summary.median, 0);
}

TEST(CollectSamples, UnknownClockDisablesTheFloor) {
  FakeBench f{1e-3, 0.001, 0.01};
  f.clock_mhz = 0;  // the probe could not read a clock
  const SampleSet s = collect_samples(policy(2.0), [&] { return f.take(); }, [&] { return f.now; });
  EXPECT_TRUE(s.discarded.empty());
  EXPECT_FALSE(s.throttled);
}

TEST(StopReason, NamesRoundTripAndUnknownIsAnError) {
  for (StopReason r : {StopReason::NoiseTarget, StopReason::Budget, StopReason::MaxSamples})
    EXPECT_EQ(stop_reason_from_name(stop_reason_name(r)), r);
  EXPECT_ANY_THROW(stop_reason_from_name("bored"));
}

}  // namespace
}  // namespace trainbench
