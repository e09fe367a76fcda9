// The float64 attention reference: its backward against finite differences of its forward, GQA
// against repeated KV heads, the causal mask, and the log-sum-exp.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "harness/attention_reference.hpp"
#include "harness/error.hpp"

namespace trainbench {
namespace {

std::vector<double> random_vector(std::size_t n, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(-1, 1);
  std::vector<double> v(n);
  for (auto& x : v) x = u(rng);
  return v;
}

struct Inputs {
  std::vector<double> q, k, v, d_o;
};

Inputs random_inputs(const Attention& a, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  const std::size_t nq = a.batch * a.seq_q * a.heads_q * a.head_dim;
  const std::size_t nkv = a.batch * a.seq_kv * a.heads_kv * a.head_dim;
  return {random_vector(nq, rng), random_vector(nkv, rng), random_vector(nkv, rng), random_vector(nq, rng)};
}

double loss(const Attention& a, const Inputs& in) {  // sum(O * dO)
  const auto f = attention_forward_reference(a, in.q, in.k, in.v);
  double s = 0;
  for (std::size_t i = 0; i < f.o.size(); ++i) s += f.o[i] * in.d_o[i];
  return s;
}

void expect_gradient(const Attention& a, Inputs in, std::vector<double> Inputs::*which,
                     const std::vector<double>& analytic, const char* name) {
  const double h = 1e-6;
  auto& x = in.*which;
  for (std::size_t i = 0; i < x.size(); i += std::max<std::size_t>(1, x.size() / 37)) {
    const double keep = x[i];
    x[i] = keep + h;
    const double up = loss(a, in);
    x[i] = keep - h;
    const double down = loss(a, in);
    x[i] = keep;
    EXPECT_NEAR(analytic[i], (up - down) / (2 * h), 1e-6) << name << "[" << i << "]";
  }
}

class AttentionReferenceGrad : public ::testing::TestWithParam<Attention> {};

TEST_P(AttentionReferenceGrad, BackwardMatchesFiniteDifferences) {
  const Attention a = GetParam();
  const Inputs in = random_inputs(a, 11);
  const auto g = attention_backward_reference(a, in.q, in.k, in.v, in.d_o);
  expect_gradient(a, in, &Inputs::q, g.dq, "dQ");
  expect_gradient(a, in, &Inputs::k, g.dk, "dK");
  expect_gradient(a, in, &Inputs::v, g.dv, "dV");
}

INSTANTIATE_TEST_SUITE_P(Shapes, AttentionReferenceGrad,
                         ::testing::Values(Attention{1, 2, 2, 5, 5, 4, false, "bwd"},
                                           Attention{2, 4, 2, 6, 6, 8, true, "bwd"},    // GQA, causal
                                           Attention{1, 3, 1, 3, 7, 4, true, "bwd"},    // MQA, seq_q < seq_kv
                                           Attention{1, 2, 1, 6, 4, 4, true, "bwd"}));  // rows that see nothing

TEST(AttentionReference, GqaEqualsMhaWithRepeatedKvHeads) {
  const Attention gqa{2, 4, 2, 5, 7, 8, true, "fwd"};
  const Inputs in = random_inputs(gqa, 3);
  Attention mha = gqa;
  mha.heads_kv = 4;
  std::vector<double> k2, v2;
  for (std::size_t b = 0; b < 2; ++b)
    for (std::size_t j = 0; j < 7; ++j)
      for (std::size_t h = 0; h < 4; ++h)
        for (std::size_t x = 0; x < 8; ++x) {
          k2.push_back(in.k[((b * 7 + j) * 2 + h / 2) * 8 + x]);
          v2.push_back(in.v[((b * 7 + j) * 2 + h / 2) * 8 + x]);
        }
  const auto a = attention_forward_reference(gqa, in.q, in.k, in.v);
  const auto b = attention_forward_reference(mha, in.q, k2, v2);
  for (std::size_t i = 0; i < a.o.size(); ++i) ASSERT_DOUBLE_EQ(a.o[i], b.o[i]);
}

TEST(AttentionReference, CausalFirstRowCopiesTheFirstValueAndLseIsTheOnlyScore) {
  const Attention a{1, 1, 1, 4, 4, 4, true, "fwd"};
  const Inputs in = random_inputs(a, 5);
  const auto f = attention_forward_reference(a, in.q, in.k, in.v);
  for (std::size_t x = 0; x < 4; ++x) EXPECT_DOUBLE_EQ(f.o[x], in.v[x]);
  double s = 0;
  for (std::size_t x = 0; x < 4; ++x) s += in.q[x] * in.k[x];
  EXPECT_NEAR(f.lse[0], s / 2.0, 1e-12);  // 1/sqrt(4)
}

TEST(AttentionReference, RowThatSeesNoKeyIsZeroWithMinusInfiniteLse) {
  const Attention a{1, 1, 1, 6, 4, 2, true, "fwd"};  // rows 0 and 1 see no key
  const Inputs in = random_inputs(a, 9);
  const auto f = attention_forward_reference(a, in.q, in.k, in.v);
  EXPECT_EQ(f.o[0], 0.0);
  EXPECT_TRUE(std::isinf(f.lse[0]) && f.lse[0] < 0);
  EXPECT_TRUE(std::isfinite(f.lse[2]));
}

TEST(AttentionReference, WrongSizesAreErrors) {
  const Attention a{1, 2, 2, 4, 4, 4, false, "fwd"};
  EXPECT_THROW(attention_forward_reference(a, std::vector<double>(3), std::vector<double>(32), std::vector<double>(32)),
               Error);
}

// worst_slice_norm_error on (batch 2, seq 2, heads 2, head_dim 2): slice (b, h) holds the values
// at (b * 2 + t) * 4 + h * 2 + x for t, x in {0, 1}.
TEST(WorstSliceNormError, FindsTheWorstHeadOfTheWorstBatch) {
  std::vector<double> want(16), got(16);
  for (std::size_t i = 0; i < 16; ++i) want[i] = got[i] = 1.0 + double(i % 3);
  EXPECT_EQ(worst_slice_norm_error(got, want, 2, 2, 2), 0.0);
  // Slice (batch 1, head 0): values 8, 9, 12, 13. Moving one by 0.5 of its slice's norm...
  double norm = 0;
  for (std::size_t i : {8, 9, 12, 13}) norm += want[i] * want[i];
  got[13] += 0.5 * std::sqrt(norm);
  EXPECT_NEAR(worst_slice_norm_error(got, want, 2, 2, 2), 0.5, 1e-12);
  // ... and a smaller error in another slice does not mask it.
  got[2] += 0.1;
  EXPECT_NEAR(worst_slice_norm_error(got, want, 2, 2, 2), 0.5, 1e-12);
}

TEST(WorstSliceNormError, ZeroReferenceSlicesUseTheMeanSliceNormAndNanIsInfinite) {
  std::vector<double> want(16, 0.0), got(16, 0.0);
  got[0] = 1e-3;  // all of want is zero: absolute
  EXPECT_NEAR(worst_slice_norm_error(got, want, 2, 2, 2), 1e-3, 1e-15);
  // Slice (0, 1) has norm 4 (squares 16); the mean of the 4 slices' squares is 4, norm 2.
  for (std::size_t i : {2, 3, 6, 7}) want[i] = got[i] = 2.0;
  EXPECT_NEAR(worst_slice_norm_error(got, want, 2, 2, 2), 1e-3 / 2.0, 1e-15);
  // A zero slice given a value of the nonzero slice's size errs by its norm over the mean's: 2.
  got[0] = 4.0;
  EXPECT_NEAR(worst_slice_norm_error(got, want, 2, 2, 2), 2.0, 1e-15);
  got[0] = 1e-3;
  got[5] = std::nan("");
  EXPECT_TRUE(std::isinf(worst_slice_norm_error(got, want, 2, 2, 2)));
  EXPECT_THROW(worst_slice_norm_error(got, want, 3, 2, 2), Error);
  EXPECT_THROW(worst_slice_norm_error(std::vector<double>(8), want, 2, 2, 2), Error);
}

}  // namespace
}  // namespace trainbench
