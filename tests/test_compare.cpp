// compare and check on synthetic results files: matching, ratios, geomeans, formats, and the
// regression decisions (planted slowdowns, noise, clocks, failures, other devices).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "bench/cmd_compare.hpp"
#include "harness/check.hpp"
#include "harness/compare.hpp"
#include "harness/error.hpp"
#include "tests/run_command.hpp"
#include "tests/synthetic_results.hpp"

namespace trainbench {
namespace {

namespace fs = std::filesystem;
using testing::contains;
using testing::synthetic_results;
using testing::synthetic_suite;
using testing::SyntheticBenchmark;

constexpr const char* kH100 = "NVIDIA H100 80GB HBM3";
constexpr const char* kH200 = "NVIDIA H200";

std::vector<SyntheticBenchmark> with_slowdown(std::vector<SyntheticBenchmark> suite, const std::string& impl,
                                              double factor) {
  for (auto& b : suite)
    if (b.impl == impl) b.median_s *= factor;
  return suite;
}

NamedResults named(const std::string& path, Results r) { return NamedResults{path, std::move(r)}; }

TEST(Compare, RatiosToTheFirstFileAndGeomeanPerFamily) {
  const auto c = compare_results({named("h100.json", synthetic_results(kH100, synthetic_suite(1.0), 1)),
                                  named("h200.json", synthetic_results(kH200, synthetic_suite(0.8), 2))});
  ASSERT_EQ(c.rows.size(), synthetic_suite().size());
  EXPECT_TRUE(c.partial.empty());
  for (const auto& row : c.rows) {
    ASSERT_TRUE(row.ratio[1].has_value()) << row.name;
    EXPECT_NEAR(*row.ratio[1], 1.25, 0.02) << row.name;  // 0.8x the time is 1.25x the throughput
    EXPECT_DOUBLE_EQ(*row.ratio[0], 1.0);
  }
  ASSERT_TRUE(c.geomean.count("gemm"));
  EXPECT_NEAR(*c.geomean.at("gemm").ratio[1], 1.25, 0.02);
  EXPECT_EQ(c.geomean.at("gemm").count[1], 3);
  EXPECT_NE(c.devices[1].find("h200-sxm"), std::string::npos);
}

TEST(Compare, BenchmarksInOnlySomeFilesAreListedApart) {
  auto fewer = synthetic_suite();
  fewer.pop_back();
  auto failed = synthetic_suite();
  failed[2].failed = true;
  const auto c = compare_results({named("a.json", synthetic_results(kH100, synthetic_suite(), 1)),
                                  named("b.json", synthetic_results(kH100, fewer, 2)),
                                  named("c.json", synthetic_results(kH100, failed, 3))});
  ASSERT_EQ(c.partial.size(), 1u);
  EXPECT_EQ(c.partial[0].status[1], "absent");
  EXPECT_EQ(c.rows.size(), synthetic_suite().size() - 1);
  bool saw_failed = false;
  for (const auto& row : c.rows)
    if (!row.throughput[2]) {
      saw_failed = true;
      EXPECT_TRUE(contains(row.status[2], "verification failed"));
    }
  EXPECT_TRUE(saw_failed);
}

TEST(Compare, EveryFormatRenders) {
  const auto c = compare_results({named("h100.json", synthetic_results(kH100, synthetic_suite(1.0), 1)),
                                  named("h200.json", synthetic_results(kH200, synthetic_suite(0.8), 2))});
  const std::string table = render_comparison(c, TableFormat::Table);
  EXPECT_TRUE(contains(table, "gemm/gemm.cublas/m:8192")) << table;
  EXPECT_TRUE(contains(table, "geomean gemm")) << table;
  const std::string md = render_comparison(c, TableFormat::Markdown);
  EXPECT_TRUE(contains(md, "| --- |")) << md;
  const std::string csv = render_comparison(c, TableFormat::Csv);
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), static_cast<long>(1 + c.rows.size() + c.geomean.size()));
  const auto j = nlohmann::json::parse(render_comparison(c, TableFormat::Json));
  EXPECT_EQ(j.at("rows").size(), c.rows.size());
  EXPECT_NEAR(j.at("geomean").at("gemm").at("ratio")[1].get<double>(), 1.25, 0.02);
  EXPECT_THROW(table_format_from_name("xml"), Error);
}

