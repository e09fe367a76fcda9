// The FP8 GEMM impls against the dequantized oracle at awkward shapes (tails in m and n, k not a
// multiple of 128, one tile and many), promotion lowering the error at k = 16384, an unwritten
// output caught by the poison, and the accuracy benchmarks' rule on the unpromoted kernel.
#include <gtest/gtest.h>

#include <cuda_bf16.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "bench/fp8_inputs.hpp"
#include "bench/impls.hpp"
#include "harness/device.hpp"
#include "harness/device_buffer.hpp"
#include "harness/error.hpp"
#include "harness/measure.hpp"
#include "harness/verify.hpp"
#include "kernels/quant/quantize.cuh"
#include "kernels/quant/scaled_gemm.cuh"
#include "tests/gpu_skip.hpp"
#include "tests/gpu_test_support.hpp"

namespace trainbench {
namespace {

using testing::Stream;
using testing::verify_once;

struct Shape {
  std::uint64_t m, n, k;
};
// Tails in m and n of every size class, k a multiple of 16 but not of 128, a single k-block,
// and 2056 x 4104 (17 x 33 tiles: more than any GPU has SMs, so persistent CTAs run several
// tiles and the 6-stage ring wraps in mid-tile). For fp8gemm.wgmma_multicast, 1, 3 and 33 tiles
// along n leave the second tile of a 2-CTA pair off the matrix (computed, not stored). 256 x 384
// x 640 is 3 x 5 blocks of 128x128 scales, 5 not a multiple of 4: of the shapes cuBLASLt's
// block-scaled mode takes (multiples of 16 and 128), the one whose scale grid tells a transposed
// or unpadded order from the right one (a single block row or column does not). 128 x 7168 x 2048
// is 56 tiles, fewer than half of an H100's SMs: the shape class fp8gemm.wgmma_splitk's planner
// splits (in 2 parts of 8 k-blocks on 132 SMs).
const Shape kShapes[] = {{1, 3, 16},       {16, 16, 128},   {136, 264, 144},   {200, 136, 1008},
                         {256, 128, 4096}, {256, 384, 640}, {1000, 1008, 992}, {2056, 4104, 384},
                         {128, 7168, 2048}};

class Fp8Impl : public ::testing::TestWithParam<std::string> {};

TEST_P(Fp8Impl, VerifiesAgainstTheDequantizedOracleAtAwkwardShapes) {
  TB_REQUIRE_GPU();
  register_all_impls();
  const Impl& impl = registry().find(GetParam());
  const Device device(0);
  if (const auto why = unavailable_reason(impl, device.info()); !why.empty()) GTEST_SKIP() << impl.name << ": " << why;
  const Stream stream;
  int verified = 0;
  for (const Shape& s : kShapes)
    for (const bool fine : {true, false}) {
      const ScaledGemm g{.m = s.m, .n = s.n, .k = s.k, .dtype = "e4m3", .a_scale = fine ? "1x128" : "tensor",
                         .b_scale = fine ? "128x128" : "tensor"};
      if (!impl.unsupported(Op{g}).empty()) continue;
      const Verification v = verify_once(impl, g, true, stream);
      EXPECT_TRUE(v.error <= v.tolerance) << impl.name << " " << op_label(Op{g}) << ": error " << v.error
                                          << " > " << v.tolerance << " (" << v.detail << ")";
      ++verified;
    }
  EXPECT_GT(verified, 0) << impl.name << " took none of the shapes";
}

INSTANTIATE_TEST_SUITE_P(All, Fp8Impl,
                         ::testing::Values("fp8gemm.wgmma", "fp8gemm.wgmma_overlap", "fp8gemm.wgmma_splitk",
                                           "fp8gemm.wgmma_nopromote",
                                           "fp8gemm.wgmma_multicast", "fp8gemm.cublaslt",
                                           "fp8gemm.cublaslt_blockscaled"),
                         testing::impl_test_name);

TEST(Fp8Verification, UnwrittenOutputFailsVerification) {
  TB_REQUIRE_GPU();
  register_all_impls();
  const Stream stream;
  const ScaledGemm g{.m = 256, .n = 256, .k = 256, .dtype = "e4m3", .a_scale = "1x128", .b_scale = "128x128"};
  const Verification v = verify_once(registry().find("fp8gemm.wgmma"), g, false, stream);
  EXPECT_FALSE(v.error <= v.tolerance) << v.detail;
}

// E4M3 operands a [m][k] and b [n][k] with 1x128 and 128x128 scales, quantized from BF16 whose
// factors change per row and per 128-wide band (bench/fp8_inputs.hpp): every scale of a and b
// differs from its neighbours, so a scale taken from the wrong k-block or block shows in the bits.
struct FineScaledOperands {
  int m, n, k;
  DeviceBuffer a, b, sa, sb;

