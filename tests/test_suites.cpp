// Every suite names registered impls only, each of the op family it is listed under, and every
// impl it lists takes its op (a suite never plans a benchmark that would be refused).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "bench/impls.hpp"
#include "bench/model_suite.hpp"
#include "bench/suites.hpp"
#include "harness/results.hpp"

namespace trainbench {
namespace {

TEST(Suites, EveryImplIsRegisteredOfTheRightFamilyAndTakesItsOp) {
  register_all_impls();
  std::set<std::string> names;
  for (const auto& suite : suites()) {
    EXPECT_TRUE(names.insert(suite.name).second) << "suite named twice: " << suite.name;
    EXPECT_FALSE(suite.entries.empty()) << suite.name;
    for (const auto& entry : suite.entries) {
      EXPECT_FALSE(entry.impls.empty()) << suite.name << " " << op_label(entry.op);
      for (const auto& impl_name : entry.impls) {
        const Impl& impl = registry().find(impl_name);  // throws for an unknown name
        EXPECT_EQ(impl.family, op_family(entry.op)) << suite.name << " " << impl_name;
        EXPECT_EQ(impl.unsupported(entry.op), "") << suite.name << " " << impl_name << " " << op_label(entry.op);
      }
    }
  }
  for (const char* required : {"quick", "full", "memory"}) EXPECT_TRUE(names.count(required)) << required;
}

TEST(Suites, FullHoldsEveryOtherSuitesEntries) {
  std::size_t others = 0, full = 0;
  for (const auto& suite : suites()) {
    if (suite.name == "full") full = suite.entries.size();
    else if (suite.name != "quick") others += suite.entries.size();
  }
  EXPECT_EQ(full, others);
}

// The committed results (results/<chip>/<suite>.json) still describe their suites: every
// benchmark in them is one the suite runs today. Otherwise `trainbench check` against them (the
// CI workflow checks the quick suite against results/<chip>/quick.json) reports benchmarks
// missing, and fails, for a renamed impl or a dropped shape rather than for a slower kernel.
TEST(Suites, CommittedResultsAreStillTheirSuitesBenchmarks) {
  register_all_impls();
  namespace fs = std::filesystem;
  int files = 0;
  for (const auto& chip_dir : fs::directory_iterator(TRAINBENCH_RESULTS_DIR)) {
    if (!chip_dir.is_directory()) continue;
    for (const auto& entry : fs::directory_iterator(chip_dir.path())) {
      if (entry.path().extension() != ".json") continue;
      std::string suite_name = entry.path().stem().string();
      if (suite_name.rfind("model-", 0) == 0) suite_name = "model:" + suite_name.substr(6);
      const bool known = is_model_suite(suite_name) ||
                         std::any_of(suites().begin(), suites().end(), [&](const Suite& x) { return x.name == suite_name; });
      if (!known) continue;  // e.g. a peer's file
      const Suite suite = is_model_suite(suite_name) ? model_suite(suite_name, ModelSuiteOptions{}) : find_suite(suite_name);
      std::set<std::string> names;
      for (const auto& e : suite.entries)
        for (const auto& impl : e.impls) names.insert(benchmark_name(e.op, impl));
      const Results r = read_results_file(entry.path().string());
      for (const auto& b : r.benchmarks)
        EXPECT_TRUE(names.count(b.name)) << entry.path() << ": " << b.name << " is no longer in suite " << suite_name;
      ++files;
    }
  }
  EXPECT_GT(files, 0) << "no committed results found under " << TRAINBENCH_RESULTS_DIR;
}

}  // namespace
}  // namespace trainbench
