// The FP8 GEMM's host-side pieces, without a GPU: the scale formulas against the layouts the
// quantize kernels write, the promotion interval arithmetic, the FP8 operand descriptor against
// the BF16 tile that reads the same bytes, and the impls' registration and fp8 suite.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <tuple>

#include "bench/impls.hpp"
#include "bench/suites.hpp"
#include "kernels/gemm/sm90_tiles.cuh"
#include "kernels/quant/int8_gemm.cuh"
#include "kernels/quant/quantize.cuh"
#include "kernels/quant/scaled_gemm.cuh"

namespace trainbench::kernels {
namespace {

TEST(Fp8Gemm, ActivationScalesIndexQuantizesLayout) {
  for (const int m : {1, 7, 128, 300})
    for (const int k : {16, 128, 144, 1000}) {
      const ScaleStrides s = a_scale_strides(AScale::Group1x128, m);
      std::int64_t top = 0;
      for (int i = 0; i < m; ++i)
        for (int p = 0; p < k; p += 16) {
          EXPECT_EQ(s.index(i, p / 128), static_cast<std::int64_t>(p / 128) * m + i);
          top = std::max(top, s.index(i, p / 128));
        }
      QuantArgs q;
      q.rows = m;
      q.cols = k;
      q.granularity = QuantGranularity::Group1x128;
      EXPECT_EQ(top + 1, quant_scale_count(q)) << m << "x" << k;
    }
}

TEST(Fp8Gemm, WeightScalesIndexQuantizesLayout) {
  for (const int n : {1, 128, 129, 300})
    for (const int k : {16, 128, 144, 1000}) {
      const ScaleStrides s = b_scale_strides(BScale::Block128x128, k);
      std::int64_t top = 0;
      for (int j = 0; j < n; ++j)
        for (int p = 0; p < k; p += 16) {
          EXPECT_EQ(s.index(j, p / 128), static_cast<std::int64_t>(j / 128) * ((k + 127) / 128) + p / 128);
          top = std::max(top, s.index(j, p / 128));
        }
      QuantArgs q;
      q.rows = n;
      q.cols = k;
      q.granularity = QuantGranularity::Block128x128;
      EXPECT_EQ(top + 1, quant_scale_count(q)) << n << "x" << k;
    }
}

TEST(Fp8Gemm, PerTensorAndPerRowScales) {
  EXPECT_EQ(a_scale_strides(AScale::Tensor, 77).index(76, 9), 0);
  EXPECT_EQ(b_scale_strides(BScale::Tensor, 4096).index(300, 31), 0);
  EXPECT_EQ(a_scale_strides(AScale::Row, 77).index(76, 9), 76);
  EXPECT_EQ(b_scale_strides(BScale::Col, 4096).index(300, 31), 300);
}

TEST(Fp8Gemm, PromotionEveryScaleBlock) {
  EXPECT_EQ(kWgmmasPerPromotion * kFp8WgmmaK, kPromotionInterval);
  EXPECT_EQ(kWgmmasPerPromotion, 4);
  EXPECT_EQ(kFp8TileK, kPromotionInterval);  // one stage of the ring is one promotion
  EXPECT_EQ(promotions(16), 1);
  EXPECT_EQ(promotions(128), 1);
  EXPECT_EQ(promotions(144), 2);
  EXPECT_EQ(promotions(16384), 128);
  // The CTA's 128 columns lie in one 128x128 block of b: one b scale per k-block.
  EXPECT_EQ(kFp8TileN, kScaleBlock);
}

TEST(Fp8Gemm, OperandDescriptorReadsWhatTheBf16TileReads) {
  // 128 E4M3 and 64 BF16 are both 128 bytes per row: the k32 FP8 step is the k16 BF16 step.
  using Bf16Tile = Sm90OperandTile<128, true>;
  EXPECT_EQ(kFp8OperandTileBytes, Bf16Tile::kBytes);
  for (const std::uint32_t tile : {0u, 1024u, 32768u})
    for (const int r0 : {0, 64})
      for (int ks = 0; ks < kWgmmasPerPromotion; ++ks)
        EXPECT_EQ(fp8_operand_descriptor(tile, r0, ks), Bf16Tile::descriptor(tile, r0, ks));
}

}  // namespace
}  // namespace trainbench::kernels

