// The attention impls' host side, without a GPU: the block arithmetic the kernels share
// (visible keys, causal block skipping, which blocks need an element mask), what each impl
// accepts and why it refuses, and the attention suite.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <queue>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "bench/attention_oracle.hpp"
#include "bench/cudnn_attention.hpp"
#include "bench/impls.hpp"
#include "bench/suites.hpp"
#include "kernels/attention/attention.cuh"

namespace trainbench {
namespace {

using kernels::attention_first_masked_block;
using kernels::attention_first_row_seeing;
using kernels::attention_kv_block_end;
using kernels::attention_visible_keys;

TEST(AttentionBlocks, VisibleKeysAreBottomRightAligned) {
  EXPECT_EQ(attention_visible_keys(0, 100, 100, false), 100);
  EXPECT_EQ(attention_visible_keys(0, 100, 100, true), 1);
  EXPECT_EQ(attention_visible_keys(99, 100, 100, true), 100);
  EXPECT_EQ(attention_visible_keys(0, 10, 30, true), 21);   // seq_kv > seq_q: the first row sees 21 keys
  EXPECT_EQ(attention_visible_keys(0, 30, 10, true), 0);    // seq_q > seq_kv: the first 20 rows see none
  EXPECT_EQ(attention_visible_keys(19, 30, 10, true), 0);
  EXPECT_EQ(attention_visible_keys(20, 30, 10, true), 1);
  EXPECT_EQ(attention_visible_keys(29, 30, 10, true), 10);
}

// Brute force over shapes, row blocks and both masks: the kernels visit exactly the key blocks
// some row sees, and skip the element mask only where no row of the block needs it.
TEST(AttentionBlocks, SkippingAndMaskingRangesAreExact) {
  constexpr int kBlockM = kernels::kAttentionFwdMmaBlockM, kBlockN = kernels::kAttentionFwdMmaBlockN;
  int checked = 0;
  for (const int seq_q : {1, 17, 64, 127, 128, 129, 300, 1000})
    for (const int seq_kv : {1, 63, 64, 65, 128, 300, 1000})
      for (const bool causal : {false, true})
        for (int row0 = 0; row0 < seq_q; row0 += kBlockM) {
          const int rows_end = std::min(row0 + kBlockM, seq_q);
          const int end = attention_kv_block_end(row0, kBlockM, kBlockN, seq_q, seq_kv, causal);
          const int first_masked = attention_first_masked_block(row0, kBlockN, seq_q, seq_kv, causal);
          int max_visible = 0;
          for (int i = row0; i < rows_end; ++i)
            max_visible = std::max(max_visible, attention_visible_keys(i, seq_q, seq_kv, causal));
          // Every visible key lies in a visited block, and the last visited block holds one.
          EXPECT_LE(max_visible, end * kBlockN);
          if (end > 0) {
            EXPECT_GT(max_visible, (end - 1) * kBlockN) << seq_q << " " << seq_kv << " " << row0;
          } else {
            EXPECT_EQ(max_visible, 0);
          }
          EXPECT_LE(end, (seq_kv + kBlockN - 1) / kBlockN);
          // Blocks before first_masked: every key exists and every row of the block sees it.
          for (int n = 0; n < std::min(first_masked, end); ++n)
            for (int i = row0; i < rows_end; ++i)
              EXPECT_GE(attention_visible_keys(i, seq_q, seq_kv, causal), (n + 1) * kBlockN)
                  << seq_q << " " << seq_kv << " row " << i << " block " << n;
          // The first masked block (when visited) does hide a key from the block's first row.
          if (first_masked < end) {
            EXPECT_LT(attention_visible_keys(row0, seq_q, seq_kv, causal), (first_masked + 1) * kBlockN);
          }
          ++checked;
        }
  EXPECT_GT(checked, 200);
}

TEST(AttentionBlocks, FirstRowSeeingAKeyBlock) {
  for (const int seq_q : {1, 50, 300})
    for (const int seq_kv : {1, 50, 300})
      for (const bool causal : {false, true})
        for (int key0 = 0; key0 < seq_kv; key0 += 64) {
          const int first = attention_first_row_seeing(key0, seq_q, seq_kv, causal);
          for (int i = 0; i < std::min(first, seq_q); ++i)
            EXPECT_LE(attention_visible_keys(i, seq_q, seq_kv, causal), key0) << "row " << i << " sees key " << key0;
          if (first < seq_q) {
            EXPECT_GT(attention_visible_keys(first, seq_q, seq_kv, causal), key0);
          }
        }
}

// Every kernel deals its CTAs as attention_work_item: each (rank, head, batch) exactly once;
// causal, rank-major with the heads inner (the longest blocks first); full, head-major (a head's
// blocks side by side, sharing its K and V in L2).
TEST(AttentionOrder, WorkItemsCoverEveryBlockOnceLongestFirstWhenCausal) {
  struct Grid {
    int blocks, heads, batches;
  };
  for (const Grid g : {Grid{64, 8, 1}, Grid{4, 16, 32}, Grid{7, 3, 5}, Grid{1, 1, 1}, Grid{5, 1, 2}})
    for (const bool causal : {false, true}) {
      const int items = g.blocks * g.heads * g.batches;
      std::set<std::tuple<int, int, int>> seen;
      for (int t = 0; t < items; ++t) {
        const kernels::AttentionWorkItem w = kernels::attention_work_item(t, g.blocks, g.heads, g.batches, causal);
        ASSERT_TRUE(w.rank >= 0 && w.rank < g.blocks && w.head >= 0 && w.head < g.heads && w.batch >= 0 &&
                    w.batch < g.batches)
            << t;
        EXPECT_TRUE(seen.insert({w.rank, w.head, w.batch}).second) << "item " << t << " twice";
        if (t == 0) continue;
        const kernels::AttentionWorkItem before =
            kernels::attention_work_item(t - 1, g.blocks, g.heads, g.batches, causal);
        if (causal) {
          EXPECT_LE(before.rank, w.rank) << "causal: the longest blocks of every head first";
          if (before.rank == w.rank && before.batch == w.batch) {
            EXPECT_EQ(before.head + 1, w.head) << "heads inner, side by side";
          }
        } else if (before.head == w.head && before.batch == w.batch) {
          EXPECT_EQ(before.rank + 1, w.rank) << "full: a head's blocks consecutive";
        } else {
          EXPECT_EQ(w.rank, 0);
        }
      }
      EXPECT_EQ(static_cast<int>(seen.size()), items);
    }
}

// The hardware's dealing of a grid, one CTA per SM: CTA i starts on the first SM to come free,
// in index order. Returns the last SM's finishing time over the mean's.
double greedy_imbalance(const std::vector<double>& work, int sms) {
  std::priority_queue<double, std::vector<double>, std::greater<>> free_at;
  for (int i = 0; i < sms; ++i) free_at.push(0.0);
  double total = 0, last = 0;
  for (const double w : work) {
    const double end = free_at.top() + w;
    free_at.pop();
    free_at.push(end);
    total += w;
    last = std::max(last, end);
  }
  return last / (total / sms);
}

// Work per CTA, in key blocks (+1 for its start and end): the forward's query blocks of block_m
// rows, the backward's key blocks of block_n keys stepping over query blocks of block_m rows.
std::vector<double> forward_work(const kernels::AttentionShape& s, int block_m, int block_n, bool ranked) {
  const int blocks = kernels::attention_ceil_div(s.seq_q, block_m);
  std::vector<double> work;
  for (int t = 0; t < blocks * s.heads_q * s.batch; ++t) {
    const int rank = kernels::attention_work_item(t, blocks, s.heads_q, s.batch, ranked && s.causal).rank;
    work.push_back(1 + attention_kv_block_end((blocks - 1 - rank) * block_m, block_m, block_n, s.seq_q, s.seq_kv,
                                              s.causal));
  }
  return work;
}
std::vector<double> backward_work(const kernels::AttentionShape& s, int heads, int block_m, int block_n,
                                  bool ranked) {
  const int blocks = kernels::attention_ceil_div(s.seq_kv, block_n), m_end = kernels::attention_ceil_div(s.seq_q, block_m);
  std::vector<double> work;
  for (int t = 0; t < blocks * heads * s.batch; ++t) {
    const int rank = kernels::attention_work_item(t, blocks, heads, s.batch, ranked && s.causal).rank;
    work.push_back(1 + m_end - attention_first_row_seeing(rank * block_n, s.seq_q, s.seq_kv, s.causal) / block_m);
  }
  return work;
}

// Llama 3 70B and 405B per GPU at TP = 8 (8 and 16 query heads, one KV head, seq 8192, causal) on
// 132 SMs: head-major dealing left the longest SM at 1.23 and 1.12 times the mean's work in the
// forward; ranked, within 3% in every kernel (both backward kernels run a CTA per query head: one
// per KV head left attention.bwd.mma 128 CTAs at 2.0 there). Full attention is head-major either
// way.
TEST(AttentionOrder, RankedDealingBalancesCausalGridsOnAnH100) {
  constexpr int kSms = 132;
  const kernels::AttentionShape llama70{1, 8, 1, 8192, 8192, 128, true}, llama405{1, 16, 1, 8192, 8192, 128, true};
  const int fwd_n = kernels::attention_fwd_wgmma_block_n(128, true);
  EXPECT_GT(greedy_imbalance(forward_work(llama70, 128, fwd_n, false), kSms), 1.2);
  EXPECT_GT(greedy_imbalance(forward_work(llama405, 128, fwd_n, false), kSms), 1.1);
  for (const kernels::AttentionShape& s :
       {llama70, llama405, kernels::AttentionShape{2, 16, 16, 8192, 8192, 128, true},
        kernels::AttentionShape{32, 16, 16, 512, 512, 128, true}, kernels::AttentionShape{1, 32, 32, 16384, 16384, 64, true}}) {
    const std::string at = std::to_string(s.heads_q) + " heads, seq " + std::to_string(s.seq_q);
    EXPECT_LT(greedy_imbalance(forward_work(s, kernels::kAttentionFwdMmaBlockM, kernels::kAttentionFwdMmaBlockN, true), kSms),
              1.03)
        << "attention.fwd.mma, " << at;
    EXPECT_LT(greedy_imbalance(forward_work(s, kernels::kAttentionFwdMma256BlockM, s.head_dim == 128 ? 32 : 64, true),
                               kSms),
              1.04)
        << "attention.fwd.mma_256, " << at;
    EXPECT_LT(greedy_imbalance(forward_work(s, kernels::attention_fwd_wgmma_block_m(s.head_dim),
                                            kernels::attention_fwd_wgmma_block_n(s.head_dim, s.causal), true),
                               kSms),
              1.03)
        << "attention.fwd.wgmma, " << at;
    EXPECT_LT(greedy_imbalance(backward_work(s, s.heads_q, kernels::kAttentionBwdMmaBlockM,
                                             kernels::kAttentionBwdMmaBlockN, true),
                               kSms),
              1.03)
        << "attention.bwd.mma, " << at;
    EXPECT_LT(greedy_imbalance(backward_work(s, s.heads_q, kernels::kAttentionBwdMmaBlockM,
                                             kernels::kAttentionBwdMma128BlockN, true),
                               kSms),
              1.03)
        << "attention.bwd.mma_128, " << at;
    EXPECT_LT(greedy_imbalance(backward_work(s, s.heads_q, kernels::attention_bwd_wgmma_block_m(s.head_dim),
                                             kernels::kAttentionBwdWgmmaBlockN, true),
                               kSms),
              1.03)
        << "attention.bwd.wgmma, " << at;
  }
}

Attention attention(std::uint64_t seq, std::uint64_t head_dim, const char* pass, std::uint64_t batch = 1) {
  return Attention{.batch = batch, .heads_q = 16, .heads_kv = 16, .seq_q = seq, .seq_kv = seq, .head_dim = head_dim,
                   .causal = true, .pass = pass};
}

TEST(AttentionImpls, RegisteredWithWhatTheyRefuseAndWhy) {
  register_all_impls();
  const Impl& fwd = registry().find("attention.fwd.mma");
  const Impl& fwd256 = registry().find("attention.fwd.mma_256");
  const Impl& ref = registry().find("attention.reference");
  for (const Impl* impl : {&fwd, &fwd256, &ref}) {
    EXPECT_EQ(impl->family, "attention");
    EXPECT_EQ(impl->min_arch, 80);
    EXPECT_FALSE(impl->vendor);
  }
  EXPECT_EQ(fwd.unsupported(attention(1000, 128, "fwd")), "");
  EXPECT_EQ(fwd.unsupported(attention(1, 64, "fwd")), "");
  EXPECT_NE(fwd.unsupported(attention(1024, 96, "fwd")).find("head_dim must be 64 or 128"), std::string::npos);
  EXPECT_NE(fwd.unsupported(attention(1024, 128, "bwd")).find("forward pass only"), std::string::npos);
  EXPECT_EQ(fwd256.unsupported(attention(1000, 128, "fwd")), "");
  EXPECT_NE(fwd256.unsupported(attention(1024, 96, "fwd")).find("head_dim must be 64 or 128"), std::string::npos);
  EXPECT_NE(fwd256.unsupported(attention(1024, 128, "bwd")).find("forward pass only"), std::string::npos);
  Attention gqa = attention(1024, 128, "fwd");
  gqa.heads_kv = 3;
  EXPECT_NE(fwd.unsupported(gqa).find("must divide"), std::string::npos);
  EXPECT_NE(ref.unsupported(attention(0, 128, "fwd")).find("positive"), std::string::npos);
  // 16 heads of 8192^2 FP32 scores are 4 GiB: twice that (the backward) is at the limit, one more
  // sequence of them over it.
  EXPECT_EQ(ref.unsupported(attention(8192, 128, "fwd", 2)), "");
  EXPECT_EQ(ref.unsupported(attention(8192, 128, "bwd", 1)), "");
  EXPECT_NE(ref.unsupported(attention(8192, 128, "bwd", 2)).find("GiB limit"), std::string::npos);
  EXPECT_NE(ref.unsupported(attention(16384, 128, "fwd", 1)).find("16.0 GiB"), std::string::npos);
}

TEST(AttentionImpls, WgmmaForwardRunsOnSm90aOnlyAndSaysWhatElseItRefuses) {
  register_all_impls();
  const Impl& wgmma = registry().find("attention.fwd.wgmma");
  EXPECT_EQ(wgmma.family, "attention");
  EXPECT_FALSE(wgmma.vendor);
  EXPECT_EQ(wgmma.min_arch, 90);
  EXPECT_EQ(wgmma.max_arch, 90);  // sm_90a machine code runs on no later chip
  DeviceInfo device;
  for (const auto& [major, minor] : {std::pair{8, 0}, {8, 9}, {10, 0}, {12, 0}}) {
    device.cc_major = major;
    device.cc_minor = minor;
    EXPECT_NE(unavailable_reason(wgmma, device).find("needs sm_90a"), std::string::npos) << major << minor;
  }
  device.cc_major = 9;
  device.cc_minor = 0;
  EXPECT_EQ(unavailable_reason(wgmma, device), "");
  // The shapes attention.fwd.mma takes, tails and single rows included.
  EXPECT_EQ(wgmma.unsupported(attention(1000, 128, "fwd")), "");
  EXPECT_EQ(wgmma.unsupported(attention(1, 64, "fwd")), "");
  EXPECT_NE(wgmma.unsupported(attention(1024, 96, "fwd")).find("head_dim must be 64 or 128"), std::string::npos);
  EXPECT_NE(wgmma.unsupported(attention(1024, 128, "bwd")).find("forward pass only"), std::string::npos);
  Attention gqa = attention(1024, 64, "fwd");
  gqa.heads_kv = 3;
  EXPECT_NE(wgmma.unsupported(gqa).find("must divide"), std::string::npos);
  gqa.heads_kv = 1;
  EXPECT_EQ(wgmma.unsupported(gqa), "");
}

TEST(AttentionImpls, BackwardMmaTakesTheBackwardAtTheForwardsHeadDims) {
  register_all_impls();
  const Impl& bwd = registry().find("attention.bwd.mma");
  EXPECT_EQ(bwd.family, "attention");
  EXPECT_EQ(bwd.min_arch, 80);
  EXPECT_FALSE(bwd.vendor);
  EXPECT_EQ(bwd.unsupported(attention(1000, 128, "bwd")), "");
  EXPECT_EQ(bwd.unsupported(attention(1, 64, "bwd")), "");
  EXPECT_EQ(bwd.unsupported(attention(16384, 128, "bwd", 4)), "");  // no score matrix: any length
  EXPECT_NE(bwd.unsupported(attention(1024, 96, "bwd")).find("head_dim must be 64 or 128"), std::string::npos);
  EXPECT_NE(bwd.unsupported(attention(1024, 128, "fwd")).find("backward pass only"), std::string::npos);

  // attention.bwd.mma_128: the same shapes; its 145 KiB a block at head_dim 128, which an L40S
  // (sm_89, 99 KiB) does not give and an A100 or H100 does, and 81 KiB at 64, which all give.
  const Impl& bwd128 = registry().find("attention.bwd.mma_128");
  EXPECT_EQ(bwd128.unsupported(attention(1000, 128, "bwd")), "");
  EXPECT_NE(bwd128.unsupported(attention(1024, 96, "bwd")).find("head_dim must be 64 or 128"), std::string::npos);
  EXPECT_NE(bwd128.unsupported(attention(1024, 128, "fwd")).find("backward pass only"), std::string::npos);
  EXPECT_EQ(bwd128.min_smem_per_block, 82944u);
  ASSERT_TRUE(bwd128.smem_per_block);
  EXPECT_EQ(bwd128.smem_per_block(attention(1000, 128, "bwd")), 148480u);
  EXPECT_EQ(bwd128.smem_per_block(attention(1000, 64, "bwd")), 82944u);
  DeviceInfo device;
  device.name = "NVIDIA L40S";
  device.cc_major = 8;
  device.cc_minor = 9;
  device.smem_per_block_optin = 101376;
  EXPECT_EQ(unavailable_reason(bwd128, device), "");
  EXPECT_EQ(unavailable_at_op_reason(bwd128, attention(1000, 64, "bwd"), device), "");
  const std::string why = unavailable_at_op_reason(bwd128, attention(1000, 128, "bwd"), device);
  EXPECT_NE(why.find("148480 bytes of shared memory per block at this shape"), std::string::npos) << why;
  EXPECT_NE(why.find("NVIDIA L40S, sm_89) allows 101376"), std::string::npos) << why;
  EXPECT_EQ(unavailable_reason(bwd, device), "");
  EXPECT_EQ(unavailable_at_op_reason(bwd, attention(1000, 128, "bwd"), device), "");
  device.smem_per_block_optin = 65536;  // less than any GPU of sm_80 or later gives: refused outright
  EXPECT_NE(unavailable_reason(bwd128, device).find("82944 bytes of shared memory"), std::string::npos);
  for (const auto& [major, optin] : {std::pair{8, 166912}, {9, 232448}}) {
    device.cc_major = major;
    device.cc_minor = 0;
    device.smem_per_block_optin = static_cast<std::uint64_t>(optin);
    EXPECT_EQ(unavailable_reason(bwd128, device), "") << major;
    EXPECT_EQ(unavailable_at_op_reason(bwd128, attention(1000, 128, "bwd"), device), "") << major;
  }
}

// attention.cudnn: the vendor baseline of both passes, at every shape the op allows (what the
// loaded cuDNN cannot run, it says when the plans are built); a build without cuDNN or its
// frontend headers keeps it listed, unavailable on every GPU with what to install.
TEST(AttentionImpls, CudnnTakesBothPassesAndIsUnavailableOnlyWhereTheBuildLacksIt) {
  register_all_impls();
  const Impl& cudnn = registry().find("attention.cudnn");
  EXPECT_EQ(cudnn.family, "attention");
  EXPECT_TRUE(cudnn.vendor);
  EXPECT_EQ(cudnn.min_arch, 80);
  EXPECT_EQ(cudnn.max_arch, 0);
  for (const char* pass : {"fwd", "bwd"})
    for (const std::uint64_t d : {64, 128}) {
      EXPECT_EQ(cudnn.unsupported(attention(1000, d, pass)), "") << pass << d;
      // One key and one row left: the frontend's backward refuses it, the forward takes it.
      EXPECT_EQ(cudnn.unsupported(attention(1, d, pass)).empty(), std::string(pass) == "fwd") << pass << d;
      Attention one_key = attention(200, d, pass);
      one_key.seq_kv = 1;
      EXPECT_EQ(cudnn.unsupported(one_key).empty(), std::string(pass) == "fwd") << pass << d;
      one_key.causal = false;
      EXPECT_EQ(cudnn.unsupported(one_key), "") << pass << d;
      EXPECT_EQ(cudnn.unsupported(attention(16384, d, pass, 4)), "") << pass << d;
      Attention mqa = attention(8192, d, pass);
      mqa.heads_kv = 1;
      EXPECT_EQ(cudnn.unsupported(mqa), "") << pass << d;
      Attention no_key_rows = attention(300, d, pass);  // causal, its first 235 rows see no key
      no_key_rows.seq_kv = 65;
      EXPECT_EQ(cudnn.unsupported(no_key_rows), "") << pass << d;
    }
  Attention gqa = attention(1024, 128, "fwd");
  gqa.heads_kv = 3;
  EXPECT_NE(cudnn.unsupported(gqa).find("must divide"), std::string::npos);
  EXPECT_NE(cudnn.unsupported(attention(1024, 100, "bwd")).find("multiple of 8"), std::string::npos);

  EXPECT_EQ(cudnn.missing, cudnn_attention_missing());
  DeviceInfo device;
  device.cc_major = 9;
  EXPECT_EQ(unavailable_reason(cudnn, device), cudnn.missing);
  if (!cudnn.missing.empty()) {
    EXPECT_NE(cudnn.missing.find("pip install"), std::string::npos) << cudnn.missing;
  }
  device.cc_major = 7;
  device.cc_minor = 5;
  EXPECT_NE(unavailable_reason(cudnn, device), "");
}

// The backward's scratch: dQ's FP32 accumulator, then the LSE and D per (batch, head) padded to
// whole query blocks of every version (64 and 128 rows), every part 16-byte aligned (cp.async and
// the bulk copies read the LSE and D in 16-byte units); under GQA, FP32 dK and dV accumulators
// (both backward kernels then run a CTA per query head), and nothing without it.
TEST(AttentionBlocks, BackwardWorkspaceLayout) {
  constexpr int kPad = kernels::kAttentionBwdRowPadding;
  EXPECT_EQ(kPad % kernels::kAttentionBwdMmaBlockM, 0);
  EXPECT_EQ(kPad % kernels::attention_bwd_wgmma_block_m(64), 0);
  EXPECT_EQ(kPad % kernels::attention_bwd_wgmma_block_m(128), 0);
  for (const int seq_q : {1, 63, 64, 65, 300, 8192})
    for (const int d : {64, 128}) {
      const kernels::AttentionShape s{.batch = 3, .heads_q = 8, .heads_kv = 2, .seq_q = seq_q, .seq_kv = 77,
                                      .head_dim = d, .causal = true};
      const auto w = kernels::attention_bwd_workspace(s);
      const std::size_t padded = std::size_t((seq_q + kPad - 1) / kPad * kPad);
      EXPECT_EQ(w.seq_q_padded, padded);
      EXPECT_GE(w.seq_q_padded, std::size_t(seq_q));
      EXPECT_EQ(w.lse_log2_offset, 3u * seq_q * 8 * d * 4);  // dQ accumulator, shaped like Q, FP32
      EXPECT_EQ(w.d_offset, w.lse_log2_offset + 3u * 8 * padded * 4);
      EXPECT_EQ(w.lse_log2_offset % 16, 0u);
      EXPECT_EQ(w.d_offset % 16, 0u);
      // A query block's LSE (or D) starts 16-byte aligned: whole blocks of floats.
      EXPECT_EQ(padded * 4 % 16, 0u);
      // Under GQA, dK and dV (B, Sk, Hkv, D) in FP32 follow; without it, nothing.
      EXPECT_EQ(w.dk_offset, w.d_offset + 3u * 8 * padded * 4);
      EXPECT_EQ(w.dv_offset, w.dk_offset + 3u * 77 * 2 * d * 4);
      EXPECT_EQ(w.bytes, w.dv_offset + 3u * 77 * 2 * d * 4);
      EXPECT_EQ(w.dk_offset % 16, 0u);
      EXPECT_EQ(w.dv_offset % 16, 0u);
      kernels::AttentionShape mha = s;
      mha.heads_kv = mha.heads_q;
      const auto m = kernels::attention_bwd_workspace(mha);
      EXPECT_EQ(m.bytes, w.dk_offset);
      EXPECT_EQ(m.dk_offset, 0u);
      EXPECT_EQ(m.dv_offset, 0u);
    }
}

// The query blocks a backward CTA visits for its key block: from the block holding the first
// row that sees any of its keys to the last; every (row, key) pair a row sees is visited.
TEST(AttentionBlocks, BackwardVisitsEveryQueryBlockThatSeesTheKeys) {
  constexpr int kBlockM = kernels::kAttentionBwdMmaBlockM, kBlockN = kernels::kAttentionBwdMmaBlockN;
  for (const int seq_q : {1, 17, 64, 65, 130, 300})
    for (const int seq_kv : {1, 63, 64, 65, 100, 300})
      for (const bool causal : {false, true})
        for (int n0 = 0; n0 < seq_kv; n0 += kBlockN) {
          const int m_begin = attention_first_row_seeing(n0, seq_q, seq_kv, causal) / kBlockM;
          for (int i = 0; i < seq_q; ++i) {
            const bool sees_block = attention_visible_keys(i, seq_q, seq_kv, causal) > n0;
            if (sees_block) {
              EXPECT_GE(i / kBlockM, m_begin) << seq_q << " " << seq_kv << " row " << i << " keys " << n0;
            }
          }
        }
}

// attention.bwd.wgmma's blocking: CTAs of 128 keys, each consumer 64 of them, steps over query
// blocks of kBlockM rows (64 at head_dim 128, 128 at 64) from the block of the first row that sees
// the CTA's first key. Every pair (row, key) that a row sees lies in exactly one visited tile, and
// a tile that skips the element mask holds only visible pairs.
TEST(AttentionBlocks, WgmmaBackwardTilesCoverEveryVisiblePairOnceAndMaskWhereNeeded) {
  constexpr int kBlockN = kernels::kAttentionBwdWgmmaBlockN;
  for (const int block_m : {kernels::attention_bwd_wgmma_block_m(128), kernels::attention_bwd_wgmma_block_m(64)})
    for (const int seq_q : {1, 17, 64, 65, 130, 300})
      for (const int seq_kv : {1, 63, 64, 65, 100, 129, 300})
        for (const bool causal : {false, true}) {
          std::vector<int> visits(std::size_t(seq_q) * std::size_t(seq_kv), 0);
          for (int n0 = 0; n0 < seq_kv; n0 += kBlockN) {
            const int m_begin = attention_first_row_seeing(n0, seq_q, seq_kv, causal) / block_m;
            const int m_end = kernels::attention_ceil_div(seq_q, block_m);
            for (int consumer = 0; consumer < 2; ++consumer) {
              const int key0 = n0 + 64 * consumer;
              for (int m = m_begin; m < m_end; ++m) {
                const bool masked = kernels::attention_bwd_tile_needs_mask(m * block_m, key0, 64, seq_q, seq_kv, causal);
                for (int i = m * block_m; i < std::min((m + 1) * block_m, seq_q); ++i)
                  for (int j = key0; j < key0 + 64; ++j) {
                    const bool visible = j < attention_visible_keys(i, seq_q, seq_kv, causal);
                    if (!masked) {
                      ASSERT_TRUE(visible) << "unmasked tile holds an invisible pair: " << seq_q << " " << seq_kv << " "
                                           << causal << " row " << i << " key " << j;
                    }
                    if (visible) ++visits[std::size_t(i) * std::size_t(seq_kv) + std::size_t(j)];
                  }
              }
            }
          }
          for (int i = 0; i < seq_q; ++i)
            for (int j = 0; j < seq_kv; ++j)
              ASSERT_EQ(visits[std::size_t(i) * std::size_t(seq_kv) + std::size_t(j)],
                        j < attention_visible_keys(i, seq_q, seq_kv, causal) ? 1 : 0)
                  << block_m << ": " << seq_q << " " << seq_kv << " " << causal << " row " << i << " key " << j;
        }
}

TEST(AttentionOracleSizes, ChunksOfWholeHeadsUnderTheBudget) {
  const Attention a = attention(1024, 128, "bwd", 4);  // 64 heads of 8 MiB (P and dS)
  EXPECT_DOUBLE_EQ(AttentionOracle::score_bytes(a), 64.0 * 1024 * 1024 * 4 * 2);
  EXPECT_EQ(AttentionOracle::heads_per_chunk(a, 1ull << 30), 64u);
  EXPECT_EQ(AttentionOracle::heads_per_chunk(a, 80ull << 20), 10u);
  EXPECT_EQ(AttentionOracle::heads_per_chunk(a, 1), 1u);  // never fewer than one head
}

TEST(AttentionSuite, CoversTheSweepAndLlamaShapesWithImplsThatTakeThem) {
  register_all_impls();
  const Suite& s = find_suite("attention");
  int fwd = 0, bwd = 0, llama = 0, with_reference = 0;
  for (const auto& e : s.entries) {
    const auto& a = std::get<Attention>(e.op);
    ASSERT_FALSE(e.impls.empty());
    for (const auto& name : e.impls)
      EXPECT_EQ(registry().find(name).unsupported(e.op), "") << name << " in suite attention at " << op_label(e.op);
    for (const char* fused : {a.pass == "fwd" ? "attention.fwd.mma" : "attention.bwd.mma",
                              a.pass == "fwd" ? "attention.fwd.mma_256" : "attention.bwd.mma_128",
                              a.pass == "fwd" ? "attention.fwd.wgmma" : "attention.bwd.wgmma",
                              a.pass == "fwd" ? "attention.fwd.wgmma_persistent" : "attention.bwd.wgmma"})
      EXPECT_NE(std::find(e.impls.begin(), e.impls.end(), fused), e.impls.end()) << fused << " " << op_label(e.op);
    const bool has_reference = std::find(e.impls.begin(), e.impls.end(), "attention.reference") != e.impls.end();
    with_reference += has_reference;
    EXPECT_EQ(has_reference, AttentionOracle::score_bytes(a) <= kAttentionReferenceMaxScoreBytes) << op_label(e.op);
    if (a.heads_kv == 1) {
      ++llama;
      EXPECT_EQ(a.seq_q, 8192u);
      EXPECT_TRUE(a.heads_q == 8 || a.heads_q == 16);
    } else {
      EXPECT_EQ(a.batch * a.seq_q, 16384u) << op_label(e.op);
    }
    (a.pass == "fwd" ? fwd : bwd)++;
  }
  // Each pass: 2 head layouts x 2 masks x 6 lengths, plus 2 Llama shapes; every entry has the
  // fused kernels of its pass (mma.sync and wgmma).
  EXPECT_EQ(fwd, 2 * 2 * 6 + 2);
  EXPECT_EQ(bwd, 2 * 2 * 6 + 2);
  EXPECT_GE(llama, 2);
  EXPECT_GT(with_reference, 0);
  EXPECT_LT(with_reference, int(s.entries.size()));
}

// Every table of attention numbers, quick included, shows the vendor baseline beside ours; the
// quick suite times both passes.
TEST(AttentionSuite, EveryAttentionEntryOfEverySuiteListsCudnn) {
  int entries = 0;
  std::set<std::string> quick_passes;
  for (const auto& e : find_suite("quick").entries)
    if (op_family(e.op) == "attention") quick_passes.insert(std::get<Attention>(e.op).pass);
  EXPECT_EQ(quick_passes, (std::set<std::string>{"fwd", "bwd"}));
  for (const auto& suite : suites())
    for (const auto& e : suite.entries)
      if (op_family(e.op) == "attention") {
        ++entries;
        EXPECT_NE(std::find(e.impls.begin(), e.impls.end(), "attention.cudnn"), e.impls.end())
            << suite.name << " " << op_label(e.op);
      }
  EXPECT_GT(entries, 0);
}

}  // namespace
}  // namespace trainbench
