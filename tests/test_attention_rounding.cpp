// The fused attention backwards' rounding points (and the forwards', at the end), emulated on the
// host in float64 apart from them, against the exact float64 gradients: the error they cost stays
// inside the bound the benchmarks and GPU tests hold the kernels to (||got - want|| / ||want||
// <= 2^-6 in every (batch, head) of dQ, dK, dV; bench/impls_attention.cpp says why that measure),
// with room to spare, and the bound still catches the mistakes a kernel makes (a dropped term, a missing
// scale). What is emulated, per kernel (kernels/attention/README.md):
// - the forward's O rounded to BF16 (D = rowsum(dO O) reads it) and its LSE in FP32;
// - P = exp(S scale - LSE) in FP32, rounded to BF16 before dV += P^T dO;
// - dS = P (dP - D) with P in FP32 (attention.bwd.mma) or from the BF16 P (attention.bwd.wgmma),
//   rounded to BF16 before dK += dS^T Q and dQ += dS K;
// - dQ, dK, dV rounded to BF16 (dK and dQ after the softmax scale).
// The sums themselves are left exact: FP32 accumulation adds about 2^-24 sqrt(n), far below these.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <cuda_bf16.h>

#include "harness/attention_reference.hpp"
#include "kernels/attention/attention.cuh"

