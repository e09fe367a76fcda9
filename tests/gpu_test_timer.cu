// The timer against a kernel of known length: a spin on %globaltimer, timed the harness's way.
#include <gtest/gtest.h>

#include "harness/device.hpp"
#include "harness/error.hpp"
#include "harness/timer.hpp"
#include "tests/gpu_skip.hpp"

namespace trainbench {
namespace {

class TimerTest : public ::testing::TestWithParam<bool> {};

TEST_P(TimerTest, MeasuresASpinKernelWithinTwoPercent) {
  TB_REQUIRE_GPU();
  const Device device(0);
  cudaStream_t stream = nullptr;
  TB_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  GpuTimer timer(device.info(), stream, /*l2_flush=*/GetParam());
  // 1 ms and longer: the fixed cost of an event pair (a microsecond or two) stays under 2%.
  for (const std::uint64_t ns : {1'000'000ull, 5'000'000ull, 20'000'000ull}) {
    std::vector<double> seen;
    for (int i = 0; i < 9; ++i) seen.push_back(timer.time([&](cudaStream_t s) { launch_spin_kernel(ns, s); }).seconds);
    std::sort(seen.begin(), seen.end());
    const double median = seen[seen.size() / 2];
    EXPECT_NEAR(median, static_cast<double>(ns) * 1e-9, 0.02 * static_cast<double>(ns) * 1e-9) << ns << " ns spin";
  }
  const Sample s = timer.time([](cudaStream_t st) { launch_spin_kernel(1'000'000, st); });
  EXPECT_GT(s.sm_clock_mhz, 100.0);  // the clock probe saw the SMs run
  EXPECT_LT(s.sm_clock_mhz, 5000.0);
  cudaStreamDestroy(stream);
}

INSTANTIATE_TEST_SUITE_P(L2, TimerTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? std::string("Flushed") : std::string("Hot"); });

}  // namespace
}  // namespace trainbench
