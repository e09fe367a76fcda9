// The Mann-Whitney U test against scipy.stats.mannwhitneyu (two-sided, method "auto").
#include <gtest/gtest.h>

#include "harness/significance.hpp"

namespace trainbench {
namespace {

TEST(MannWhitney, ExactForSmallSamplesWithoutTies) {
  // scipy: mannwhitneyu([1,2,3,4,5], [6,7,8,9,10]) -> U = 0, p = 0.007936507936507936
  const auto r = mann_whitney_u({1, 2, 3, 4, 5}, {6, 7, 8, 9, 10});
  EXPECT_TRUE(r.exact);
  EXPECT_DOUBLE_EQ(r.u, 0);
  EXPECT_NEAR(r.p_value, 0.007936507936507936, 1e-12);
  // scipy: mannwhitneyu([1,3,5,7], [2,4,6,8,10]) -> U = 6, p = 0.4126984126984127
  const auto s = mann_whitney_u({1, 3, 5, 7}, {2, 4, 6, 8, 10});
  EXPECT_DOUBLE_EQ(s.u, 6);
  EXPECT_NEAR(s.p_value, 0.4126984126984127, 1e-12);
}

// scipy takes the exact distribution when either sample has at most 8 values, however large the other.
TEST(MannWhitney, ExactWhenOneSampleIsSmall) {
  std::vector<double> b;
  for (int i = 1; i <= 30; ++i) b.push_back(i);
  // scipy: mannwhitneyu([1.5, 4.5, 30.5], range(1, 31)) -> U = 35, p = 0.5714809384164222
  const auto r = mann_whitney_u({1.5, 4.5, 30.5}, b);
  EXPECT_TRUE(r.exact);
  EXPECT_DOUBLE_EQ(r.u, 35);
  EXPECT_NEAR(r.p_value, 0.5714809384164222, 1e-12);
  // scipy: mannwhitneyu([i + 0.5 for i in range(1, 9)], range(0, 2000, 2)) -> U = 24, p = 3.84703666139301e-16
  std::vector<double> a8, many;
  for (int i = 1; i <= 8; ++i) a8.push_back(i + 0.5);
  for (int i = 0; i < 2000; i += 2) many.push_back(i);
  const auto s = mann_whitney_u(a8, many);
  EXPECT_TRUE(s.exact);
  EXPECT_DOUBLE_EQ(s.u, 24);
  EXPECT_NEAR(s.p_value / 3.84703666139301e-16, 1.0, 1e-9);
  EXPECT_NEAR(mann_whitney_u(many, a8).p_value / s.p_value, 1.0, 1e-12);
}

TEST(MannWhitney, NormalApproximationForLargerSamples) {
  // scipy: mannwhitneyu(range(1, 11), range(11, 21)) -> U = 0, p = 0.00018267179110955002
  std::vector<double> a, b;
  for (int i = 1; i <= 10; ++i) a.push_back(i);
  for (int i = 11; i <= 20; ++i) b.push_back(i);
  const auto r = mann_whitney_u(a, b);
  EXPECT_FALSE(r.exact);
  EXPECT_NEAR(r.p_value, 0.00018267179110955002, 1e-12);
}

TEST(MannWhitney, TiesUseTheCorrectedVariance) {
  // scipy: mannwhitneyu([1,2,2,3,4,5,6,7,8,9], [2,3,5,5,8,10,11,12,13,14,15]) -> U = 25, p = 0.037150614953446785
  const auto r = mann_whitney_u({1, 2, 2, 3, 4, 5, 6, 7, 8, 9}, {2, 3, 5, 5, 8, 10, 11, 12, 13, 14, 15});
  EXPECT_DOUBLE_EQ(r.u, 25);
  EXPECT_NEAR(r.p_value, 0.037150614953446785, 1e-12);
}

TEST(MannWhitney, IdenticalOrEmptySamplesShowNoDifference) {
  EXPECT_DOUBLE_EQ(mann_whitney_u({1, 2, 3}, {1, 2, 3}).p_value, 1.0);  // scipy: 1.0
  EXPECT_DOUBLE_EQ(mann_whitney_u({5, 5, 5}, {5, 5, 5}).p_value, 1.0);
  EXPECT_DOUBLE_EQ(mann_whitney_u({}, {1, 2}).p_value, 1.0);
}

TEST(MannWhitney, SymmetricInItsArguments) {
  const std::vector<double> a{1.0, 1.1, 0.9, 1.05, 0.97, 1.02, 1.2, 0.95, 1.01, 0.99};
  const std::vector<double> b{1.1, 1.2, 1.15, 1.3, 1.05, 1.22, 1.18, 1.08, 1.25, 1.12};
  EXPECT_NEAR(mann_whitney_u(a, b).p_value, mann_whitney_u(b, a).p_value, 1e-15);
}

}  // namespace
}  // namespace trainbench
