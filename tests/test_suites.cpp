// Every suite names registered impls only, each of the op family it is listed under, and every
// impl it lists takes its op (a suite never plans a benchmark that would be refused).
#include <gtest/gtest.h>

#include <set>

#include "bench/impls.hpp"
#include "bench/suites.hpp"

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

}  // namespace
}  // namespace trainbench
