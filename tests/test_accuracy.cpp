// Accuracy as a result, without a GPU: when an accuracy benchmark's verification passes, the
// fp8-accuracy suite's contents, the growth exponent and the accuracy table on hand-computed
// cases, the inputs' kind in the op, and the results file's accuracy keys.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include "bench/impls.hpp"
#include "bench/report.hpp"
#include "bench/suites.hpp"
#include "harness/error.hpp"
#include "harness/measure.hpp"
#include "kernels/quant/scaled_gemm.cuh"
#include "tests/printed.hpp"
#include "tests/synthetic_results.hpp"

namespace trainbench {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

Verification verification(double error, double tolerance, std::optional<double> norm_error) {
  Verification v;
  v.error = error;
  v.tolerance = tolerance;
  v.norm_error = norm_error;
  return v;
}

TEST(AccuracyVerification, OrdinaryRunsKeepTheImplsTolerance) {
  EXPECT_TRUE(verification_passes(verification(0x1p-8, 0x1p-7, 0.001), false));
  EXPECT_TRUE(verification_passes(verification(0x1p-7, 0x1p-7, std::nullopt), false));
  EXPECT_FALSE(verification_passes(verification(0x1p-6, 0x1p-7, 0.001), false));
  EXPECT_FALSE(verification_passes(verification(kInf, 0x1p-7, kInf), false));
  EXPECT_FALSE(verification_passes(verification(std::nan(""), 1.0, 0.0), false));
}

TEST(AccuracyVerification, LargeErrorPassesButAnOutputNoCloserThanZerosFails) {
  // The no-promotion kernel at long k: far above its own tolerance, still a result.
  EXPECT_TRUE(verification_passes(verification(0.3, 0x1p-4, 0.6), true));
  EXPECT_TRUE(verification_passes(verification(0x1p-9, 0x1p-7, 0x1p-10), true));
  // Outputs of all zeros: ||0 - ref|| / ||ref|| = 1 exactly.
  EXPECT_FALSE(verification_passes(verification(0.8, 0x1p-7, 1.0), true));
  // A wrong sign: ||-ref - ref|| / ||ref|| = 2.
  EXPECT_FALSE(verification_passes(verification(2.0, 0x1p-7, 2.0), true));
  // The NaN poison left in place (compare_with_reference makes both errors infinite).
  EXPECT_FALSE(verification_passes(verification(kInf, 0x1p-7, kInf), true));
  // An impl that does not measure the normwise error cannot be judged.
  EXPECT_FALSE(verification_passes(verification(0x1p-9, 0x1p-7, std::nullopt), true));
}

TEST(AccuracySuite, EveryScaledGemmImplFromK1024To65536BothInputsSameOperandsWithAndWithoutPromotion) {
  register_all_impls();
  const Suite& suite = find_suite("fp8-accuracy");
  std::set<std::string> scaled_gemm_impls, listed;
  // fp8gemm.wgmma_multicast and fp8gemm.wgmma_overlap do fp8gemm.wgmma's arithmetic (the same
  // products summed in the same order, promoted at the same points); only the path of a's bytes into
  // shared memory, or when the wgmmas are issued, differs, so their accuracy lines would repeat
  // fp8gemm.wgmma's (a GPU test holds the overlapped schedule to it bit for bit).
  // fp8gemm.wgmma_splitk and int8gemm.mma_splitk split k only where the tiles fill at most half
  // the SMs; the suite's 1024 x 2048 has 128 tiles, where they are fp8gemm.wgmma_overlap and
  // int8gemm.mma. int8gemm.wgmma (and its split) computes int8gemm.mma's exact s32 sums and scales
  // them with the same expression: the same bits (a GPU test holds them to it).
  EXPECT_EQ(kernels::scaled_gemm_k_splits(8 * 16, kernels::scale_blocks(65536), 132), 1);
  const std::set<std::string> same_bits_as_listed = {"fp8gemm.wgmma_multicast", "fp8gemm.wgmma_overlap",
                                                     "fp8gemm.wgmma_splitk", "int8gemm.mma_splitk",
                                                     "int8gemm.wgmma", "int8gemm.wgmma_splitk"};
  for (const auto& impl : registry().all())
    if (impl.family == ScaledGemm::family && !same_bits_as_listed.contains(impl.name))
      scaled_gemm_impls.insert(impl.name);
  // (inputs, k) -> impl -> scales it runs with
  std::map<std::pair<std::string, std::uint64_t>, std::map<std::string, std::set<std::string>>> seen;
  for (const auto& entry : suite.entries) {
    EXPECT_TRUE(entry.accuracy) << op_label(entry.op);
    const auto& g = std::get<ScaledGemm>(entry.op);
    EXPECT_EQ(g.m, 1024u);
    EXPECT_EQ(g.n, 2048u);
    for (const auto& impl : entry.impls) {
      seen[{g.inputs, g.k}][impl].insert(g.dtype + ":" + g.a_scale + "/" + g.b_scale);
      listed.insert(impl);
    }
  }
  EXPECT_EQ(listed, scaled_gemm_impls) << "every FP8 and INT8 GEMM impl has an accuracy line";
  std::set<std::uint64_t> ks;
  for (const auto& [key, impls] : seen) {
    ks.insert(key.second);
    // Promotion on and off on identical operands: the same op for both wgmma variants.
    EXPECT_EQ(impls.at("fp8gemm.wgmma"), (std::set<std::string>{"e4m3:1x128/128x128", "e4m3:tensor/tensor"}));
    EXPECT_EQ(impls.at("fp8gemm.wgmma_nopromote"), std::set<std::string>{"e4m3:tensor/tensor"});
    EXPECT_EQ(impls.at("fp8gemm.cublaslt"), std::set<std::string>{"e4m3:tensor/tensor"});
    EXPECT_EQ(impls.at("fp8gemm.cublaslt_blockscaled"), std::set<std::string>{"e4m3:1x128/128x128"});
    EXPECT_EQ(impls.at("int8gemm.mma"), std::set<std::string>{"s8:row/col"});
    EXPECT_EQ(impls.at("int8gemm.cublaslt"), std::set<std::string>{"s8:row/col"});
  }
  EXPECT_EQ(ks, (std::set<std::uint64_t>{1024, 2048, 4096, 8192, 16384, 32768, 65536}));
  EXPECT_EQ(seen.size(), 2 * ks.size()) << "signed and non-negative inputs at every k";
}

TEST(AccuracySuite, OnlyAccuracySuitesMarkTheirEntries) {
  for (const auto& suite : suites()) {
    if (suite.name == "fp8-accuracy" || suite.name == "full") continue;
    for (const auto& entry : suite.entries) EXPECT_FALSE(entry.accuracy) << suite.name << " " << op_label(entry.op);
  }
}

TEST(ErrorGrowth, LogLogSlopeOnHandComputedPoints) {
  EXPECT_NEAR(*log_log_slope({{1024, 3e-3}, {2048, 6e-3}, {4096, 12e-3}}), 1.0, 1e-12);
  EXPECT_NEAR(*log_log_slope({{1024, 1.0}, {4096, 2.0}, {16384, 4.0}}), 0.5, 1e-12);
  EXPECT_NEAR(*log_log_slope({{1024, 2e-3}, {65536, 2e-3}}), 0.0, 1e-12);
  // Least squares: log2 y = 0, 2, 1 at log2 x = 0, 1, 2 gives slope 1/2.
  EXPECT_NEAR(*log_log_slope({{1, 1}, {2, 4}, {4, 2}}), 0.5, 1e-12);
  // Non-positive and non-finite errors are left out.
  EXPECT_NEAR(*log_log_slope({{1, 1}, {2, 0}, {4, kInf}, {8, 8}}), 1.0, 1e-12);
  EXPECT_FALSE(log_log_slope({{1024, 1e-3}}).has_value());
  EXPECT_FALSE(log_log_slope({{1024, 1e-3}, {1024, 2e-3}}).has_value());
  EXPECT_FALSE(log_log_slope({}).has_value());
}

std::string accuracy_table(const Results& r) {
  return testing::printed([&](std::FILE* f) { print_accuracy_table(r, f); });
}

TEST(AccuracyTable, OneRowPerImplAndShapeOneColumnPerKWithTheGrowth) {
  auto suite = testing::synthetic_accuracy_suite();
  // The synthetic errors: 2^-11 (k / 1024)^(1/2) with promotion, 2^-9 (k / 1024) without.
  const std::string out = accuracy_table(testing::synthetic_results("NVIDIA H100 80GB HBM3", suite, 1));
  std::istringstream lines(out);
  std::string line, header;
  std::getline(lines, line);
  EXPECT_TRUE(line.empty()) << "a blank line before the table";
  std::getline(lines, line);
  EXPECT_NE(line.find("FP64 sums of the dequantized operands"), std::string::npos) << line;
  std::getline(lines, header);
  EXPECT_EQ(header.rfind("impl", 0), 0u) << header;
  for (const char* k : {"k=1024", "k=2048", "k=4096", "k=8192", "k=16384", "k=32768", "k=65536", "growth"})
    EXPECT_NE(header.find(k), std::string::npos) << k;
  int rows = 0, nopromote = 0;
  while (std::getline(lines, line)) {
    ++rows;
    if (line.rfind("fp8gemm.wgmma_nopromote", 0) == 0) {
      ++nopromote;
      // k = 1024: 2^-9 = 1.953e-3, normwise half that; k = 65536: 2^-3, above its tolerance 2^-4.
      EXPECT_NE(line.find("2.0e-03 (9.8e-04)"), std::string::npos) << line;
      EXPECT_NE(line.find("1.2e-01 (6.2e-02)*"), std::string::npos) << line;
      EXPECT_EQ(line.substr(line.size() - 4), "1.00") << line;
    } else {
      EXPECT_EQ(line.substr(line.size() - 4), "0.50") << line;
      EXPECT_EQ(line.find('*'), std::string::npos) << "promoted errors stay within 2^-7 here: " << line;
    }
  }
  // wgmma twice (two scale layouts), nopromote, two cuBLASLt FP8, two INT8; for both inputs.
  EXPECT_EQ(rows, 2 * 7);
  EXPECT_EQ(nopromote, 2);
}

TEST(AccuracyTable, AFailedBenchmarkShowsItsErrorAndIsLeftOutOfTheGrowth) {
  auto suite = testing::synthetic_accuracy_suite();
  int failed = 0;
  for (auto& b : suite)
    if (b.impl == "int8gemm.mma" && std::get<ScaledGemm>(b.op).k == 4096) {
      b.failed = true;
      ++failed;
    }
  ASSERT_EQ(failed, 2);
  const std::string out = accuracy_table(testing::synthetic_results("NVIDIA H100 80GB HBM3", suite, 1));
  std::istringstream lines(out);
  std::string line;
  int rows = 0;
  while (std::getline(lines, line))
    if (line.rfind("int8gemm.mma", 0) == 0) {
      ++rows;
      // The synthetic failure's error, then the normwise one (2^-11 at k = 4096).
      EXPECT_NE(line.find("1.0e+00 (4.9e-04) FAILED"), std::string::npos) << line;
      EXPECT_EQ(line.substr(line.size() - 4), "0.50") << "the growth of the other six points: " << line;
    }
  EXPECT_EQ(rows, 2);
}

TEST(AccuracyTable, NothingWithoutAccuracyBenchmarks) {
  EXPECT_EQ(accuracy_table(testing::synthetic_results("NVIDIA H100 80GB HBM3", testing::synthetic_suite(), 1)), "");
}

TEST(ScaledGemmInputs, PartOfTheShapeSignedByDefaultAndChecked) {
  const ScaledGemm g{.m = 64, .n = 64, .k = 1024, .dtype = "e4m3", .a_scale = "tensor", .b_scale = "tensor",
                     .inputs = "nonnegative"};
  EXPECT_EQ(g.shape().at("inputs"), "nonnegative");
  EXPECT_EQ(std::get<ScaledGemm>(op_from_json("scaled_gemm", g.shape())).inputs, "nonnegative");
  auto shape = nlohmann::json(g.shape());
  shape.erase("inputs");
  EXPECT_EQ(std::get<ScaledGemm>(op_from_json("scaled_gemm", shape)).inputs, "signed");
  shape["inputs"] = "positive";
  EXPECT_THROW(op_from_json("scaled_gemm", shape), Error);
}

TEST(AccuracyResults, KeysRoundTripAndANonFiniteErrorReadsBackInfinite) {
  auto suite = testing::synthetic_accuracy_suite();
  suite.resize(2);
  Results r = testing::synthetic_results("NVIDIA H100 80GB HBM3", suite, 1);
  r.benchmarks[1].verify_error = kInf;  // an output left NaN
  r.benchmarks[1].verify_norm_error = std::nullopt;
  const auto doc = nlohmann::json::parse(results_to_json(r).dump());
  EXPECT_TRUE(doc.at("benchmarks").at(0).at("accuracy").get<bool>());
  EXPECT_TRUE(doc.at("benchmarks").at(0).at("verify_norm_error").is_number());
  EXPECT_TRUE(doc.at("benchmarks").at(1).at("verify_error").is_null());
  const Results back = results_from_json(doc, "synthetic");
  EXPECT_TRUE(back.benchmarks[0].accuracy);
  EXPECT_EQ(back.benchmarks[0].verify_norm_error, r.benchmarks[0].verify_norm_error);
  EXPECT_EQ(back.benchmarks[0].verify_error, r.benchmarks[0].verify_error);
  EXPECT_EQ(back.benchmarks[1].verify_error, kInf);
  EXPECT_FALSE(back.benchmarks[1].verify_norm_error.has_value());
  // A file written before accuracy benchmarks existed reads as ordinary results.
  auto old = doc;
  old["benchmarks"][0].erase("accuracy");
  old["benchmarks"][0].erase("verify_norm_error");
  const Results older = results_from_json(old, "older");
  EXPECT_FALSE(older.benchmarks[0].accuracy);
  EXPECT_FALSE(older.benchmarks[0].verify_norm_error.has_value());
}

}  // namespace
}  // namespace trainbench