namespace trainbench {
namespace {

// Called directly (the impls refuse these first), the kernels' entry points refuse what they
// cannot run before any CUDA call: with k = 0 the consumers would wait for a k-block that never
// comes.
TEST(Fp8Gemm, EntryPointsRefuseEmptyProblems) {
  const kernels::ScaledGemmArgs ok{.m = 128, .n = 128, .k = 128};
  for (const auto& [m, n, k] : {std::tuple{128, 128, 0}, {0, 128, 128}, {128, 0, 128}, {-1, 128, 128}}) {
    kernels::ScaledGemmArgs args = ok;
    args.m = m;
    args.n = n;
    args.k = k;
    for (const auto schedule : {kernels::PromotionSchedule::Serial, kernels::PromotionSchedule::Overlapped})
      EXPECT_THROW(kernels::fp8_gemm_wgmma_sm90(args, schedule, nullptr), std::invalid_argument) << m << "x" << n << "x" << k;
    EXPECT_THROW(kernels::fp8_gemm_wgmma_multicast_sm90(args, nullptr), std::invalid_argument) << m << "x" << n << "x" << k;
  }
}

// A k split the kernels cannot take is refused before any CUDA call, saying what would work:
// more parts than k-blocks, none, no workspace or a misaligned one, the schedule without promotion (its point is the
// whole k in the tensor core), the multicast kernel (no split written).
TEST(Fp8Gemm, EntryPointsRefuseSplitsTheyCannotTake) {
  kernels::ScaledGemmArgs args{.m = 128, .n = 128, .k = 512};  // 4 k-blocks
  float workspace = 0.f;
  args.workspace = &workspace;
  for (const int splits : {5, 0, -1}) {
    args.k_splits = splits;
    EXPECT_THROW(kernels::fp8_gemm_wgmma_sm90(args, kernels::PromotionSchedule::Overlapped, nullptr),
                 std::invalid_argument)
        << splits;
  }
  args.k_splits = 2;
  args.workspace = nullptr;
  try {
    kernels::fp8_gemm_wgmma_sm90(args, kernels::PromotionSchedule::Serial, nullptr);
    ADD_FAILURE() << "a split without a workspace ran";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("131072 bytes"), std::string::npos) << e.what();  // 2 x 128 x 128 x 4
  }
  float unaligned_room[2];
  args.workspace = reinterpret_cast<char*>(unaligned_room) + 2;  // the FP32 parts need 4-byte alignment
  EXPECT_THROW(kernels::fp8_gemm_wgmma_sm90(args, kernels::PromotionSchedule::Serial, nullptr), std::invalid_argument);
  args.workspace = &workspace;
  args.a_scale = kernels::AScale::Tensor;
  args.b_scale = kernels::BScale::Tensor;
  EXPECT_THROW(kernels::fp8_gemm_wgmma_sm90(args, kernels::PromotionSchedule::None, nullptr), std::invalid_argument);
  EXPECT_THROW(kernels::fp8_gemm_wgmma_multicast_sm90(args, nullptr), std::invalid_argument);
  // INT8: 1 to ceil(k / 128) parts, with a workspace.
  args.s8 = true;
  args.a_scale = kernels::AScale::Row;
  args.b_scale = kernels::BScale::Col;
  for (const int splits : {5, 0, -1}) {
    args.k_splits = splits;
    EXPECT_THROW(kernels::int8_gemm_mma_sm80(args, nullptr), std::invalid_argument) << splits;
  }
  args.k_splits = 2;
  args.workspace = nullptr;
  try {
    kernels::int8_gemm_mma_sm80(args, nullptr);
    ADD_FAILURE() << "an INT8 split without a workspace ran";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("131072 bytes"), std::string::npos) << e.what();  // 2 x 128 x 128 x 4
  }
}