TEST(Check, PlantedTenPercentSlowdownIsARegressionNamingTheBenchmark) {
  const auto base = synthetic_results(kH100, synthetic_suite(), 1);
  const auto cur = synthetic_results(kH100, with_slowdown(synthetic_suite(), "gemm.mma", 1.10), 2);
  const auto report = check_results({named("base.json", base)}, {named("cur.json", cur)}, CheckOptions{});
  EXPECT_TRUE(report.failed());
  EXPECT_EQ(report.count(Verdict::Regression), 1);
  for (const auto& row : report.rows) {
    if (row.verdict != Verdict::Regression) continue;
    EXPECT_TRUE(contains(row.name, "gemm.mma")) << row.name;
    EXPECT_NEAR(row.change, 0.10, 0.02);
    EXPECT_LT(row.p_value, 0.01);
  }
  const std::string md = check_markdown(report);
  EXPECT_TRUE(contains(md, "gemm.mma"));
  // One benchmark of six 10% slower: the overall geometric mean is 1.1^(1/6) - 1 = +1.6%, give or take the
  // scatter of the medians.
  const auto overall = md.find("Overall: ");
  ASSERT_NE(overall, std::string::npos) << md;
  EXPECT_NEAR(std::stod(md.substr(overall + 9)), 1.6, 0.3) << md;
  EXPECT_TRUE(contains(md, "% in time (geometric mean of current / baseline median over 6 benchmarks)")) << md;
  EXPECT_TRUE(contains(md, "6 of these benchmarks have one process")) << md;
}

// One threshold rarely fits all: --threshold REGEX=SLOWDOWN gives the benchmarks it matches their own, the
// first match winning; a pattern that matches nothing is named in the summary.
TEST(Check, ThresholdsPerBenchmarkOverrideTheDefault) {
  const auto base = synthetic_results(kH100, synthetic_suite(), 1);
  const auto cur = synthetic_results(kH100, with_slowdown(synthetic_suite(), "gemm.mma", 1.10), 2);
  CheckOptions o;
  o.thresholds = {{"gemm\\.mma/", 0.15}, {"gemm", 0.01}, {"nonesuch", 0.01}};
  const auto report = check_results({named("b", base)}, {named("c", cur)}, o);
  EXPECT_FALSE(report.failed()) << check_markdown(report);
  for (const auto& row : report.rows) {
    const double want = contains(row.name, "gemm.mma/") ? 0.15 : contains(row.name, "gemm") ? 0.01 : 0.05;
    EXPECT_DOUBLE_EQ(row.max_regression, want) << row.name;
  }
  ASSERT_EQ(report.unmatched_thresholds, std::vector<std::string>{"nonesuch"});
  const std::string md = check_markdown(report);
  EXPECT_TRUE(contains(md, "15.0% for benchmarks matching `gemm\\.mma/`")) << md;
  EXPECT_TRUE(contains(md, "--threshold `nonesuch` matched no benchmark")) << md;
  // Without the override the 10% slowdown fails the 5% default.
  o.thresholds = {{"memory", 0.5}};
  EXPECT_TRUE(check_results({named("b", base)}, {named("c", cur)}, o).failed());
  o.thresholds = {{"(", 0.1}};
  EXPECT_THROW(check_results({named("b", base)}, {named("c", cur)}, o), Error);
  // The override also decides improvements: gemm.mma 10% faster is not one under a 15% threshold.
  const auto faster = synthetic_results(kH100, with_slowdown(synthetic_suite(), "gemm.mma", 0.90), 3);
  o.thresholds = {{"gemm\\.mma/", 0.15}};
  EXPECT_EQ(check_results({named("b", base)}, {named("f", faster)}, o).count(Verdict::Improvement), 0);
  o.thresholds.clear();
  EXPECT_EQ(check_results({named("b", base)}, {named("f", faster)}, o).count(Verdict::Improvement), 1);
  const Threshold t = parse_threshold("attention/.*causal:true=8%");
  EXPECT_EQ(t.pattern, "attention/.*causal:true");
  EXPECT_DOUBLE_EQ(t.max_regression, 0.08);
  EXPECT_EQ(parse_threshold("a=b=5%").pattern, "a=b");  // the value follows the last '='
  for (const char* bad : {"gemm", "=5%", "gemm=", "gemm=lots", "gemm=5"})
    EXPECT_THROW(parse_threshold(bad), Error) << bad;
}

