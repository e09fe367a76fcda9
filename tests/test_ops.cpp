// Op formulas: FLOPs and minimum bytes moved, labels, and the roof each op is judged against.
#include <gtest/gtest.h>

#include "harness/chips.hpp"
#include "harness/error.hpp"
#include "harness/ops.hpp"

namespace trainbench {
namespace {

TEST(CopyOp, MovesEachByteTwiceAndDoesNoMath) {
  const Op op = Copy{1ull << 30};
  EXPECT_EQ(op_family(op), "copy");
  EXPECT_DOUBLE_EQ(op_flops(op), 0.0);
  EXPECT_DOUBLE_EQ(op_bytes(op), 2.0 * (1ull << 30));
  EXPECT_EQ(op_roof(op), Roof::Memory);
  EXPECT_EQ(op_label(op), "bytes:1073741824");
}

TEST(CopyOp, ShapeRoundTrips) {
  const Op op = Copy{12345};
  const Op back = op_from_json("copy", op_shape(op));
  EXPECT_EQ(std::get<Copy>(back).bytes, 12345u);
}

TEST(GemmOp, TwoMnkFlopsAndCompulsoryBytes) {
  const Gemm g{8192, 8192, 8192, "tn", "bf16", "bf16"};
  EXPECT_DOUBLE_EQ(g.flops(), 2.0 * 8192.0 * 8192.0 * 8192.0);
  EXPECT_DOUBLE_EQ(g.bytes_moved(), 3.0 * 8192.0 * 8192.0 * 2);
  const Gemm f32{128, 256, 64, "nt", "bf16", "f32"};
  EXPECT_DOUBLE_EQ(f32.bytes_moved(), (128.0 * 64 + 64.0 * 256) * 2 + 128.0 * 256 * 4);
  EXPECT_EQ(op_roof(Op{g}), Roof::Bf16);
  EXPECT_EQ(op_label(Op{g}), "m:8192/n:8192/k:8192/layout:tn/dtype:bf16/out_dtype:bf16");
  const Gemm back = std::get<Gemm>(op_from_json("gemm", g.shape()));
  EXPECT_EQ(back.shape(), g.shape());
  EXPECT_THROW(op_from_json("gemm", nlohmann::json{{"m", 1}, {"n", 1}, {"k", 1}, {"layout", "tt"}}), Error);
  EXPECT_THROW(op_from_json("gemm", nlohmann::json{{"m", 1}, {"n", 1}, {"k", 1}, {"dtype", "f64"}}), Error);
}

TEST(AttentionOp, FlopsFollowTheConventions) {
  // Llama-3 70B at TP=8: 8 query heads and 1 KV head per GPU, head_dim 128, seq 8192.
  Attention a{1, 8, 1, 8192, 8192, 128, false, "fwd"};
  const double full = 4.0 * 1 * 8 * 8192.0 * 8192.0 * 128;
  EXPECT_DOUBLE_EQ(a.flops(), full);
  a.causal = true;
  EXPECT_DOUBLE_EQ(a.flops(), full / 2);
  a.pass = "bwd";
  EXPECT_DOUBLE_EQ(a.flops(), 2.5 * full / 2);
}

// With fewer queries than keys the causal mask (bottom-right aligned, as the kernels and cuDNN compute it)
// keeps more than half the scores: query r of 2048 against 8192 keys sees 6145 + r keys, 7/8 of the rectangle
// (the count is the continuous area, which leaves out the diagonal's half-cells, as Sq = Sk's halving does).
// With more queries than keys the first rows see nothing.
TEST(AttentionOp, CausalFlopsCountTheVisibleScoresWhenSeqQAndSeqKvDiffer) {
  const Attention a{1, 8, 1, 2048, 8192, 128, true, "fwd"};
  const double rect = 4.0 * 8 * 2048.0 * 8192.0 * 128;
  EXPECT_DOUBLE_EQ(a.flops(), rect * 7 / 8);
  const Attention b{1, 8, 1, 8192, 2048, 128, true, "fwd"};
  EXPECT_DOUBLE_EQ(b.flops(), rect / 8);  // the last 2048 rows see a 2048 x 2048 triangle
  Attention one{1, 1, 1, 1, 4096, 64, true, "fwd"};  // decoding: one query sees every key
  EXPECT_NEAR(one.flops() / (4.0 * 4096 * 64), 1.0, 1.0 / 4096);
}

TEST(AttentionOp, BytesCountQkvOutputsAndLse) {
  const Attention f{2, 16, 4, 1024, 1024, 64, true, "fwd"};
  const double q = 2.0 * 1024 * 16 * 64 * 2, kv = 2.0 * 1024 * 4 * 64 * 2, lse = 2.0 * 16 * 1024 * 4;
  EXPECT_DOUBLE_EQ(f.bytes_moved(), 2 * q + 2 * kv + lse);
  Attention b = f;
  b.pass = "bwd";
  EXPECT_DOUBLE_EQ(b.bytes_moved(), 4 * q + 4 * kv + lse);
  const Attention back = std::get<Attention>(op_from_json("attention", f.shape()));
  EXPECT_EQ(back.shape(), f.shape());
}

TEST(AttentionOp, HeadsKvMustDivideHeadsQ) {
  Attention a{1, 12, 5, 128, 128, 64, false, "fwd"};
  EXPECT_THROW(op_from_json("attention", a.shape()), Error);
  a.heads_kv = 4;
  a.pass = "sideways";
  EXPECT_THROW(op_from_json("attention", a.shape()), Error);
}

TEST(QuantizeOp, BytesCountElementsAndScales) {
  const Quantize act{4096, 7168, "1x128", false};
  EXPECT_EQ(act.scale_count(), 4096u * 56u);
  EXPECT_DOUBLE_EQ(act.bytes_moved(), 3.0 * 4096 * 7168 + 4.0 * 4096 * 56);
  const Quantize tail{100, 300, "1x128", true};  // groups along rows: ceil(100 / 128) = 1 per column
  EXPECT_EQ(tail.scale_count(), 300u);
  EXPECT_EQ((Quantize{7168, 16384, "128x128", false}.scale_count()), 56u * 128u);
  EXPECT_EQ((Quantize{8192, 8192, "tensor", false}.scale_count()), 1u);
  EXPECT_EQ(op_roof(Op{act}), Roof::Memory);
  EXPECT_DOUBLE_EQ(op_flops(Op{act}), 0.0);
  const Quantize back = std::get<Quantize>(op_from_json("quantize", tail.shape()));
  EXPECT_EQ(back.shape(), tail.shape());
  EXPECT_THROW(op_from_json("quantize", Quantize{128, 128, "128x128", true}.shape()), Error);
  EXPECT_THROW(op_from_json("quantize", Quantize{128, 128, "1x64", false}.shape()), Error);
}

TEST(ScaledGemmOp, FlopsBytesRoofAndScales) {
  const ScaledGemm g{4096, 7168, 16384, "e4m3", "1x128", "128x128"};
  EXPECT_DOUBLE_EQ(g.flops(), 2.0 * 4096 * 7168 * 16384);
  EXPECT_EQ(g.a_scale_count(), 4096u * 128u);
  EXPECT_EQ(g.b_scale_count(), 56u * 128u);
  EXPECT_DOUBLE_EQ(g.bytes_moved(), 4096.0 * 16384 + 7168.0 * 16384 + 4.0 * (4096 * 128 + 56 * 128) + 2.0 * 4096 * 7168);
  EXPECT_EQ(op_roof(Op{g}), Roof::Fp8);
  EXPECT_EQ(op_roof(Op{ScaledGemm{64, 64, 64, "s8", "row", "col"}}), Roof::Int8);
  EXPECT_EQ((ScaledGemm{100, 200, 300, "s8", "row", "col"}.a_scale_count()), 100u);
  EXPECT_EQ((ScaledGemm{100, 200, 300, "s8", "row", "col"}.b_scale_count()), 200u);
  const ScaledGemm back = std::get<ScaledGemm>(op_from_json("scaled_gemm", g.shape()));
  EXPECT_EQ(back.shape(), g.shape());
  EXPECT_THROW(op_from_json("scaled_gemm", ScaledGemm{1, 1, 1, "e5m2", "1x128", "128x128"}.shape()), Error);
  EXPECT_THROW(op_from_json("scaled_gemm", ScaledGemm{1, 1, 1, "e4m3", "1x64", "128x128"}.shape()), Error);
}

TEST(Ops, UnknownFamilyAndMalformedShapeAreErrors) {
  EXPECT_THROW(op_from_json("conv", nlohmann::json::object()), Error);
  EXPECT_THROW(op_from_json("copy", nlohmann::json{{"size", 1}}), Error);
}

TEST(Ops, SpecPeakInTheOpsUnits) {
  const ChipSpec& h100 = ChipTable::builtin().by_id("h100-sxm");
  EXPECT_DOUBLE_EQ(*spec_peak(h100, Roof::Memory), 3350.0);  // TB/s -> GB/s
  EXPECT_DOUBLE_EQ(*spec_peak(h100, Roof::Bf16), *h100.bf16_dense_tflops);
  EXPECT_STREQ(roof_name(Roof::Memory), "hbm");
}

}  // namespace
}  // namespace trainbench
