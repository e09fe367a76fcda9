// The INT8 GEMM impls without a GPU: their registration and limits, and the `int8` suite.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
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

  // The wgmma kernel takes what the mma.sync one takes (TMA's 16-byte row pitch is the same k
  // rule, its TMA-stored output the same m rule), on sm_90a only.
  for (const char* name : {"int8gemm.wgmma", "int8gemm.wgmma_splitk"}) {
    const Impl& wgmma = registry().find(name);
    EXPECT_FALSE(wgmma.vendor) << name;
    EXPECT_EQ(wgmma.min_arch, 90) << name;
    EXPECT_EQ(wgmma.max_arch, 90) << name;
    for (const ScaledGemm& g : {s8(8, 1, 16), s8(136, 264, 144), s8(8, 3, 1 << 16), s8(12, 8, 16), s8(8, 8, 24),
                                s8(8, 8, (1 << 16) + 16), e4m3, tensor, block})
      EXPECT_EQ(wgmma.unsupported(g), mma.unsupported(g)) << name << " " << g.m << "x" << g.n << "x" << g.k;
  }

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
  args = ok;
  args.c = reinterpret_cast<void*>(std::uintptr_t{258});  // BF16 pairs need 4-byte alignment
  EXPECT_THROW(kernels::int8_gemm_mma_sm80(args, nullptr), std::invalid_argument);
}

// The same for the wgmma kernel, which also refuses E4M3 operands, k past the s32 bound or off
// TMA's 16-byte pitch, m off the TMA store's pitch, a bad split, and an unaligned c.
TEST(Int8Wgmma, LauncherRefusesWhatTheKernelDoesNotCompute) {
  const kernels::ScaledGemmArgs ok{.c = reinterpret_cast<void*>(std::uintptr_t{256}), .s8 = true, .m = 8, .n = 8,
                                   .k = 16, .a_scale = kernels::AScale::Row, .b_scale = kernels::BScale::Col};
  const auto refused = [](kernels::ScaledGemmArgs args) {
    EXPECT_THROW(kernels::int8_gemm_wgmma_sm90(args, nullptr), std::invalid_argument)
        << args.m << "x" << args.n << "x" << args.k << " in " << args.k_splits;
  };
  kernels::ScaledGemmArgs args = ok;
  args.s8 = false;
  refused(args);
  args = ok;
  args.a_scale = kernels::AScale::Group1x128;
  refused(args);
  args = ok;
  args.b_scale = kernels::BScale::Tensor;
  refused(args);
  args = ok;
  args.c_f32 = true;
  refused(args);
  for (const int k : {0, 24, kernels::kInt8MaxK + 16}) {
    args = ok;
    args.k = k;
    refused(args);
  }
  args = ok;
  args.m = 12;
  refused(args);
  args = ok;
  args.n = 0;
  refused(args);
  args = ok;
  args.k_splits = 2;  // k = 16 is one k-block
  refused(args);
  args = ok;
  args.k = 1024;
  args.k_splits = 2;  // no workspace
  refused(args);
  args.workspace = reinterpret_cast<void*>(std::uintptr_t{260});  // not 8-byte aligned
  refused(args);
  args = ok;
  args.c = reinterpret_cast<void*>(std::uintptr_t{260});  // TMA stores need 16-byte alignment
  refused(args);
  args.k = 1024;
  args.k_splits = 2;
  args.workspace = reinterpret_cast<void*>(std::uintptr_t{512});
  args.c = reinterpret_cast<void*>(std::uintptr_t{258});  // split: BF16 pairs need 4-byte alignment
  refused(args);
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
    // Both kernels beside cuBLASLt everywhere; their k splits exactly where they split on 132 SMs:
    // 128 x 7168 x 16384 among these.
    const auto count = [&](const char* name) { return std::count(e.impls.begin(), e.impls.end(), std::string(name)); };
    for (const char* name : {"int8gemm.mma", "int8gemm.wgmma", "int8gemm.cublaslt"})
      EXPECT_EQ(count(name), 1) << name << " at " << op_label(e.op);
    const bool listed = count("int8gemm.mma_splitk") == 1;
    EXPECT_EQ(count("int8gemm.wgmma_splitk") == 1, listed) << op_label(e.op);
    EXPECT_EQ(listed, splits_k_on_132_sms(g.m, g.n, g.k)) << op_label(e.op);
    EXPECT_EQ(listed, g.m == 128 && g.n == 7168 && g.k == 16384) << op_label(e.op);
    EXPECT_EQ(e.impls.size(), listed ? 5u : 3u);
    for (const auto& name : e.impls) EXPECT_EQ(registry().find(name).unsupported(e.op), "") << name << " " << op_label(e.op);
  }
  EXPECT_TRUE(saw_largest);
  EXPECT_TRUE(saw_square);
}

}  // namespace
}  // namespace trainbench