TEST(Check, AFileAgainstItselfPasses) {
  const auto base = synthetic_results(kH100, synthetic_suite(), 1);
  const auto report = check_results({named("a.json", base)}, {named("a.json", base)}, CheckOptions{});
  EXPECT_FALSE(report.failed());
  EXPECT_EQ(report.count(Verdict::Unchanged), static_cast<int>(synthetic_suite().size()));
}

TEST(Check, TwoDrawsFromOneNoiseDistributionPassAtTheDefaultAlpha) {
  for (std::uint64_t seed = 10; seed < 30; ++seed) {
    const auto a = synthetic_results(kH100, synthetic_suite(), seed);
    const auto b = synthetic_results(kH100, synthetic_suite(), seed + 1000);
    EXPECT_FALSE(check_results({named("a.json", a)}, {named("b.json", b)}, CheckOptions{}).failed()) << seed;
  }
}

TEST(Check, SmallSignificantSlowdownUnderTheThresholdIsNotARegression) {
  const auto base = synthetic_results(kH100, synthetic_suite(), 1);
  const auto cur = synthetic_results(kH100, with_slowdown(synthetic_suite(), "gemm.mma", 1.03), 2);
  EXPECT_FALSE(check_results({named("b", base)}, {named("c", cur)}, CheckOptions{}).failed());
}

TEST(Check, ALowerClockIsReportedAsSuchNotAsARegression) {
  const auto base = synthetic_results(kH100, synthetic_suite(), 1);
  auto slow = with_slowdown(synthetic_suite(), "gemm.cublas", 1980.0 / 1600.0);
  for (auto& b : slow)
    if (b.impl == "gemm.cublas") b.clock_mhz = 1600;  // same cycles, lower clock
  const auto report =
      check_results({named("b", base)}, {named("c", synthetic_results(kH100, slow, 2))}, CheckOptions{});
  EXPECT_FALSE(report.failed());
  EXPECT_EQ(report.count(Verdict::ClockOnly), 2);  // both gemm.cublas shapes
  EXPECT_TRUE(contains(check_markdown(report), "1600 MHz"));
}

TEST(Check, ASlowdownWithoutRecordedClocksStillCounts) {
  auto base_suite = synthetic_suite();
  for (auto& b : base_suite) b.clock_mhz = 0;
  auto cur_suite = with_slowdown(base_suite, "memory.copy", 1.2);
  const auto report = check_results({named("b", synthetic_results(kH100, base_suite, 1))},
                                    {named("c", synthetic_results(kH100, cur_suite, 2))}, CheckOptions{});
  EXPECT_EQ(report.count(Verdict::Regression), 1);
}

TEST(Check, VerificationFailureInTheCurrentResultsIsARegression) {
  auto suite = synthetic_suite();
  suite[0].failed = true;
  const auto report = check_results({named("b", synthetic_results(kH100, synthetic_suite(), 1))},
                                    {named("c", synthetic_results(kH100, suite, 2))}, CheckOptions{});
  EXPECT_TRUE(report.failed());
  EXPECT_EQ(report.count(Verdict::Failed), 1);
}

