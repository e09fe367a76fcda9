// `trainbench run` hands its benchmarks to Google Benchmark and gets them back through a
// reporter: the names must come back as they went in, or the results file keeps none of them.
// And what --resume keeps of an earlier run, and what it refuses to mix with this one.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "bench/runner.hpp"
#include "harness/error.hpp"
#include "synthetic_results.hpp"

namespace trainbench {
namespace {

class NameCollector : public benchmark::BenchmarkReporter {
 public:
  bool ReportContext(const Context&) override { return true; }
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const auto& run : runs) names.push_back(registered_name(run));
  }
  std::vector<std::string> names;
};

TEST(Runner, ReporterSeesEachBenchmarkUnderTheNameItWasRegisteredWith) {
  const std::vector<std::string> registered = {"copy/memory.copy/bytes:1073741824",
                                               "gemm/gemm.cublas/m:4096/n:4096/k:4096/layout:tn/dtype:bf16"};
  for (const auto& name : registered)
    register_manual_benchmark(name, [](benchmark::State& state) {
      for (auto _ : state) state.SetIterationTime(1e-6);
    });
  std::string program = "trainbench_tests";
  char* argv[] = {program.data(), nullptr};
  int argc = 1;
  benchmark::Initialize(&argc, argv);
  NameCollector collector;
  benchmark::RunSpecifiedBenchmarks(&collector);
  benchmark::ClearRegisteredBenchmarks();
  EXPECT_EQ(collector.names, registered);
}

// An earlier run as --resume reads it: 3 benchmarks, made on a synthetic H100 by build "synthetic".
struct Earlier {
  Results results = testing::synthetic_results("NVIDIA H100 80GB HBM3", testing::synthetic_suite(), 7);
  DeviceInfo device = results.context.device;
  MeasurementSettings settings = results.context.measurement;
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& b : results.benchmarks) out.push_back(b.name);
    return out;
  }
};

TEST(Resume, KeepsTheEarlierBenchmarksThisRunPlansAndNoOthers) {
  const Earlier e;
  ASSERT_GE(e.results.benchmarks.size(), 3u);
  std::vector<std::string> planned = e.names();
  const std::string left_out = planned.back();
  planned.pop_back();
  planned.push_back("gemm/gemm.wgmma/m:1/n:1/k:1/layout:tn/dtype:bf16/out_dtype:bf16");  // not in the file
  const auto kept = resumable_benchmarks(e.results, "earlier.partial.json", e.device, "synthetic", e.settings, planned);
  EXPECT_EQ(kept.size(), e.results.benchmarks.size() - 1);
  EXPECT_FALSE(kept.count(left_out));
  for (const auto& b : e.results.benchmarks) {
    if (b.name == left_out) continue;
    ASSERT_TRUE(kept.count(b.name)) << b.name;
    EXPECT_EQ(kept.at(b.name).samples_s, b.samples_s);  // kept as measured, not remeasured
    EXPECT_EQ(kept.at(b.name).median_s, b.median_s);
  }
}

TEST(Resume, RefusesAnotherGpuBuildOrMeasurementSettingNamingBoth) {
  const Earlier e;
  const auto refusal = [&](const DeviceInfo& device, const std::string& commit, const MeasurementSettings& settings) {
    try {
      resumable_benchmarks(e.results, "earlier.partial.json", device, commit, settings, e.names());
    } catch (const Error& err) {
      EXPECT_EQ(err.code(), kExitUsage);
      return std::string(err.what());
    }
    return std::string("accepted");
  };
  DeviceInfo other_gpu = e.device;
  other_gpu.name = "NVIDIA H200";
  EXPECT_NE(refusal(other_gpu, "synthetic", e.settings).find("NVIDIA H200"), std::string::npos);
  DeviceInfo fewer_sms = e.device;
  fewer_sms.sm_count = 114;
  EXPECT_NE(refusal(fewer_sms, "synthetic", e.settings).find("114 SMs"), std::string::npos);
  EXPECT_NE(refusal(e.device, "abc123", e.settings).find("commit is synthetic, this run's is abc123"),
            std::string::npos);
  MeasurementSettings budget = e.settings;
  budget.budget_s = 0.5;
  EXPECT_NE(refusal(e.device, "synthetic", budget).find("--budget"), std::string::npos);
  MeasurementSettings hot = e.settings;
  hot.hot = !hot.hot;
  EXPECT_NE(refusal(e.device, "synthetic", hot).find("L2 setting"), std::string::npos);
  MeasurementSettings noise = e.settings;
  noise.noise_target *= 2;
  EXPECT_NE(refusal(e.device, "synthetic", noise).find("--noise"), std::string::npos);
  MeasurementSettings samples = e.settings;
  samples.min_samples += 1;
  EXPECT_NE(refusal(e.device, "synthetic", samples).find("--min-samples"), std::string::npos);
  MeasurementSettings flush = e.settings;
  flush.l2_flush_bytes += 1;
  EXPECT_NE(refusal(e.device, "synthetic", flush).find("measurement method"), std::string::npos);
  EXPECT_EQ(refusal(e.device, "synthetic", e.settings), "accepted");
}

TEST(Resume, AHungBenchmarkHasNoNumberAndCountsAsAFailedCheck) {
  const Earlier e;
  BenchmarkResult planned = e.results.benchmarks.front();
  const BenchmarkResult hung = hung_benchmark(planned, 30);
  EXPECT_EQ(hung.name, planned.name);
  EXPECT_EQ(hung.impl, planned.impl);
  EXPECT_EQ(hung.shape, planned.shape);
  EXPECT_TRUE(hung.error_occurred);
  EXPECT_FALSE(hung.verified);
  EXPECT_FALSE(hung.timed);
  EXPECT_EQ(hung.real_time_us, 0);
  // run_suite's exit code: an error with a verify_detail is a failed check (1), not "could not run" (2).
  EXPECT_NE(hung.verify_detail.find("made no progress for 30 s"), std::string::npos);
  EXPECT_EQ(hung.error_message, hung.verify_detail);
  // And it survives the results file's round trip, so that a resumed run keeps it.
  const Results back = results_from_json(results_to_json(Results{e.results.context, {hung}}), "test");
  ASSERT_EQ(back.benchmarks.size(), 1u);
  EXPECT_TRUE(back.benchmarks[0].error_occurred);
  EXPECT_EQ(back.benchmarks[0].verify_detail, hung.verify_detail);
}

TEST(Resume, TheResumedPartialFileIsNoReasonToRefuseTheRun) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("trainbench-resume-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string out = (dir / "quick.json").string();
  const std::string partial = partial_results_path(out);
  std::ofstream(partial) << "{}";
  EXPECT_THROW(check_results_path(out, false), Error);  // left by a killed run: not replaced unasked
  EXPECT_NO_THROW(check_results_path(out, false, partial));  // the file this run goes on from
  const std::string other = (dir / "other.json").string();
  std::ofstream(other) << "{}";
  EXPECT_THROW(check_results_path(out, false, other), Error);  // another file: still refused
  fs::remove_all(dir);
}

}  // namespace
}  // namespace trainbench
