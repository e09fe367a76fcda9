// The table `trainbench run` prints, from a synthetic results file.
#include <gtest/gtest.h>

#include <cstdio>
#include <sstream>
#include <string>

#include <fmt/format.h>

#include "bench/report.hpp"
#include "tests/printed.hpp"
#include "tests/synthetic_results.hpp"

namespace trainbench {
namespace {

std::string render(const Results& r) {
  return testing::printed([&](std::FILE* f) { print_table(r, f); });
}

TEST(RunTable, OneAlignedRowPerBenchmarkWithRatioToTheVendor) {
  auto suite = testing::synthetic_suite();
  suite[3].failed = true;  // gemm.mma at 8192^3: no number
  const std::string out = render(testing::synthetic_results("NVIDIA H100 80GB HBM3", suite, 1));
  std::istringstream lines(out);
  std::string header, line;
  std::getline(lines, header);
  EXPECT_EQ(header.rfind("op", 0), 0u) << header;
  const auto status_col = header.find("status");
  ASSERT_NE(status_col, std::string::npos);
  int rows = 0;
  while (std::getline(lines, line)) {
    ++rows;
    EXPECT_GE(line.size(), status_col) << line;  // every row reaches the status column
  }
  EXPECT_EQ(rows, static_cast<int>(suite.size()));
  EXPECT_NE(out.find("verification failed"), std::string::npos) << out;
  EXPECT_NE(out.find("GB/s"), std::string::npos) << out;
  EXPECT_NE(out.find("TFLOP/s"), std::string::npos) << out;
  EXPECT_NE(out.find("1.000x"), std::string::npos) << out;  // the vendor impl against itself
}

// NVML's clock-event reasons recorded around a benchmark: a power cap or a thermal slowdown is named in its
// status; idle and application-clock settings are not slowdowns and are not.
TEST(RunTable, StatusNamesTheNvmlSlowdownReasons) {
  auto r = testing::synthetic_results("NVIDIA H100 80GB HBM3", testing::synthetic_suite(), 1);
  ASSERT_GE(r.benchmarks.size(), 3u);
  r.benchmarks[0].conditions_after.throttle_reasons = 0x4;         // sw_power_cap
  r.benchmarks[1].conditions_before.throttle_reasons = 0x1 | 0x2;  // idle, applications clocks
  r.benchmarks[2].conditions_before.throttle_reasons = 0x20;       // sw_thermal_slowdown ...
  r.benchmarks[2].conditions_after.throttle_reasons = 0x4;         // ... then the power cap
  EXPECT_EQ(slowdown_reasons_seen(r.benchmarks[0]), 0x4u);
  EXPECT_EQ(slowdown_reasons_seen(r.benchmarks[1]), 0u);
  EXPECT_EQ(slowdown_reasons_seen(r.benchmarks[2]), 0x24u);
  const std::string out = render(r);
  const auto first = out.find("NVML sw_power_cap");
  ASSERT_NE(first, std::string::npos) << out;
  EXPECT_NE(out.find("NVML sw_power_cap", first + 1), std::string::npos) << out;
  EXPECT_NE(out.find("NVML sw_power_cap,sw_thermal_slowdown"), std::string::npos) << out;
  EXPECT_EQ(out.find("idle"), std::string::npos) << out;
}

// The roofs the GPU was seen to reach: the fastest verified copy and GEMM. With cuBLAS's 8192^3 failing
// verification, the BF16 roof is cuBLAS at 4096^3 (0.20 ms, 687 TFLOP/s), faster than gemm.mma at 8192^3;
// attention sets no roof but is read against the BF16 one.
TEST(RunTable, MeasuredRoofsAreTheFastestVerifiedCopyAndGemm) {
  auto suite = testing::synthetic_suite();
  suite[2].failed = true;  // gemm.cublas at 8192^3
  const auto r = testing::synthetic_results("NVIDIA H100 80GB HBM3", suite, 1);
  const MeasuredRoofs roofs = measured_roofs({&r});
  ASSERT_EQ(roofs.size(), 2u) << "hbm and bf16";
  EXPECT_EQ(roofs.at("hbm").impl, "memory.copy");
  const MeasuredRoof& bf16 = roofs.at("bf16");
  EXPECT_EQ(bf16.impl, "gemm.cublas");
  EXPECT_EQ(bf16.shape.rfind("m:4096/", 0), 0u) << bf16.shape;
  EXPECT_NEAR(bf16.value, 2.0 * 4096 * 4096 * 4096 / 0.20e-3 / 1e12, 0.05 * bf16.value);
  ASSERT_TRUE(bf16.spec.has_value());
  const BenchmarkResult& attention = r.benchmarks.back();
  ASSERT_EQ(attention.op, "attention");
  const std::string out = testing::printed([&](std::FILE* f) {
    print_table(r, f, roofs);
    print_measured_roofs(roofs, f);
  });
  const std::string want = fmt::format("{:.1f}", 100 * attention.tflops / bf16.value);
  const auto row = out.find("attention.cudnn");
  ASSERT_NE(row, std::string::npos) << out;
  EXPECT_NE(out.substr(row, out.find('\n', row) - row).find(" " + want + " "), std::string::npos) << want << "\n" << out;
  EXPECT_NE(out.find(" 100.0 "), std::string::npos) << out;  // the roof's own row
  EXPECT_NE(out.find(fmt::format("bf16 {:.1f} TFLOP/s (gemm.cublas at m:4096/", bf16.value)), std::string::npos) << out;
  EXPECT_NE(out.find(fmt::format("% of the spec's {:g})", *bf16.spec)), std::string::npos) << out;
  // Nothing measured, nothing printed.
  EXPECT_TRUE(testing::printed([&](std::FILE* f) { print_measured_roofs({}, f); }).empty());
}

// The synthetic H100 file: gemm.mma at 2.30 ms and gemm.cublas at 1.45 ms on 8192^3 (medians scatter
// a little), the only shape with both; memory.copy against cudaMemcpy on 1 GiB.
TEST(RunTable, GeometricMeanOfOursOverTheVendor) {
  const auto r = testing::synthetic_results("NVIDIA H100 80GB HBM3", testing::synthetic_suite(), 1);
  const std::string out = testing::printed([&](std::FILE* f) { print_vendor_geomeans(r, f); });
  const auto at = out.find("gemm.mma / gemm.cublas: ");
  ASSERT_NE(at, std::string::npos) << out;
  const double ratio = std::stod(out.substr(at + 24));
  EXPECT_NEAR(ratio, 1.45 / 2.30, 0.02) << out;
  EXPECT_NE(out.find("over 1 shape "), std::string::npos) << out;
  EXPECT_NE(out.find("memory.copy / memory.cudaMemcpy"), std::string::npos) << out;
  EXPECT_EQ(out.find("gemm.cublas / "), std::string::npos) << out;  // a vendor is not compared with itself
}

}  // namespace
}  // namespace trainbench