TEST(Check, MissingNewAndImproved) {
  auto cur = synthetic_suite();
  cur.erase(cur.begin());                                                      // missing
  cur.push_back({Copy{1ull << 28}, "memory.copy", 0.2e-3});                    // new
  cur = with_slowdown(cur, "attention.cudnn", 0.8);                            // improved
  const auto report = check_results({named("b", synthetic_results(kH100, synthetic_suite(), 1))},
                                    {named("c", synthetic_results(kH100, cur, 2))}, CheckOptions{});
  EXPECT_EQ(report.count(Verdict::Missing), 1);
  EXPECT_EQ(report.count(Verdict::New), 1);
  EXPECT_EQ(report.count(Verdict::Improvement), 1);
  EXPECT_EQ(report.count(Verdict::Regression) + report.count(Verdict::Failed), 0);
  // A benchmark that vanished fails the check (it may have crashed), unless that is allowed.
  EXPECT_TRUE(report.failed());
  EXPECT_NE(check_markdown(report).find("## trainbench check: 1 missing"), std::string::npos) << check_markdown(report);
  const auto allowed = check_results({named("b", synthetic_results(kH100, synthetic_suite(), 1))},
                                     {named("c", synthetic_results(kH100, cur, 2))},
                                     CheckOptions{.allow_missing = true});
  EXPECT_FALSE(allowed.failed());
  EXPECT_NE(check_markdown(allowed).find("## trainbench check: no regression"), std::string::npos)
      << check_markdown(allowed);
}

// Files with no benchmark in common (another suite, an empty run) check nothing: an error (exit
// 2), not a pass.
TEST(Check, NothingInCommonIsAnErrorNotAPass) {
  auto other = synthetic_suite();
  for (auto& b : other) b.impl = "other." + b.impl;
  EXPECT_THROW(check_results({named("b", synthetic_results(kH100, synthetic_suite(), 1))},
                             {named("c", synthetic_results(kH100, other, 2))}, CheckOptions{.allow_missing = true}),
               Error);
  EXPECT_THROW(check_results({named("b", synthetic_results(kH100, synthetic_suite(), 1))},
                             {named("c", synthetic_results(kH100, {}, 2))}, CheckOptions{.allow_missing = true}),
               Error);
}

// --max-regression: 5% or 0.05; a bare number of 1 or more (500% for "5") is refused, as are
// zero, negative, non-finite and non-numeric values.
TEST(Check, MaxRegressionTakesAPercentOrAFractionBelowOne) {
  EXPECT_DOUBLE_EQ(parse_fraction("5%", "--max-regression"), 0.05);
  EXPECT_DOUBLE_EQ(parse_fraction("0.05", "--max-regression"), 0.05);
  EXPECT_DOUBLE_EQ(parse_fraction("150%", "--max-regression"), 1.5);
  for (const char* bad : {"5", "1", "0", "-0.1", "0%", "inf", "nan", "abc", "5%%", ""})
    EXPECT_THROW(parse_fraction(bad, "--max-regression"), Error) << bad;
}

TEST(Check, RepetitionsAsProcessesMustAllBeSlower) {
  // Three baseline processes whose medians drift by +-8%; the current ones sit inside that range.
  std::vector<NamedResults> base, cur;
  const double drift[] = {0.92, 1.0, 1.08};
  for (int i = 0; i < 3; ++i) {
    auto s = synthetic_suite(drift[i]);
    base.push_back(named("b" + std::to_string(i), synthetic_results(kH100, s, 100 + i)));
    cur.push_back(named("c" + std::to_string(i), synthetic_results(kH100, synthetic_suite(1.07), 200 + i)));
  }
  const auto drifted = check_results(base, cur, CheckOptions{});
  EXPECT_FALSE(drifted.failed());
  EXPECT_FALSE(contains(check_markdown(drifted), "one process")) << "three processes a side: no warning";
  // Every current process 20% slower than every baseline process: a regression.
  cur.clear();
  for (int i = 0; i < 3; ++i)
    cur.push_back(named("c" + std::to_string(i), synthetic_results(kH100, synthetic_suite(1.3), 300 + i)));
  EXPECT_TRUE(check_results(base, cur, CheckOptions{}).failed());
}