// fp8gemm.wgmma_splitk's plan: no split once the tiles fill half the SMs; otherwise as many parts
// as fit in one wave, at most kernels::kMaxKSplits, each of at least kernels::kMinKBlocksPerSplit k-blocks.
TEST(Fp8Gemm, KSplitPlan) {
  EXPECT_EQ(kernels::scaled_gemm_k_splits(56, 128, 132), 2);  // 128 x 7168 x 16384 on an H100 or H200: 112 CTAs
  EXPECT_EQ(kernels::scaled_gemm_k_splits(66, 128, 132), 2);  // exactly one wave
  EXPECT_EQ(kernels::scaled_gemm_k_splits(67, 128, 132), 1);  // over half the SMs already
  EXPECT_EQ(kernels::scaled_gemm_k_splits(1824, 128, 132), 1);
  EXPECT_EQ(kernels::scaled_gemm_k_splits(40, 128, 132), 3);
  EXPECT_EQ(kernels::scaled_gemm_k_splits(1, 128, 132), kernels::kMaxKSplits);
  EXPECT_EQ(kernels::scaled_gemm_k_splits(1, 2 * kernels::kMinKBlocksPerSplit, 132), 2);
  EXPECT_EQ(kernels::scaled_gemm_k_splits(1, 2 * kernels::kMinKBlocksPerSplit - 1, 132), 1);
  EXPECT_EQ(kernels::scaled_gemm_k_splits(8, 128, 0), 1);  // an unknown SM count
  EXPECT_EQ(kernels::scaled_gemm_k_splits(0, 128, 132), 1);
  for (int tiles = 1; tiles < 300; tiles += 7)
    for (const int k_blocks : {1, 7, 8, 16, 33, 128, 512})
      for (const int sms : {1, 8, 78, 108, 114, 132, 144}) {
        const int s = kernels::scaled_gemm_k_splits(tiles, k_blocks, sms);
        EXPECT_GE(s, 1);
        EXPECT_LE(s, kernels::kMaxKSplits);
        EXPECT_LE(s, k_blocks);
        if (s > 1) {
          EXPECT_LE(s * tiles, sms) << "one wave";
          EXPECT_GE(k_blocks / s, kernels::kMinKBlocksPerSplit);
        }
      }
}

// The parts of a split cover every k-block once, in order, each part non-empty and within one
// k-block of the others.
TEST(Fp8Gemm, KSplitRangesCoverEveryKBlockOnce) {
  for (int k_blocks = 1; k_blocks <= 140; ++k_blocks)
    for (int splits = 1; splits <= std::min(k_blocks, 40); ++splits) {
      int next = 0, shortest = k_blocks, longest = 0;
      for (int s = 0; s < splits; ++s) {
        const kernels::KBlockRange r = kernels::k_split_range(s, splits, k_blocks);
        EXPECT_EQ(r.begin, next) << k_blocks << " in " << splits;
        EXPECT_GE(r.count, 1) << k_blocks << " in " << splits;
        next = r.begin + r.count;
        shortest = std::min(shortest, r.count);
        longest = std::max(longest, r.count);
      }
      EXPECT_EQ(next, k_blocks) << k_blocks << " in " << splits;
      EXPECT_LE(longest - shortest, 1) << k_blocks << " in " << splits;
    }
  EXPECT_EQ(kernels::split_k_workspace_bytes(128, 7168, 2), 2u * 128 * 7168 * 4);
  EXPECT_EQ(kernels::split_k_workspace_bytes(128, 7168, 1), 0u);
}

// The quantize impl's limits, on the CPU: cols a multiple of 8 (rows when transposed), said why.
TEST(QuantImpl, UnsupportedShapesSayWhy) {
  register_all_impls();
  const Impl& impl = registry().find("quant.e4m3");
  EXPECT_NE(impl.unsupported(Op{Quantize{16, 100, "1x128", false}}), "");
  EXPECT_NE(impl.unsupported(Op{Quantize{100, 16, "1x128", true}}), "");
  EXPECT_EQ(impl.unsupported(Op{Quantize{100, 16, "1x128", false}}), "");
}

