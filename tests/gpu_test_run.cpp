// `trainbench run` end to end on the GPU, as a user (or scripts/gpu-session.sh) runs it: it writes
// its file, --verify-only gives a verdict per benchmark, and a benchmark that overruns
// --hang-timeout ends the run with exit code 3 and a partial file that names it, and --resume goes
// on past it, keeping what was done. A hang timeout shorter than any benchmark (1 ms)
// stands for a kernel that hangs: the path from the watchdog to the files is the same.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "harness/results.hpp"
#include "tests/gpu_skip.hpp"
#include "tests/run_command.hpp"

namespace trainbench {
namespace {

using testing::contains;
using testing::Outcome;
using testing::run_trainbench;

class RunCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("trainbench-gpu-run-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  std::filesystem::path dir_;
};

// Two benchmarks: the memory suite's copy kernel and cudaMemcpy at 256 MiB.
const std::string kTwoBenchmarks = "run --suite memory --filter 'bytes:268435456$' --budget 0.2 --min-samples 3";

// A run writes its results file and, once it has, no partial file is left beside it (the partial
// file is what a killed run leaves: the benchmarks done so far).
TEST_F(RunCommand, WritesTheResultsAndRemovesThePartialFile) {
  TB_REQUIRE_GPU();
  const std::string out = path("memory.json");
  const Outcome o = run_trainbench("run --suite memory --filter cudaMemcpy --budget 0.2 --out " + out);
  EXPECT_EQ(o.code, 0) << o.output;
  EXPECT_TRUE(std::filesystem::exists(out)) << o.output;
  EXPECT_FALSE(std::filesystem::exists(partial_results_path(out))) << o.output;
}

// Every benchmark of the memory suite verifies, a line each, and nothing is written.
TEST_F(RunCommand, VerifyOnlyPrintsAVerdictPerBenchmark) {
  TB_REQUIRE_GPU();
  const Outcome o = run_trainbench("run --suite memory --filter cudaMemcpy --verify-only");
  EXPECT_EQ(o.code, 0) << o.output;
  EXPECT_TRUE(contains(o.output, "memory.cudaMemcpy")) << o.output;
  EXPECT_TRUE(contains(o.output, " ok ")) << o.output;
  EXPECT_FALSE(contains(o.output, "FAILED")) << o.output;
}

TEST_F(RunCommand, AHangEndsTheRunAndResumeGoesOnPastIt) {
  TB_REQUIRE_GPU();
  const std::string out = path("memory.json"), partial = partial_results_path(out);

  const Outcome hung = run_trainbench(kTwoBenchmarks + " --hang-timeout 0.001 --out " + out);
  ASSERT_EQ(hung.code, 3) << hung.output;
  EXPECT_TRUE(contains(hung.output, "made no progress for 0.001 s")) << hung.output;
  EXPECT_TRUE(contains(hung.output, "--resume " + partial)) << hung.output;  // what to type next
  EXPECT_FALSE(std::filesystem::exists(out));
  ASSERT_TRUE(std::filesystem::exists(partial)) << hung.output;
  const Results saved = read_results_file(partial);
  ASSERT_EQ(saved.benchmarks.size(), 1u);  // the first benchmark, recorded as hung; nothing else ran
  const BenchmarkResult& first = saved.benchmarks[0];
  EXPECT_TRUE(first.error_occurred);
  EXPECT_FALSE(first.timed);
  EXPECT_TRUE(contains(first.verify_detail, "taken to hang")) << first.verify_detail;

  // Without --resume or --force the partial file is not replaced, and the message says how to go on.
  const Outcome refused = run_trainbench(kTwoBenchmarks + " --out " + out);
  EXPECT_EQ(refused.code, 2) << refused.output;
  EXPECT_TRUE(contains(refused.output, "--resume " + partial)) << refused.output;

  const Outcome resumed = run_trainbench(kTwoBenchmarks + " --resume " + partial + " --out " + out);
  EXPECT_EQ(resumed.code, 1) << resumed.output;  // the hung benchmark counts as a failed check
  ASSERT_TRUE(std::filesystem::exists(out)) << resumed.output;
  EXPECT_FALSE(std::filesystem::exists(partial)) << resumed.output;
  const Results whole = read_results_file(out);
  ASSERT_EQ(whole.benchmarks.size(), 2u);
  for (const auto& b : whole.benchmarks) {
    if (b.name == first.name) {  // kept from the partial file, not run again
      EXPECT_TRUE(b.error_occurred);
      EXPECT_EQ(b.verify_detail, first.verify_detail);
    } else {
      EXPECT_FALSE(b.error_occurred) << b.name << ": " << b.error_message;
      EXPECT_TRUE(b.verified && b.timed) << b.name;
      EXPECT_GT(b.gbps, 0) << b.name;
    }
  }
  EXPECT_NE(whole.benchmarks[0].family_index, whole.benchmarks[1].family_index);

  // Going on with other measurement settings would mix them in one file: refused, nothing written.
  const std::string other = path("other.json");
  const Outcome mixed = run_trainbench("run --suite memory --filter 'bytes:268435456$' --budget 0.3 --min-samples 3 "
                                       "--resume " + out + " --out " + other);
  EXPECT_EQ(mixed.code, 2) << mixed.output;
  EXPECT_TRUE(contains(mixed.output, "--budget")) << mixed.output;
  EXPECT_FALSE(std::filesystem::exists(other));
}

// The hang timeout counts from a benchmark's last step (verification, warm-up, a sample), not
// from its start: a benchmark that samples for 5 s is not taken to hang at 2 s.
TEST_F(RunCommand, ABenchmarkThatKeepsSamplingIsNotTakenToHang) {
  TB_REQUIRE_GPU();
  const std::string out = path("slow.json");
  const Outcome o = run_trainbench("run --suite memory --filter 'cudaMemcpy/bytes:268435456$' --budget 5 --noise 1e-9 "
                                   "--hang-timeout 2 --out " + out);
  EXPECT_EQ(o.code, 0) << o.output;
  ASSERT_TRUE(std::filesystem::exists(out)) << o.output;
  const Results r = read_results_file(out);
  ASSERT_EQ(r.benchmarks.size(), 1u);
  EXPECT_TRUE(r.benchmarks[0].timed);
  EXPECT_EQ(r.benchmarks[0].stop_reason, "budget") << "the run should have sampled past the hang timeout";
}

TEST_F(RunCommand, AHangInVerifyOnlyIsNamedAndEndsTheRun) {
  TB_REQUIRE_GPU();
  const Outcome o =
      run_trainbench("run --suite memory --filter 'bytes:268435456$' --verify-only --hang-timeout 0.001");
  EXPECT_EQ(o.code, 3) << o.output;
  EXPECT_TRUE(contains(o.output, "HUNG")) << o.output;
  EXPECT_TRUE(contains(o.output, "did not finish within 0.001 s")) << o.output;
}

}  // namespace
}  // namespace trainbench