TEST(Check, DifferentDevicesNeedPermission) {
  const auto a = synthetic_results(kH100, synthetic_suite(), 1);
  const auto b = synthetic_results(kH200, synthetic_suite(), 2);
  try {
    check_results({named("a.json", a)}, {named("b.json", b)}, CheckOptions{});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), kExitUsage);
    EXPECT_TRUE(contains(e.what(), "--allow-different-device")) << e.what();
  }
  CheckOptions allow;
  allow.allow_different_device = true;
  EXPECT_NO_THROW(check_results({named("a.json", a)}, {named("b.json", b)}, allow));
}

// ---- the commands, as CI runs them --------------------------------------------------------

class CheckCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("trainbench-check-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string write(const std::string& name, const Results& r) {
    const std::string p = (dir_ / name).string();
    write_results_file(p, r, true);
    return p;
  }
  fs::path dir_;
};

TEST_F(CheckCli, ExitCodesAndSummary) {
  const auto base = write("base.json", synthetic_results(kH100, synthetic_suite(), 1));
  const auto same = write("same.json", synthetic_results(kH100, synthetic_suite(), 2));
  const auto slow = write("slow.json", synthetic_results(kH100, with_slowdown(synthetic_suite(), "gemm.mma", 1.1), 3));
  const auto other = write("h200.json", synthetic_results(kH200, synthetic_suite(), 4));

  auto o = testing::run_trainbench("check --baseline " + base + " --current " + base);
  EXPECT_EQ(o.code, 0) << o.output;
  EXPECT_TRUE(contains(o.output, "no regression")) << o.output;
  o = testing::run_trainbench("check --baseline " + base + " --current " + same);
  EXPECT_EQ(o.code, 0) << o.output;
  o = testing::run_trainbench("check --baseline " + base + " --current " + slow);
  EXPECT_EQ(o.code, 1) << o.output;
  EXPECT_TRUE(contains(o.output, "gemm/gemm.mma/m:8192")) << o.output;
  o = testing::run_trainbench("check --baseline " + base + " --current " + slow + " --max-regression 15%");
  EXPECT_EQ(o.code, 0) << o.output;
  o = testing::run_trainbench("check --baseline " + base + " --current " + slow + " --threshold 'gemm\\.mma/=15%'");
  EXPECT_EQ(o.code, 0) << o.output;
  for (const char* bad : {"'(=5%'", "gemm", "gemm=lots"}) {
    o = testing::run_trainbench("check --baseline " + base + " --current " + slow + " --threshold " + bad);
    EXPECT_EQ(o.code, 2) << bad << "\n" << o.output;
    EXPECT_TRUE(contains(o.output, "--threshold")) << bad << "\n" << o.output;
  }
  o = testing::run_trainbench("check --baseline " + base + " --current " + other);
  EXPECT_EQ(o.code, 2) << o.output;
  EXPECT_TRUE(contains(o.output, "--allow-different-device")) << o.output;
  o = testing::run_trainbench("check --baseline " + base + " --current " + other + " --allow-different-device");
  EXPECT_NE(o.code, 2) << o.output;
  o = testing::run_trainbench("check --baseline " + base + " --current " + same + " --max-regression lots");
  EXPECT_EQ(o.code, 2) << o.output;
}