TEST(Fp8Impls, RegisteredWithTheirLimits) {
  register_all_impls();
  const ScaledGemm fine{.m = 1, .n = 3, .k = 16, .dtype = "e4m3", .a_scale = "1x128", .b_scale = "128x128"};
  const ScaledGemm tensor{.m = 16, .n = 32, .k = 16, .dtype = "e4m3", .a_scale = "tensor", .b_scale = "tensor"};
  const Impl& wgmma = registry().find("fp8gemm.wgmma");
  EXPECT_EQ(wgmma.family, "scaled_gemm");
  EXPECT_EQ(wgmma.min_arch, 90);
  EXPECT_EQ(wgmma.max_arch, 90);
  EXPECT_EQ(wgmma.unsupported(fine), "");
  EXPECT_EQ(wgmma.unsupported(tensor), "");
  ScaledGemm bad_k = fine;
  bad_k.k = 100;
  EXPECT_NE(wgmma.unsupported(bad_k), "");
  ScaledGemm s8 = fine;
  s8.dtype = "s8";
  EXPECT_NE(wgmma.unsupported(s8), "");
  // The multicast kernel takes what fp8gemm.wgmma takes: the cluster pairing handles any tile count.
  const Impl& multicast = registry().find("fp8gemm.wgmma_multicast");
  EXPECT_EQ(multicast.family, "scaled_gemm");
  EXPECT_FALSE(multicast.vendor);
  EXPECT_EQ(multicast.min_arch, 90);
  EXPECT_EQ(multicast.max_arch, 90);
  for (const ScaledGemm& g : {fine, tensor, bad_k, s8})
    EXPECT_EQ(multicast.unsupported(g), wgmma.unsupported(g)) << g.m << "x" << g.n << "x" << g.k << " " << g.dtype;
  // The overlapped schedule too: it changes when wgmmas are issued, not what the kernel takes.
  const Impl& overlap = registry().find("fp8gemm.wgmma_overlap");
  EXPECT_FALSE(overlap.vendor);
  EXPECT_EQ(overlap.min_arch, 90);
  EXPECT_EQ(overlap.max_arch, 90);
  for (const ScaledGemm& g : {fine, tensor, bad_k, s8})
    EXPECT_EQ(overlap.unsupported(g), wgmma.unsupported(g)) << g.m << "x" << g.n << "x" << g.k << " " << g.dtype;
  // Splitting k changes how the work is dealt, not what the kernel takes.
  const Impl& splitk = registry().find("fp8gemm.wgmma_splitk");
  EXPECT_FALSE(splitk.vendor);
  EXPECT_EQ(splitk.min_arch, 90);
  EXPECT_EQ(splitk.max_arch, 90);
  for (const ScaledGemm& g : {fine, tensor, bad_k, s8})
    EXPECT_EQ(splitk.unsupported(g), wgmma.unsupported(g)) << g.m << "x" << g.n << "x" << g.k << " " << g.dtype;
  const Impl& nopromote = registry().find("fp8gemm.wgmma_nopromote");
  EXPECT_NE(nopromote.unsupported(fine), "");  // block scales need promotion
  EXPECT_EQ(nopromote.unsupported(tensor), "");
  const Impl& lt = registry().find("fp8gemm.cublaslt");
  EXPECT_TRUE(lt.vendor);
  EXPECT_EQ(lt.unsupported(tensor), "");
  EXPECT_NE(lt.unsupported(fine), "");
  const Impl& blk = registry().find("fp8gemm.cublaslt_blockscaled");
  EXPECT_NE(blk.unsupported(fine), "");  // k = 16: not whole 128-blocks
  EXPECT_EQ(blk.unsupported(ScaledGemm{.m = 16, .n = 16, .k = 256, .dtype = "e4m3", .a_scale = "1x128",
                                       .b_scale = "128x128"}),
            "");
}

TEST(Fp8Impls, SuiteHoldsDeepSeekShapesAndEveryImplTakesItsOps) {
  register_all_impls();
  const Suite& s = find_suite("fp8");
  EXPECT_EQ(s.entries.size(), 16u);  // 8 shapes, fine-grained and per-tensor
  bool saw_largest = false;
  int split = 0;
  for (const auto& e : s.entries) {
    const auto& g = std::get<ScaledGemm>(e.op);
    saw_largest |= g.m == 4096 && g.n == 7168 && g.k == 16384;
    // fp8gemm.wgmma_splitk exactly where it splits on 132 SMs, from the planner itself.
    const bool listed = std::ranges::count(e.impls, std::string("fp8gemm.wgmma_splitk")) == 1;
    const std::uint64_t tiles = kernels::scaled_gemm_tile_count(g.m, g.n);
    const bool splits =
        tiles <= 132 && kernels::scaled_gemm_k_splits(static_cast<int>(tiles), kernels::scale_blocks(static_cast<int>(g.k)), 132) > 1;
    EXPECT_EQ(listed, splits) << op_label(e.op);
    EXPECT_EQ(listed, splits_k_on_132_sms(g.m, g.n, g.k)) << op_label(e.op);
    split += listed;
    for (const auto& name : e.impls) EXPECT_EQ(registry().find(name).unsupported(e.op), "") << name << " " << op_label(e.op);
  }
  EXPECT_TRUE(saw_largest);
  EXPECT_EQ(split, 2);  // 128 x 7168 x 16384 (56 tiles), with both kinds of scales
  EXPECT_EQ(kernels::scaled_gemm_tile_count(128, 7168), 56u);
}

}  // namespace
}  // namespace trainbench
