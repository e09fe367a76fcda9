// The command line as a user meets it: exit codes (0 ok, 1 check failed, 2 usage or environment)
// and messages, on this machine. The no-GPU messages are checked where there is no GPU; `run` on
// a GPU (results, --verify-only, a hang and --resume) in tests/gpu_test_run.cpp, a GPU test.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "harness/device.hpp"
#include "harness/results.hpp"
#include "tests/run_command.hpp"

namespace {

using trainbench::testing::contains;
using trainbench::testing::Outcome;
using trainbench::partial_results_path;
Outcome run(const std::string& args) { return trainbench::testing::run_trainbench(args); }

bool gpu_present() { return trainbench::gpu_unavailable_reason().empty(); }

TEST(Cli, VersionAndHelpExitZero) {
  const Outcome v = run("--version");
  EXPECT_EQ(v.code, 0) << v.output;
  EXPECT_TRUE(contains(v.output, "trainbench 0.")) << v.output;
  const Outcome h = run("--help");
  EXPECT_EQ(h.code, 0) << h.output;
  EXPECT_TRUE(contains(h.output, "Exit codes")) << h.output;
  for (const char* sub : {"device", "list", "run", "show", "compare", "check", "project"}) EXPECT_TRUE(contains(h.output, sub)) << sub;
}

TEST(Cli, UsageErrorsExitTwo) {
  EXPECT_EQ(run("").code, 2);
  EXPECT_EQ(run("frobnicate").code, 2);
  EXPECT_EQ(run("--log-level loud list").code, 2);
  EXPECT_EQ(run("run --noise -1").code, 2);
}

TEST(Cli, ListWorksWithoutAGpu) {
  const Outcome o = run("list");
  EXPECT_EQ(o.code, 0) << o.output;
  for (const char* item :
       {"memory", "quick", "memory.copy", "memory.cudaMemcpy", "attention.cudnn", "h100-sxm", "h200-sxm", "mi300x"})
    EXPECT_TRUE(contains(o.output, item)) << item << "\n" << o.output;
  // An impl that needs more shared memory than some GPUs of its arch give says so.
  EXPECT_TRUE(contains(o.output, "needs 144 KiB of shared memory per block")) << o.output;
}

// `run --list` prints what a run would measure without touching a GPU: a line per benchmark and the count
// `trainbench list` gives the suite (a model suite expanded with its layout flags).
TEST(Cli, RunListPrintsTheBenchmarksWithoutAGpu) {
  Outcome o = run("run --suite quick --list");
  EXPECT_EQ(o.code, 0) << o.output;
  EXPECT_TRUE(contains(o.output, "gemm/gemm.cublas/m:4096/n:4096/k:4096/layout:tn")) << o.output;
  EXPECT_TRUE(contains(o.output, "11 benchmark(s) of suite quick")) << o.output;
  EXPECT_TRUE(contains(run("list").output, "quick      11 benchmark(s)"));
  o = run("run --suite model:llama-3-70b --tp 4 --list --filter gemm.cublas/");
  EXPECT_EQ(o.code, 0) << o.output;
  EXPECT_TRUE(contains(o.output, "/n:14336/")) << o.output;  // FFN 28672 over TP 4 (gate and up: 2 x 7168)
  EXPECT_EQ(run("run --suite quick --list --out x.json").code, 2);
  EXPECT_EQ(run("run --suite quick --list --verify-only").code, 2);
  o = run("run --suite quick --list --filter nonesuch");
  EXPECT_EQ(o.code, 2) << o.output;
  EXPECT_TRUE(contains(o.output, "no benchmark of suite \"quick\"")) << o.output;
}

TEST(Cli, UnknownSuiteNamesTheKnownOnes) {
  const Outcome o = run("run --suite nonesuch");
  EXPECT_EQ(o.code, 2) << o.output;
  EXPECT_TRUE(contains(o.output, "nonesuch")) << o.output;
  EXPECT_TRUE(contains(o.output, "quick")) << o.output;
}

TEST(Cli, BadFilterIsAUsageError) {
  const Outcome o = run("run --filter '('");
  EXPECT_EQ(o.code, 2) << o.output;
  EXPECT_TRUE(contains(o.output, "--filter")) << o.output;
}

TEST(Cli, RunRefusesToOverwriteWithoutForce) {
  const auto path = std::filesystem::temp_directory_path() / "trainbench-cli-existing.json";
  { std::ofstream(path) << "keep me"; }
  const Outcome o = run("run --suite memory --out " + path.string());
  EXPECT_EQ(o.code, 2) << o.output;
  EXPECT_TRUE(contains(o.output, "--force")) << o.output;
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  EXPECT_EQ(s.str(), "keep me");
  std::filesystem::remove(path);
}

// Where the results could not be written at the end, `run` refuses before it measures anything
// (so on any machine, GPU or not): a directory that does not exist, a directory as --out, and a
// partial file a killed run left (which this run would replace), kept as it was.
TEST(Cli, RunRefusesAnOutputItCouldNotWriteOrThatWouldReplaceAKilledRunsRecord) {
  const auto dir = std::filesystem::temp_directory_path() / "trainbench-cli-out-checks";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  Outcome o = run("run --suite memory --out " + (dir / "missing" / "x.json").string());
  EXPECT_EQ(o.code, 2) << o.output;
  EXPECT_TRUE(contains(o.output, "does not exist")) << o.output;
  o = run("run --suite memory --out " + dir.string());
  EXPECT_EQ(o.code, 2) << o.output;
  EXPECT_TRUE(contains(o.output, "is a directory")) << o.output;
  const auto out = dir / "r.json";
  const std::string partial = partial_results_path(out.string());
  { std::ofstream(partial) << "killed run"; }
  o = run("run --suite memory --out " + out.string());
  EXPECT_EQ(o.code, 2) << o.output;
  EXPECT_TRUE(contains(o.output, "killed run")) << o.output;
  EXPECT_TRUE(contains(o.output, "--force")) << o.output;
  std::ifstream in(partial);
  std::stringstream kept;
  kept << in.rdbuf();
  EXPECT_EQ(kept.str(), "killed run");
  EXPECT_FALSE(std::filesystem::exists(out));
  std::filesystem::remove_all(dir);
}

// Values no projection can use are refused with what would work (exit 2), never projected into
// numbers no run could give: infinite or absurd counts, assumptions outside their range (while
// the documented 0 of an overlap stays accepted), a TP that does not divide the heads, and
// option values that are not positive.
TEST(Cli, ProjectRefusesValuesNoRunCouldHave) {
  const std::string base = "project --model llama-3-70b --chips 1024 ";
  struct Bad {
    std::string args, says;
  };
  const Bad bad[] = {
      {"--tokens inf", "finite"},
      {"--global-batch-tokens 1e30", "1 to 1e15"},
      {"--global-batch-tokens nan", "positive, finite"},
      {"--assume goodput=2", "(0, 1]"},
      {"--assume gemm_efficiency=5", "(0, 1]"},
      {"--assume tp_overlap=1.5", "[0, 1]"},
      {"--assume gemm_shape_model=0.5", "0 (best-shape"},
      {"--assume scale_up_domain=3.5", "whole number"},
      {"--tp 3", "must divide its 64 attention heads"},
  };
  for (const Bad& b : bad) {
    const Outcome o = run(base + b.args);
    EXPECT_EQ(o.code, 2) << b.args << ": " << o.output;
    EXPECT_TRUE(contains(o.output, b.says)) << b.args << ": " << o.output;
  }
  for (const std::string ok : {"--assume ep_overlap=0", "--assume gemm_shape_model=0", "--assume goodput=1"}) {
    const Outcome o = run(base + ok);
    EXPECT_EQ(o.code, 0) << ok << ": " << o.output;
  }
  for (const std::string conflict : {"project --validate --model llama-3-70b",
                                     "project --model llama-3-70b --chips 1024 --pp 1 --vpp 4"}) {
    const Outcome o = run(conflict);
    EXPECT_EQ(o.code, 2) << conflict << ": " << o.output;
  }
  const Outcome zero = run("project --model llama-3-70b --chips 0");
  EXPECT_EQ(zero.code, 2) << zero.output;
  EXPECT_TRUE(contains(zero.output, "must be a positive, finite number, not 0")) << zero.output;
}

// Words and options that would do nothing are refused, saying what exists: an unknown command,
// a model layout option with a suite that is not a model's, a sequence length of 0.
TEST(Cli, UnknownCommandsAndIdleOptionsAreUsageErrors) {
  Outcome o = run("report");
  EXPECT_EQ(o.code, 2) << o.output;
  EXPECT_TRUE(contains(o.output, "no command \"report\"")) << o.output;
  EXPECT_TRUE(contains(o.output, "project")) << o.output;
  o = run("run --suite quick --tp 8");
  EXPECT_EQ(o.code, 2) << o.output;
  EXPECT_TRUE(contains(o.output, "--tp applies to --suite model:NAME only")) << o.output;
  o = run("run --suite model:llama-3-70b --seq 0");
  EXPECT_EQ(o.code, 2) << o.output;
  EXPECT_TRUE(contains(o.output, "--seq")) << o.output;
}

// --resume reads its file before any GPU work: a missing or malformed one is named, exit 2, on any
// machine; so is a negative --hang-timeout and --resume with --list or --verify-only.
TEST(Cli, ResumeAndHangTimeoutMistakesExitTwoBeforeAnyGpuWork) {
  const auto bad = std::filesystem::temp_directory_path() / "trainbench-cli-resume-bad.partial.json";
  std::ofstream(bad) << "{\"context\": {";
  const Outcome malformed = run("run --suite memory --resume " + bad.string());
  EXPECT_EQ(malformed.code, 2) << malformed.output;
  EXPECT_TRUE(contains(malformed.output, bad.string())) << malformed.output;
  EXPECT_FALSE(contains(malformed.output, "no usable NVIDIA GPU")) << malformed.output;
  const Outcome missing = run("run --suite memory --resume /nonexistent/trainbench.partial.json");
  EXPECT_EQ(missing.code, 2) << missing.output;
  EXPECT_TRUE(contains(missing.output, "/nonexistent/trainbench.partial.json")) << missing.output;
  const Outcome listed = run("run --suite memory --list --resume " + bad.string());
  EXPECT_EQ(listed.code, 2) << listed.output;
  EXPECT_TRUE(contains(listed.output, "--resume")) << listed.output;
  for (const char* timeout : {"-1", "inf", "1e10"}) {
    const Outcome o = run(std::string("run --suite memory --hang-timeout ") + timeout);
    EXPECT_EQ(o.code, 2) << timeout << "\n" << o.output;
    EXPECT_TRUE(contains(o.output, "--hang-timeout must be 0 to 1e+06 seconds")) << timeout << "\n" << o.output;
  }
  std::filesystem::remove(bad);
}

// --verify-only writes no results file: asking for one too is a usage error, before any GPU work.
TEST(Cli, VerifyOnlyWithOutIsAUsageError) {
  const auto path = std::filesystem::temp_directory_path() / "trainbench-cli-verify-only.json";
  std::filesystem::remove(path);
  const Outcome o = run("run --suite memory --verify-only --out " + path.string());
  EXPECT_EQ(o.code, 2) << o.output;
  EXPECT_TRUE(contains(o.output, "--verify-only")) << o.output;
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(Cli, WithoutAGpuDeviceAndRunExitTwoWithOneClearSentence) {
  if (gpu_present()) GTEST_SKIP() << "a GPU is present here; the no-GPU messages are checked on machines without one";
  for (const char* args : {"device", "device --json", "run", "run --suite quick", "run --suite quick --verify-only"}) {
    const Outcome o = run(args);
    EXPECT_EQ(o.code, 2) << args << "\n" << o.output;
    EXPECT_TRUE(contains(o.output, "no usable NVIDIA GPU")) << args << "\n" << o.output;
    EXPECT_TRUE(contains(o.output, "trainbench list")) << args << "\n" << o.output;  // what works instead
  }
}

}  // namespace