namespace trainbench {
namespace {

constexpr double kToleranceFusedGrad = 0x1p-6;  // bench/impls_attention.cpp, tests/gpu_test_attention.cu
constexpr double kToleranceFusedO = 0x1p-6;     // the same files: per slice and per row

double bf16(double x) {  // round to nearest even, as cvt.rn.bf16.f32 does (cuda_bf16.h's host conversion)
  return static_cast<double>(__bfloat162float(__float2bfloat16_rn(static_cast<float>(x))));
}
double fp32(double x) { return static_cast<double>(static_cast<float>(x)); }

enum class Variant {
  MmaFp32P,         // attention.bwd.mma: dS from the FP32 P
  WgmmaBf16P,       // attention.bwd.wgmma: dS from the BF16 P
  BugNoD,           // a kernel that forgets to subtract D
  BugUnscaledDq,    // a kernel that forgets the softmax scale on dQ
  BugDroppedBlock,  // a kernel that skips the last key of every row (a block bound off by one)
};

struct Problem {
  Attention op;
  std::vector<double> q, k, v, d_o;
};

Problem random_problem(std::uint64_t seq_q, std::uint64_t seq_kv, std::uint64_t d, bool causal, std::uint64_t hq,
                       std::uint64_t hkv, unsigned seed) {
  Problem p{Attention{.batch = 1, .heads_q = hq, .heads_kv = hkv, .seq_q = seq_q, .seq_kv = seq_kv, .head_dim = d,
                      .causal = causal, .pass = "bwd"},
            {}, {}, {}, {}};
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  const auto fill = [&](std::vector<double>& x, std::uint64_t n) {
    x.resize(n);
    for (auto& e : x) e = bf16(u(rng));  // the kernels' inputs are BF16
  };
  fill(p.q, seq_q * hq * d);
  fill(p.k, seq_kv * hkv * d);
  fill(p.v, seq_kv * hkv * d);
  fill(p.d_o, seq_q * hq * d);
  return p;
}

// The backward as the fused kernels round it (batch 1).
AttentionGradients emulate(const Problem& p, Variant variant) {
  const Attention& a = p.op;
  const std::size_t sq = a.seq_q, sk = a.seq_kv, hq = a.heads_q, hkv = a.heads_kv, d = a.head_dim;
  const std::size_t group = hq / hkv;
  const double scale = 1.0 / std::sqrt(double(d));
  const AttentionForward fwd = attention_forward_reference(a, p.q, p.k, p.v);
  AttentionGradients g{std::vector<double>(p.q.size(), 0.0), std::vector<double>(p.k.size(), 0.0),
                       std::vector<double>(p.v.size(), 0.0)};
  for (std::size_t h = 0; h < hq; ++h) {
    const std::size_t hk = h / group;
    for (std::size_t i = 0; i < sq; ++i) {
      const double lse = fp32(fwd.lse[h * sq + i]);
      const std::size_t qa = (i * hq + h) * d;
      double dsum = 0;  // D = rowsum(dO * O), O as the forward stored it (BF16)
      for (std::size_t x = 0; x < d; ++x) dsum += p.d_o[qa + x] * bf16(fwd.o[qa + x]);
      dsum = fp32(dsum);
      std::size_t n = kernels::attention_visible_keys(int(i), int(sq), int(sk), a.causal);
      if (variant == Variant::BugDroppedBlock && n > 0) --n;
      for (std::size_t j = 0; j < n; ++j) {
        const std::size_t ka = (j * hkv + hk) * d;
        double s = 0, dp = 0;
        for (std::size_t x = 0; x < d; ++x) {
          s += p.q[qa + x] * p.k[ka + x];
          dp += p.d_o[qa + x] * p.v[ka + x];
        }
        const double prob = fp32(std::exp(fp32(s) * scale - lse));
        const double prob_bf16 = bf16(prob);
        const double minus_d = variant == Variant::BugNoD ? 0.0 : dsum;
        const double ds = bf16((variant == Variant::MmaFp32P ? prob : prob_bf16) * (fp32(dp) - minus_d));
        for (std::size_t x = 0; x < d; ++x) {
          g.dv[ka + x] += prob_bf16 * p.d_o[qa + x];
          g.dk[ka + x] += ds * p.q[qa + x];
          g.dq[qa + x] += ds * p.k[ka + x];
        }
      }
    }
  }
  const double dq_scale = variant == Variant::BugUnscaledDq ? 1.0 : scale;
  for (auto& x : g.dq) x = bf16(x * dq_scale);
  for (auto& x : g.dk) x = bf16(x * scale);
  for (auto& x : g.dv) x = bf16(x);
  return g;
}

struct Errors {
  double dq, dk, dv;
  double worst() const { return std::max({dq, dk, dv}); }
};

Errors errors(const Problem& p, Variant variant) {
  const AttentionGradients want = attention_backward_reference(p.op, p.q, p.k, p.v, p.d_o);
  const AttentionGradients got = emulate(p, variant);
  const Attention& a = p.op;
  return {worst_slice_norm_error(got.dq, want.dq, a.seq_q, a.heads_q, a.head_dim),
          worst_slice_norm_error(got.dk, want.dk, a.seq_kv, a.heads_kv, a.head_dim),
          worst_slice_norm_error(got.dv, want.dv, a.seq_kv, a.heads_kv, a.head_dim)};
}

struct Case {
  std::uint64_t seq_q, seq_kv, d;
  bool causal;
  std::uint64_t hq, hkv;
};
const Case kCases[] = {{1024, 1024, 128, true, 2, 1},{300, 300, 64, false, 2, 1}, {300, 300, 128, true, 2, 2}, {130, 100, 128, true, 4, 1},
                       {100, 257, 64, true, 2, 1},  {257, 65, 128, false, 2, 1}};

TEST(AttentionBackwardRounding, BothFusedBackwardsFitTheirBoundWithRoomToSpare) {
  unsigned seed = 1;
  for (const Case& c : kCases) {
    const Problem p = random_problem(c.seq_q, c.seq_kv, c.d, c.causal, c.hq, c.hkv, seed++);
    for (const Variant v : {Variant::MmaFp32P, Variant::WgmmaBf16P}) {
      const Errors e = errors(p, v);
      const std::string what = (v == Variant::MmaFp32P ? "FP32 P: " : "BF16 P: ") + op_label(p.op);
      // Room to spare: the rounding alone costs under a quarter of the bound (about 2^-8.5 here),
      // leaving the rest to the order of FP32 sums and ex2.approx, which the emulation leaves out.
      EXPECT_LT(e.dq, kToleranceFusedGrad / 4) << what;
      EXPECT_LT(e.dk, kToleranceFusedGrad / 4) << what;
      EXPECT_LT(e.dv, kToleranceFusedGrad / 4) << what;
      // ... and is not nothing: the emulation rounds (BF16 outputs alone cost about 2^-9.5).
      EXPECT_GT(e.worst(), 0x1p-11) << what;
    }
  }
}

TEST(AttentionBackwardRounding, TheBoundCatchesAKernelsMistakes) {
  unsigned seed = 101;
  for (const Case& c : kCases) {
    const Problem p = random_problem(c.seq_q, c.seq_kv, c.d, c.causal, c.hq, c.hkv, seed++);
    for (const Variant v : {Variant::BugNoD, Variant::BugUnscaledDq, Variant::BugDroppedBlock})
      EXPECT_GT(errors(p, v).worst(), kToleranceFusedGrad) << int(v) << " " << op_label(p.op);
  }
}

// The forward as the fused kernels round it (batch 1): per row, blocks of 64 keys (attention.fwd.mma;
// the Hopper kernel's 128 or 176 round at the same points), a running max, P = exp(S scale - max)
// in FP32 rounded to BF16 before P V, the row sum from the FP32 P, O rescaled as the max moves and
// divided by the row sum at the end, then rounded to BF16. Rows that see no key: 0.
std::vector<double> emulate_forward_o(const Problem& p) {
  const Attention& a = p.op;
  const std::size_t sq = a.seq_q, sk = a.seq_kv, hq = a.heads_q, hkv = a.heads_kv, d = a.head_dim;
  constexpr std::size_t kBlock = 64;
  const double scale = 1.0 / std::sqrt(double(d));
  std::vector<double> o(p.q.size(), 0.0), acc(d), s(kBlock);
  for (std::size_t h = 0; h < hq; ++h) {
    const std::size_t hk = h / (hq / hkv);
    for (std::size_t i = 0; i < sq; ++i) {
      const std::size_t qa = (i * hq + h) * d;
      const std::size_t n = kernels::attention_visible_keys(int(i), int(sq), int(sk), a.causal);
      float max = -INFINITY, sum = 0;
      std::fill(acc.begin(), acc.end(), 0.0);
      for (std::size_t j0 = 0; j0 < n; j0 += kBlock) {
        const std::size_t len = std::min(kBlock, n - j0);
        float block_max = max;
        for (std::size_t j = 0; j < len; ++j) {
          const std::size_t ka = ((j0 + j) * hkv + hk) * d;
          double dot = 0;
          for (std::size_t x = 0; x < d; ++x) dot += p.q[qa + x] * p.k[ka + x];
          s[j] = fp32(fp32(dot) * scale);
          block_max = std::max(block_max, float(s[j]));
        }
        const float correction = max == block_max ? 1.f : std::exp(max - block_max);
        sum *= correction;
        for (auto& x : acc) x = fp32(x * correction);
        for (std::size_t j = 0; j < len; ++j) {
          const float prob = std::exp(float(s[j]) - block_max);
          sum += prob;
          const double prob_bf16 = bf16(prob);
          const std::size_t va = ((j0 + j) * hkv + hk) * d;
          for (std::size_t x = 0; x < d; ++x) acc[x] += prob_bf16 * p.v[va + x];
        }
        max = block_max;
      }
      for (std::size_t x = 0; x < d; ++x) o[qa + x] = n ? bf16(acc[x] / sum) : 0.0;
    }
  }
  return o;
}

// The forward's O is held to 2^-6 per (batch, head) slice and per row of head_dim values
// (bench/impls_attention.cpp): the rounding costs a few times less than that in the worst row,
// causal (rows of few keys) and full, both head dims, GQA, a tail block, rows that see no key.
// (Here 2^-8.5 to 2^-8.4 in the worst row, 2^-9 to 2^-8.8 in the worst slice; the H200 run's slice
// norms were 2^-8.9 to 2^-8.5, ours and cuDNN's alike.)
TEST(AttentionForwardRounding, FitsTheRowAndSliceBoundsWithRoomToSpare) {
  unsigned seed = 201;
  for (const Case& c : {Case{2048, 2048, 128, true, 1, 1}, Case{1000, 1000, 64, false, 2, 1},
                        Case{300, 100, 128, true, 2, 1}}) {
    const Problem p = random_problem(c.seq_q, c.seq_kv, c.d, c.causal, c.hq, c.hkv, seed++);
    Attention fwd = p.op;
    fwd.pass = "fwd";
    const std::vector<double> want = attention_forward_reference(fwd, p.q, p.k, p.v).o, got = emulate_forward_o(p);
    const double rows = worst_slice_norm_error(got, want, 1, c.hq, c.d);
    const double slices = worst_slice_norm_error(got, want, c.seq_q, c.hq, c.d);
    EXPECT_LT(rows, kToleranceFusedO / 4) << op_label(fwd);
    EXPECT_LT(slices, kToleranceFusedO / 4) << op_label(fwd);
    EXPECT_GT(rows, 0x1p-10) << op_label(fwd);  // it does round
  }
}

// One row of O wrong: the slice norm cannot see it where the row is one of many small ones (a
// causal row late in the sequence, which averages many keys), the row norm sees it whole. A row
// that sees no key written as a typical row is caught as well.
TEST(AttentionForwardRounding, TheRowBoundCatchesOneWrongRow) {
  const Problem p = random_problem(2048, 2048, 128, true, 1, 1, 301);
  Attention fwd = p.op;
  fwd.pass = "fwd";
  const std::vector<double> want = attention_forward_reference(fwd, p.q, p.k, p.v).o;
  std::vector<double> got = want;
  std::fill(got.begin() + 2000 * 128, got.begin() + 2001 * 128, 0.0);  // row 2000 never written (zero-filled)
  EXPECT_LT(worst_slice_norm_error(got, want, 2048, 1, 128), kToleranceFusedO);
  EXPECT_NEAR(worst_slice_norm_error(got, want, 1, 1, 128), 1.0, 1e-12);

  const Problem q = random_problem(300, 100, 64, true, 1, 1, 302);  // rows 0-199 see no key
  fwd = q.op;
  fwd.pass = "fwd";
  const std::vector<double> want_q = attention_forward_reference(fwd, q.q, q.k, q.v).o;
  got = want_q;
  std::copy(want_q.begin() + 250 * 64, want_q.begin() + 251 * 64, got.begin() + 10 * 64);  // row 10 given row 250's O
  EXPECT_GT(worst_slice_norm_error(got, want_q, 1, 1, 64), kToleranceFusedO);
}

}  // namespace
}  // namespace trainbench