  FineScaledOperands(int m_, int n_, int k_, cudaStream_t stream)
      : m(m_), n(n_), k(k_), a(static_cast<std::size_t>(m) * k, "A"), b(static_cast<std::size_t>(n) * k, "B"),
        sa(static_cast<std::size_t>(kernels::scale_blocks(k)) * m * 4, "A scales"),
        sb(static_cast<std::size_t>(kernels::scale_blocks(k)) * kernels::scale_blocks(n) * 4, "B scales") {
    DeviceBuffer x(static_cast<std::size_t>(std::max(m, n)) * k * 2, "BF16 operand");
    for (int which = 0; which < 2; ++which) {
      const int rows = which ? n : m;
      fill_scaled_gemm_operand(x.as<__nv_bfloat16>(), rows, k, 11 + which, "signed", stream);
      kernels::QuantArgs q;
      q.x = x.as<__nv_bfloat16>();
      q.q = (which ? b : a).as<std::uint8_t>();
      q.scales = (which ? sb : sa).as<float>();
      q.rows = rows;
      q.cols = k;
      q.granularity = which ? kernels::QuantGranularity::Block128x128 : kernels::QuantGranularity::Group1x128;
      kernels::quantize_e4m3(q, stream);
    }
    TB_CUDA_CHECK(cudaGetLastError());
    TB_CUDA_CHECK(cudaStreamSynchronize(stream));  // before x is freed
  }

