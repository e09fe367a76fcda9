// `trainbench run` hands its benchmarks to Google Benchmark and gets them back through a
// reporter: the names must come back as they went in, or the results file keeps none of them.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "bench/runner.hpp"

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

}  // namespace
}  // namespace trainbench