TEST_F(CheckCli, MalformedOrTruncatedFilesExitTwoNamingTheFileAndWriteNothing) {
  const auto base = write("base.json", synthetic_results(kH100, synthetic_suite(), 1));
  std::ifstream in(base);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string truncated = (dir_ / "truncated.json").string();
  std::ofstream(truncated) << text.substr(0, text.size() / 3);
  const std::string not_ours = (dir_ / "not-ours.json").string();
  std::ofstream(not_ours) << R"({"context": {}, "benchmarks": []})";
  const auto before = std::distance(fs::directory_iterator(dir_), fs::directory_iterator());
  for (const auto& bad : {truncated, not_ours, (dir_ / "absent.json").string()}) {
    for (const std::string& args : {"check --baseline " + base + " --current " + bad,
                                    "check --baseline " + bad + " --current " + base, "compare " + base + " " + bad}) {
      const auto o = testing::run_trainbench(args);
      EXPECT_EQ(o.code, 2) << args << "\n" << o.output;
      EXPECT_TRUE(contains(o.output, bad)) << args << "\n" << o.output;
    }
  }
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), before);
}

// `show` reads a file back as `run` printed it: the header says where and how it was measured, then one row
// per benchmark; a failed verification keeps its row and its reason. Bad input exits 2, naming it.
TEST_F(CheckCli, ShowPrintsAFileAsRunDid) {
  auto suite = synthetic_suite();
  suite.front().failed = true;
  const auto a = write("h100.json", synthetic_results(kH100, suite, 1));
  const auto b = write("h200.json", synthetic_results(kH200, synthetic_suite(0.8), 2));
  auto o = testing::run_trainbench("show " + a);
  EXPECT_EQ(o.code, 0) << o.output;
  for (const char* text : {"chip spec h100-sxm", "synthetic", "L2 cold", "1 failed or not run", "gemm.cublas",
                           "verified", "geometric mean"})
    EXPECT_TRUE(contains(o.output, text)) << text << "\n" << o.output;
  o = testing::run_trainbench("show " + a + " " + b + " --filter gemm.cublas/");
  EXPECT_EQ(o.code, 0) << o.output;
  EXPECT_TRUE(contains(o.output, a) && contains(o.output, b) && contains(o.output, "chip spec h200-sxm")) << o.output;
  EXPECT_TRUE(contains(o.output, "(--filter gemm.cublas/)")) << o.output;
  EXPECT_FALSE(contains(o.output, "gemm.mma")) << o.output;
  o = testing::run_trainbench("show " + a + " --filter nonesuch");
  EXPECT_EQ(o.code, 2) << o.output;
  EXPECT_TRUE(contains(o.output, "nonesuch")) << o.output;
  EXPECT_EQ(testing::run_trainbench("show " + a + " --filter '('").code, 2);
  o = testing::run_trainbench("show " + a + " " + (dir_ / "absent.json").string());
  EXPECT_EQ(o.code, 2) << o.output;
  EXPECT_TRUE(contains(o.output, "absent.json")) << o.output;
  EXPECT_FALSE(contains(o.output, "gemm.cublas")) << "every file is read before anything is printed\n" << o.output;
  EXPECT_EQ(testing::run_trainbench("show").code, 2);
}

TEST_F(CheckCli, CompareFormats) {
  const auto a = write("h100.json", synthetic_results(kH100, synthetic_suite(1.0), 1));
  const auto b = write("h200.json", synthetic_results(kH200, synthetic_suite(0.8), 2));
  for (const char* format : {"table", "markdown", "csv", "json"}) {
    const auto o = testing::run_trainbench(std::string("compare ") + a + " " + b + " --format " + format);
    EXPECT_EQ(o.code, 0) << format << "\n" << o.output;
    EXPECT_TRUE(contains(o.output, "gemm.cublas")) << format;
  }
  const auto one = testing::run_trainbench("compare " + a);
  EXPECT_EQ(one.code, 2) << one.output;
  EXPECT_TRUE(contains(one.output, "trainbench show " + a)) << one.output;
  EXPECT_EQ(testing::run_trainbench("compare " + a + " " + b + " --format xml").code, 2);
}

}  // namespace
}  // namespace trainbench
