// "Did you mean": a mistyped chip, model, suite or impl name gets the names it was likely meant as.
#include <gtest/gtest.h>

#include "harness/chips.hpp"
#include "harness/error.hpp"
#include "harness/suggest.hpp"
#include "tests/run_command.hpp"

namespace trainbench {
namespace {

using Names = std::vector<std::string>;

TEST(Suggest, EditDistanceCountsInsertionsDeletionsSubstitutionsAndSwaps) {
  EXPECT_EQ(edit_distance("", ""), 0u);
  EXPECT_EQ(edit_distance("", "abc"), 3u);
  EXPECT_EQ(edit_distance("llama3-70b", "llama-3-70b"), 1u);  // an insertion
  EXPECT_EQ(edit_distance("gemm.wgmmma", "gemm.wgmma"), 1u);    // a deletion
  EXPECT_EQ(edit_distance("h200-sxm", "h100-sxm"), 1u);        // a substitution
  EXPECT_EQ(edit_distance("lalma-3-8b", "llama-3-8b"), 1u);     // two neighbours swapped
  EXPECT_EQ(edit_distance("H100-SXM", "h100-sxm"), 0u);        // case does not count
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
}

TEST(Suggest, OneSlipNamesTheClosestAPrefixNamesTheNamesHoldingItAndNoiseNamesNothing) {
  const Names chips{"h100-nvl", "h100-pcie", "h100-sxm", "h20", "h200-sxm", "h800-sxm", "b200", "b300", "gb200"};
  EXPECT_EQ(closest_names("h800", chips), Names{"h800-sxm"});
  EXPECT_EQ(closest_names("h100", chips), (Names{"h100-nvl", "h100-pcie", "h100-sxm"}));
  EXPECT_EQ(closest_names("h100-sx", chips), Names{"h100-sxm"});
  EXPECT_EQ(closest_names("b100", chips), (Names{"b200", "b300"}));  // ties are all named
  EXPECT_TRUE(closest_names("tpu-v5p", chips).empty());
  EXPECT_TRUE(closest_names("", chips).empty());
  EXPECT_EQ(did_you_mean("h800", chips), " (did you mean \"h800-sxm\"?)");
  EXPECT_EQ(did_you_mean("b100", chips), " (did you mean one of \"b200\", \"b300\"?)");
  EXPECT_EQ(did_you_mean("tpu-v5p", chips), "");
}

TEST(Suggest, TheErrorsThatListTheKnownNamesSuggestOne) {
  try {
    ChipTable::builtin().by_id("h800");
    ADD_FAILURE() << "h800 is not a chip id";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("did you mean \"h800-sxm\"?"), std::string::npos) << e.what();
  }
  auto o = testing::run_trainbench("run --suite gemm-sqare --list");
  EXPECT_EQ(o.code, 2) << o.output;
  EXPECT_TRUE(testing::contains(o.output, "did you mean \"gemm-square\"?")) << o.output;
  o = testing::run_trainbench("run --suite model:llama3-70b --list");
  EXPECT_EQ(o.code, 2) << o.output;
  EXPECT_TRUE(testing::contains(o.output, "did you mean \"llama-3-70b\"?")) << o.output;
  o = testing::run_trainbench("project --model llama-3-70b --chips 8 --assume tp_overlp=1");
  EXPECT_EQ(o.code, 2) << o.output;
  EXPECT_TRUE(testing::contains(o.output, "did you mean \"tp_overlap\"?")) << o.output;
}

}  // namespace
}  // namespace trainbench
