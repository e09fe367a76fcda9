// The INT8 GEMM impls without a GPU: their registration and limits, and the `int8` suite.
#include <gtest/gtest.h>

#include <algorithm>
#include <stdexcept>
#include <string>

#include "bench/impls.hpp"
#include "bench/suites.hpp"
#include "kernels/quant/int8_gemm.cuh"

namespace trainbench {
namespace {

ScaledGemm s8(std::uint64_t m, std::uint64_t n, std::uint64_t k) {
  return ScaledGemm{.m = m, .n = n, .k = k, .dtype = "s8", .a_scale = "row", .b_scale = "col"};
}

TEST(Int8Impls, RegisteredWithTheirLimits) {
  register_all_impls();
  const Impl& mma = registry().find("int8gemm.mma");
  EXPECT_EQ(mma.family, "scaled_gemm");
  EXPECT_FALSE(mma.vendor);
  EXPECT_EQ(mma.min_arch, 80);
  EXPECT_EQ(mma.max_arch, 0);
  EXPECT_EQ(mma.unsupported(s8(8, 1, 16)), "");        // n anything
  EXPECT_EQ(mma.unsupported(s8(136, 264, 144)), "");   // tails of every tile dimension
  EXPECT_EQ(mma.unsupported(s8(8, 3, 1 << 16)), "");   // the largest k whose sums cannot wrap
  EXPECT_NE(mma.unsupported(s8(12, 8, 16)), "");       // m not a multiple of 8
  EXPECT_NE(mma.unsupported(s8(8, 8, 24)), "");        // k not a multiple of 16
  EXPECT_NE(mma.unsupported(s8(8, 8, (1 << 16) + 16)), "");
  ScaledGemm e4m3 = s8(8, 8, 16);
  e4m3.dtype = "e4m3";
  EXPECT_NE(mma.unsupported(e4m3), "");
  ScaledGemm tensor = s8(8, 8, 16);
  tensor.a_scale = "tensor";
  EXPECT_NE(mma.unsupported(tensor), "");
  ScaledGemm block = s8(8, 8, 16);
  block.b_scale = "128x128";
  EXPECT_NE(mma.unsupported(block), "");

  // Splitting k changes how the work is dealt, not what the kernel takes.
  const Impl& splitk = registry().find("int8gemm.mma_splitk");
  EXPECT_FALSE(splitk.vendor);
  EXPECT_EQ(splitk.min_arch, 80);
  for (const ScaledGemm& g : {s8(8, 1, 16), s8(136, 264, 144), s8(8, 3, 1 << 16), s8(12, 8, 16), s8(8, 8, 24), e4m3,
                              tensor, block})
    EXPECT_EQ(splitk.unsupported(g), mma.unsupported(g)) << g.m << "x" << g.n << "x" << g.k;

  const Impl& lt = registry().find("int8gemm.cublaslt");
  EXPECT_TRUE(lt.vendor);
  EXPECT_EQ(lt.min_arch, 80);
  EXPECT_EQ(lt.unsupported(s8(16, 32, 48)), "");
  EXPECT_NE(lt.unsupported(s8(8, 16, 16)), "");
  EXPECT_NE(lt.unsupported(s8(16, 16, 8)), "");
  EXPECT_NE(lt.unsupported(tensor), "");
}

// The launcher refuses what the kernel does not compute before touching the GPU.
TEST(Int8Mma, LauncherRefusesOtherScalesAndFp32Output) {
  const kernels::ScaledGemmArgs ok{.m = 8, .n = 8, .k = 16, .a_scale = kernels::AScale::Row,
                                   .b_scale = kernels::BScale::Col};
  kernels::ScaledGemmArgs args = ok;
  args.a_scale = kernels::AScale::Tensor;
  EXPECT_THROW(kernels::int8_gemm_mma_sm80(args, nullptr), std::invalid_argument);
  args = ok;
  args.b_scale = kernels::BScale::Block128x128;
  EXPECT_THROW(kernels::int8_gemm_mma_sm80(args, nullptr), std::invalid_argument);
  args = ok;
  args.c_f32 = true;
  EXPECT_THROW(kernels::int8_gemm_mma_sm80(args, nullptr), std::invalid_argument);
}

TEST(Int8Impls, Fp8ImplsRefuseS8) {
  register_all_impls();
  for (const char* name : {"fp8gemm.wgmma", "fp8gemm.wgmma_overlap", "fp8gemm.wgmma_splitk", "fp8gemm.wgmma_nopromote",
                           "fp8gemm.wgmma_multicast", "fp8gemm.cublaslt", "fp8gemm.cublaslt_blockscaled"})
    EXPECT_NE(registry().find(name).unsupported(s8(128, 128, 128)), "") << name;
}

TEST(Int8Impls, SuiteHoldsDeepSeekAndSquareShapesAndEveryImplTakesItsOps) {
  register_all_impls();
  const Suite& s = find_suite("int8");
  EXPECT_EQ(s.entries.size(), 8u);  // six DeepSeek-V3 shapes, square 4096 and 8192
  bool saw_largest = false, saw_square = false;
  for (const auto& e : s.entries) {
    const auto& g = std::get<ScaledGemm>(e.op);
    EXPECT_EQ(g.dtype, "s8");
    saw_largest |= g.m == 4096 && g.n == 7168 && g.k == 16384;
    saw_square |= g.m == 8192 && g.n == 8192 && g.k == 8192;
    // int8gemm.mma_splitk exactly where it splits on 132 SMs: 128 x 7168 x 16384 among these.
    const bool listed = std::count(e.impls.begin(), e.impls.end(), std::string("int8gemm.mma_splitk")) == 1;
    EXPECT_EQ(listed, splits_k_on_132_sms(g.m, g.n, g.k)) << op_label(e.op);
    EXPECT_EQ(listed, g.m == 128 && g.n == 7168 && g.k == 16384) << op_label(e.op);
    EXPECT_EQ(e.impls.size(), listed ? 3u : 2u);
    for (const auto& name : e.impls) EXPECT_EQ(registry().find(name).unsupported(e.op), "") << name << " " << op_label(e.op);
  }
  EXPECT_TRUE(saw_largest);
  EXPECT_TRUE(saw_square);
}

}  // namespace
}  // namespace trainbench