  kernels::ScaledGemmArgs args(void* c, bool f32) const {
    return {.a = a.as<const std::uint8_t>(), .b = b.as<const std::uint8_t>(), .a_scales = sa.as<const float>(),
            .b_scales = sb.as<const float>(), .c = c, .c_f32 = f32, .s8 = false, .m = m, .n = n, .k = k,
            .a_scale = kernels::AScale::Group1x128, .b_scale = kernels::BScale::Block128x128};
  }
};

// The overlapped schedule (a second accumulator set), alone and in the 2-CTA multicast kernel, does
// the serial one's arithmetic: the same FFMAs in the same order, so the outputs agree bit for bit. Shapes with an odd and an even number
// of k-blocks (the loop's two exits), one k-block, a partial last k-block, and more tiles than SMs
// (persistent CTAs carry the ring's state from tile to tile); BF16 and FP32 outputs. BF16 output also
// through the per-element stores (c misaligned for TMA): the TMA-store epilogue alone against them.
TEST(Fp8Promotion, OverlappedScheduleMatchesSerialBitForBit) {
  TB_REQUIRE_GPU();
  const Device device(0);
  if (device.info().arch() != 90) GTEST_SKIP() << "fp8gemm.wgmma needs sm_90a";
  const Stream stream;
  // 256 x 264 x 256: two k-blocks (the overlapped loop's even exit at once) and an off-matrix pair
  // for the multicast kernel.
  // 2056 x 4104 x 128: one k-block per tile over 561 tiles, the shortest time between one tile's TMA
  // stores and the next tile's stmatrix into the same staging buffer.
  const Shape shapes[] = {{200, 136, 128},  {256, 264, 256},    {256, 256, 384},    {136, 264, 1008},
                          {2056, 4104, 128}, {2056, 4104, 512}, {384, 256, 1392}};
  for (const Shape& s : shapes) {
    const int m = static_cast<int>(s.m), n = static_cast<int>(s.n), k = static_cast<int>(s.k);
    const FineScaledOperands ops(m, n, k, stream);
    for (const bool f32 : {false, true}) {
      const std::size_t bytes = static_cast<std::size_t>(m) * n * (f32 ? 4 : 2);
      DeviceBuffer serial(bytes, "serial output"), overlapped(bytes, "overlapped output"),
          multicast(bytes, "multicast output");
      kernels::ScaledGemmArgs args = ops.args(serial.get(), f32);
      fill_poison(serial.get(), bytes, 0xFF, stream);
      fill_poison(overlapped.get(), bytes, 0x7F, stream);
      kernels::fp8_gemm_wgmma_sm90(args, kernels::PromotionSchedule::Serial, stream);
      args.c = overlapped.get();
      kernels::fp8_gemm_wgmma_sm90(args, kernels::PromotionSchedule::Overlapped, stream);
      TB_CUDA_CHECK(cudaGetLastError());
      std::vector<unsigned char> want(bytes), got(bytes), got_multicast(bytes);
      TB_CUDA_CHECK(cudaMemcpyAsync(want.data(), serial.get(), bytes, cudaMemcpyDeviceToHost, stream));
      TB_CUDA_CHECK(cudaMemcpyAsync(got.data(), overlapped.get(), bytes, cudaMemcpyDeviceToHost, stream));
      TB_CUDA_CHECK(cudaStreamSynchronize(stream));
      const std::size_t differ = testing::differing_bytes(want, got);
      std::size_t differ_multicast = 0;
      // A stage handed back too early (to one CTA of a pair only, say) corrupts a run only when the
      // two CTAs drift apart: where many tiles run per CTA, several runs, each held to the serial bits.
      const int runs = m * n > (1 << 20) ? 5 : 1;
      for (int run = 0; run < runs; ++run) {
        fill_poison(multicast.get(), bytes, 0x7F, stream);
        args.c = multicast.get();
        kernels::fp8_gemm_wgmma_multicast_sm90(args, stream);
        TB_CUDA_CHECK(cudaGetLastError());
        TB_CUDA_CHECK(cudaMemcpyAsync(got_multicast.data(), multicast.get(), bytes, cudaMemcpyDeviceToHost, stream));
        TB_CUDA_CHECK(cudaStreamSynchronize(stream));
        differ_multicast += testing::differing_bytes(want, got_multicast);
      }
      EXPECT_EQ(differ, 0u) << m << "x" << n << "x" << k << (f32 ? " FP32" : " BF16") << ": " << differ
                            << " bytes differ (overlapped)";
      EXPECT_EQ(differ_multicast, 0u) << m << "x" << n << "x" << k << (f32 ? " FP32" : " BF16") << ": "
                                      << differ_multicast << " bytes differ (multicast)";
      if (f32) continue;
      // The same kernel and schedule into c two bytes past a 16-byte boundary: the TMA store cannot take it,
      // so the per-element stores write it. Only the epilogue differs from `serial`.
      DeviceBuffer shifted(bytes + 16, "shifted output");
      fill_poison(shifted.get(), bytes + 16, 0x7F, stream);
      args.c = static_cast<unsigned char*>(shifted.get()) + 2;
      kernels::fp8_gemm_wgmma_sm90(args, kernels::PromotionSchedule::Serial, stream);
      TB_CUDA_CHECK(cudaGetLastError());
      std::vector<unsigned char> got_shifted(bytes);
      TB_CUDA_CHECK(cudaMemcpyAsync(got_shifted.data(), args.c, bytes, cudaMemcpyDeviceToHost, stream));
      TB_CUDA_CHECK(cudaStreamSynchronize(stream));
      const std::size_t differ_shifted = testing::differing_bytes(want, got_shifted);
      EXPECT_EQ(differ_shifted, 0u) << m << "x" << n << "x" << k << " BF16: " << differ_shifted
                                    << " bytes differ between the TMA-store and the per-element epilogue";
      // A staging buffer rewritten while a TMA store still reads it corrupts only some runs: where
      // persistent CTAs store many tiles, more runs of both schedules' TMA-store epilogue, each held to
      // the per-element stores' bits.
      for (int run = 1; run < runs; ++run)
        for (const auto schedule : {kernels::PromotionSchedule::Serial, kernels::PromotionSchedule::Overlapped}) {
          fill_poison(overlapped.get(), bytes, 0x7F, stream);
          args.c = overlapped.get();
          kernels::fp8_gemm_wgmma_sm90(args, schedule, stream);
          TB_CUDA_CHECK(cudaGetLastError());
          TB_CUDA_CHECK(cudaMemcpyAsync(got.data(), overlapped.get(), bytes, cudaMemcpyDeviceToHost, stream));
          TB_CUDA_CHECK(cudaStreamSynchronize(stream));
          const std::size_t differ_run = testing::differing_bytes(got_shifted, got);
          EXPECT_EQ(differ_run, 0u) << m << "x" << n << "x" << k << " BF16, run " << run
                                    << (schedule == kernels::PromotionSchedule::Serial ? " serial: " : " overlapped: ")
                                    << differ_run << " bytes differ from the per-element epilogue";
        }
    }
  }
}

// Splitting k (fp8gemm.wgmma_splitk). Each split on the same operands as the unsplit kernel: in
// FP32 it must agree with the unsplit output to FP32 reassociation (the same promoted k-block
// sums, added in another order: a few units of 2^-24 of the running sums, held to 2^-14 in the
// oracle's metric; a part missing, doubled or scaled from the wrong k-block would be off by a
// whole block's share, of the order of the outputs themselves at some of them), in BF16 it must pass fp8gemm.wgmma's bound against the FP64
// oracle, and a second run must repeat the first bit for bit (the parts are added in split
// order). The FP32 parts and c are poisoned first, so a part left unwritten shows as NaN. Splits
// of 2 to 32 parts, parts of one k-block, a partial last k-block (1008 = 7 x 128 + 112), tails in
// m and n, and more units than SMs with parts of different lengths (2056 x 4104 x 1008 in 3: 561
// tiles x parts of 2, 3 and 3 k-blocks, so a persistent CTA chains parts of both lengths and both
// exits of the overlapped loop). Both promoting schedules.
TEST(Fp8KSplit, EverySplitAgreesWithTheUnsplitKernelAndRepeatsBitForBit) {
  TB_REQUIRE_GPU();
  const Device device(0);
  if (device.info().arch() != 90) GTEST_SKIP() << "fp8gemm.wgmma needs sm_90a";
  const Stream stream;
  struct Split {
    Shape shape;
    std::vector<int> splits;
  };
  const Split cases[] = {{{256, 128, 4096}, {2, 3, 4, 32}},
                         {{200, 136, 1008}, {2, 8}},
                         {{136, 264, 640}, {5}},
                         {{2056, 4104, 512}, {4}},
                         {{2056, 4104, 1008}, {3}},
                         // What the planner splits: 56 tiles of DeepSeek-V3's 128 x 7168 in 2 parts
                         // (8 and 64 k-blocks each).
                         {{128, 7168, 2048}, {2}},
                         {{128, 7168, 16384}, {2}}};
  for (const Split& c : cases) {
    const int m = static_cast<int>(c.shape.m), n = static_cast<int>(c.shape.n), k = static_cast<int>(c.shape.k);
    const FineScaledOperands ops(m, n, k, stream);
    const std::size_t count = static_cast<std::size_t>(m) * n;
    DeviceBuffer oracle(count * 4, "the FP64 oracle's output");
    kernels::scaled_gemm_reference(ops.args(oracle.get(), true), stream);
    for (const auto schedule : {kernels::PromotionSchedule::Overlapped, kernels::PromotionSchedule::Serial}) {
      const bool overlapped = schedule == kernels::PromotionSchedule::Overlapped;
      DeviceBuffer unsplit(count * 4, "the unsplit FP32 output");
      fill_poison(unsplit.get(), unsplit.bytes(), 0xFF, stream);
      kernels::fp8_gemm_wgmma_sm90(ops.args(unsplit.get(), true), schedule, stream);
      TB_CUDA_CHECK(cudaGetLastError());
      for (const int splits : c.splits)
        for (const bool f32 : {false, true}) {
          const std::string what = std::to_string(m) + "x" + std::to_string(n) + "x" + std::to_string(k) + " in " +
                                   std::to_string(splits) + (f32 ? " parts, FP32, " : " parts, BF16, ") +
                                   (overlapped ? "overlapped" : "serial");
          const std::size_t bytes = count * (f32 ? 4 : 2);
          DeviceBuffer first(bytes, "first output"), second(bytes, "second output"),
              parts(kernels::split_k_workspace_bytes(m, n, splits), "the FP32 parts");
          kernels::ScaledGemmArgs args = ops.args(first.get(), f32);
          args.k_splits = splits;
          args.workspace = parts.as<float>();
          fill_poison(parts.get(), parts.bytes(), 0xFF, stream);
          fill_poison(first.get(), bytes, 0xFF, stream);
          fill_poison(second.get(), bytes, 0x7F, stream);
          kernels::fp8_gemm_wgmma_sm90(args, schedule, stream);
          TB_CUDA_CHECK(cudaGetLastError());
          const ReferenceComparison r =
              f32 ? compare_with_reference(first.get(), FloatType::F32, unsplit.as<float>(), count, stream)
                  : compare_with_reference(first.get(), FloatType::Bf16, oracle.as<float>(), count, stream);
          EXPECT_EQ(r.nonfinite, 0u) << what;
          EXPECT_LT(r.max_error, f32 ? 0x1p-14 : 0x1p-7) << what << (f32 ? " against the unsplit kernel" : " against the oracle");
          fill_poison(parts.get(), parts.bytes(), 0xFF, stream);
          args.c = second.get();
          kernels::fp8_gemm_wgmma_sm90(args, schedule, stream);
          TB_CUDA_CHECK(cudaGetLastError());
          std::vector<unsigned char> x(bytes), y(bytes);
          TB_CUDA_CHECK(cudaMemcpyAsync(x.data(), first.get(), bytes, cudaMemcpyDeviceToHost, stream));
          TB_CUDA_CHECK(cudaMemcpyAsync(y.data(), second.get(), bytes, cudaMemcpyDeviceToHost, stream));
          TB_CUDA_CHECK(cudaStreamSynchronize(stream));
          EXPECT_TRUE(x == y) << what << ": two runs differ";
        }
    }
  }
}

// The fp8-accuracy suite's hardest point for the kernel without promotion (k = 65536, every
// product non-negative): its error, however large, is a result (finite, normwise below 1), while
// the same op with the output left unwritten still fails the accuracy rule.
TEST(Fp8Verification, AccuracyBenchmarkRecordsTheUnpromotedErrorAndFailsAnUnwrittenOutput) {
  TB_REQUIRE_GPU();
  register_all_impls();
  const Impl& impl = registry().find("fp8gemm.wgmma_nopromote");
  const Device device(0);
  if (const auto why = unavailable_reason(impl, device.info()); !why.empty()) GTEST_SKIP() << impl.name << ": " << why;
  const Stream stream;
  const ScaledGemm g{.m = 256, .n = 256, .k = 65536, .dtype = "e4m3", .a_scale = "tensor", .b_scale = "tensor",
                     .inputs = "nonnegative"};
  const Verification v = verify_once(impl, g, true, stream);
  RecordProperty("error", std::to_string(v.error));
  ASSERT_TRUE(v.norm_error.has_value());
  EXPECT_TRUE(verification_passes(v, true)) << v.detail;
  EXPECT_TRUE(std::isfinite(v.error)) << v.detail;
  const Verification unwritten = verify_once(impl, g, false, stream);
  EXPECT_FALSE(verification_passes(unwritten, true)) << unwritten.detail;
}

// Promotion's point (DeepSeek-V3, section 3.3): the tensor core accumulates FP8 products with
// fewer bits than FP32, so summing k = 16384 in the wgmma accumulators errs more than promoting
// every 128. Same operands, per-tensor scales (so that the kernel without promotion is exact in
// exact arithmetic), FP32 output (so that BF16 rounding does not hide the accumulation error),
// both against the FP64 oracle. Asserted: the error without promotion is at least twice the
// error with it. A hypothesis about the hardware that this test checks, not a known result.
TEST(Fp8Promotion, LowersTheErrorAtLongK) {
  TB_REQUIRE_GPU();
  const Device device(0);
  if (device.info().arch() != 90) GTEST_SKIP() << "fp8gemm.wgmma needs sm_90a";
  const Stream stream;
  constexpr int m = 256, n = 256, k = 16384;
  DeviceBuffer x(static_cast<std::size_t>(m) * k * 2, "BF16 operand"), a(static_cast<std::size_t>(m) * k, "A"),
      b(static_cast<std::size_t>(n) * k, "B"), sa(4, "A scale"), sb(4, "B scale"), amax(4, "amax"),
      want(static_cast<std::size_t>(m) * n * 4, "reference"), got(static_cast<std::size_t>(m) * n * 4, "output");
  for (int which = 0; which < 2; ++which) {
    fill_uniform_bf16(x.get(), static_cast<std::size_t>(m) * k, 7 + which, stream);
    kernels::QuantArgs q;
    q.x = x.as<__nv_bfloat16>();
    q.q = (which ? b : a).as<std::uint8_t>();
    q.scales = (which ? sb : sa).as<float>();
    q.rows = which ? n : m;
    q.cols = k;
    q.granularity = kernels::QuantGranularity::Tensor;
    q.amax_workspace = amax.as<float>();
    kernels::quantize_e4m3(q, stream);
  }
  kernels::ScaledGemmArgs args{.a = a.as<const std::uint8_t>(), .b = b.as<const std::uint8_t>(),
                               .a_scales = sa.as<const float>(), .b_scales = sb.as<const float>(), .c = want.get(),
                               .c_f32 = true, .s8 = false, .m = m, .n = n, .k = k,
                               .a_scale = kernels::AScale::Tensor, .b_scale = kernels::BScale::Tensor};
  kernels::scaled_gemm_reference(args, stream);
  args.c = got.get();
  double error[2] = {};
  for (const bool promote : {true, false}) {
    fill_poison(got.get(), got.bytes(), 0xFF, stream);
    kernels::fp8_gemm_wgmma_sm90(args, promote ? kernels::PromotionSchedule::Serial : kernels::PromotionSchedule::None,
                                 stream);
    TB_CUDA_CHECK(cudaGetLastError());
    const ReferenceComparison r =
        compare_with_reference(got.get(), FloatType::F32, want.as<float>(), static_cast<std::size_t>(m) * n, stream);
    EXPECT_EQ(r.nonfinite, 0u);
    error[promote ? 0 : 1] = r.max_error;
  }
  RecordProperty("error_promoted", std::to_string(error[0]));
  RecordProperty("error_unpromoted", std::to_string(error[1]));
  EXPECT_LT(error[0], 0x1p-10) << "promoted: the error of 128-deep tensor-core sums and their FP32 sum";
  EXPECT_GE(error[1], 2 * error[0]) << "promoted " << error[0] << ", unpromoted " << error[1];
}

}  // namespace
}  // namespace trainbench
