// The INT8 GEMM impls against the dequantized oracle at awkward shapes (tails in m, n and k, one
// tile and many), the largest sums the limits allow, and an unwritten output caught by the poison.
#include <gtest/gtest.h>

#include <cuda_bf16.h>

#include <algorithm>
#include <cstdio>
#include <cstdint>
#include <vector>

#include "bench/impls.hpp"
#include "bench/int8_kernels.hpp"
#include "harness/device.hpp"
#include "harness/device_buffer.hpp"
#include "harness/error.hpp"
#include "harness/verify.hpp"
#include "kernels/quant/int8_gemm.cuh"
#include "tests/gpu_skip.hpp"
#include "tests/gpu_test_support.hpp"

namespace trainbench {
namespace {

using testing::Stream;
using testing::verify_once;

struct Shape {
  std::uint64_t m, n, k;
};
// n of 1 and 3 (a single column, rows of b past n zero-filled), m one 8-row group, tails in m and
// n of every size class, k a multiple of 16 but not of 128 (a partial last k-tile), one k-tile
// and many (the 3-stage ring wraps), more tiles than any GPU has SMs, and the largest k allowed.
// 128 x 7168 x 2048 is 56 tiles, fewer than half of an H100's SMs: the _splitk impls' planner splits
// it (in 2 parts on 132 SMs).
const Shape kShapes[] = {{8, 1, 16},       {8, 3, 16},        {16, 16, 128},     {136, 264, 144},
                         {200, 136, 1008}, {256, 128, 4096},  {1000, 1008, 992}, {2056, 4104, 384},
                         {128, 96, 65536}, {128, 7168, 2048}};

class Int8Impl : public ::testing::TestWithParam<std::string> {};

TEST_P(Int8Impl, VerifiesAgainstTheDequantizedOracleAtAwkwardShapes) {
  TB_REQUIRE_GPU();
  register_all_impls();
  const Impl& impl = registry().find(GetParam());
  const Device device(0);
  if (const auto why = unavailable_reason(impl, device.info()); !why.empty()) GTEST_SKIP() << impl.name << ": " << why;
  const Stream stream;
  int verified = 0;
  for (const Shape& s : kShapes) {
    const ScaledGemm g{.m = s.m, .n = s.n, .k = s.k, .dtype = "s8", .a_scale = "row", .b_scale = "col"};
    if (!impl.unsupported(Op{g}).empty()) continue;
    const Verification v = verify_once(impl, g, true, stream);
    EXPECT_TRUE(v.error <= v.tolerance) << impl.name << " " << op_label(Op{g}) << ": error " << v.error << " > "
                                        << v.tolerance << " (" << v.detail << ")";
    ++verified;
  }
  // cuBLASLt INT8 takes multiples of 16 only: 4 of these shapes.
  EXPECT_GE(verified, 3) << impl.name << " took too few of the shapes";
}

INSTANTIATE_TEST_SUITE_P(All, Int8Impl,
                         ::testing::Values("int8gemm.mma", "int8gemm.mma_splitk", "int8gemm.wgmma",
                                           "int8gemm.wgmma_splitk", "int8gemm.cublaslt"),
                         testing::impl_test_name);

TEST(Int8Verification, UnwrittenOutputFailsVerification) {
  TB_REQUIRE_GPU();
  register_all_impls();
  const Stream stream;
  const ScaledGemm g{.m = 256, .n = 256, .k = 256, .dtype = "s8", .a_scale = "row", .b_scale = "col"};
  for (const char* name :
       {"int8gemm.mma", "int8gemm.mma_splitk", "int8gemm.wgmma", "int8gemm.wgmma_splitk", "int8gemm.cublaslt"}) {
    const Verification v = verify_once(registry().find(name), g, false, stream);
    EXPECT_FALSE(v.error <= v.tolerance) << name << ": " << v.detail;
  }
}

// The kernels that must give int8gemm.mma's unsplit output bit for bit: its own k split, and on
// sm_90a the wgmma kernel, split or not (all compute the exact s32 sums and scale them with one
// expression).
struct Int8Kernel {
  const char* name;
  void (*run)(const kernels::ScaledGemmArgs&, cudaStream_t);
  int min_splits;
};
std::vector<Int8Kernel> int8_kernels_held_to_mma(const DeviceInfo& info) {
  std::vector<Int8Kernel> out = {{"int8gemm.mma", kernels::int8_gemm_mma_sm80, 2}};
  if (info.arch() == 90) out.push_back({"int8gemm.wgmma", kernels::int8_gemm_wgmma_sm90, 1});
  return out;
}

// Splitting k (int8gemm.mma_splitk, int8gemm.wgmma_splitk) adds exact s32 parts and scales once
// as the unsplit epilogue does, so the output must be int8gemm.mma's bit for bit, whatever the
// split and whichever kernel: 1 (wgmma only) to 32 parts, parts of one k-tile, a partial last
// k-tile (1008 = 7 x 128 + 112), tails in n, more tiles or CTAs than SMs, and the largest k in 4
// parts. DeepSeek-V3's 128 x 7168 (56 tiles, what the planner splits), with an 8-column n tail, a
// 16-byte k tail and parts of one k-tile (128 x 7176 x 2064 in 17: 969 units of unequal parts, more
// than any GPU has SMs); n = 3 with the wgmma kernel's second consumer wholly past m. The parts (with about 2^30 in every s32, so that an unwritten one cannot hide) and c are
// poisoned first. Sums at the s32 bound: below.
TEST(Int8KSplit, EverySplitIsTheUnsplitKernelBitForBit) {
  TB_REQUIRE_GPU();
  const DeviceInfo info = Device(0).info();
  if (info.arch() < 80) GTEST_SKIP() << "mma.sync s8 m16n8k32 needs sm_80";
  if (info.arch() != 90) std::printf("[ INFO     ] int8gemm.wgmma needs sm_90a: only int8gemm.mma checked here\n");
  const Stream stream;
  struct Split {
    Shape shape;
    std::vector<int> splits;
  };
  const Split cases[] = {{{256, 128, 4096}, {2, 3, 4, 32}},
                         {{200, 136, 1008}, {2, 8}},
                         {{2056, 4104, 1008}, {3}},
                         {{128, 96, 65536}, {4}},
                         {{128, 7168, 2048}, {2, 3}},
                         {{128, 7176, 2064}, {2, 3, 17}},
                         {{8, 3, 4096}, {2, 32}}};
  for (const Split& c : cases) {
    const int m = static_cast<int>(c.shape.m), n = static_cast<int>(c.shape.n), k = static_cast<int>(c.shape.k);
    DeviceBuffer a(static_cast<std::size_t>(m) * k, "A"), b(static_cast<std::size_t>(n) * k, "B"),
        sa(static_cast<std::size_t>(m) * 4, "A scales"), sb(static_cast<std::size_t>(n) * 4, "B scales");
    {
      DeviceBuffer x(static_cast<std::size_t>(std::max(m, n)) * k * 2, "BF16 operand");
      for (int which = 0; which < 2; ++which) {
        const int rows = which ? n : m;
        fill_uniform_bf16(x.get(), static_cast<std::size_t>(rows) * k, 31 + which, stream);
        quantize_s8_rows(x.as<const __nv_bfloat16>(), (which ? b : a).as<std::int8_t>(), (which ? sb : sa).as<float>(),
                         rows, k, stream);
      }
      TB_CUDA_CHECK(cudaGetLastError());
      TB_CUDA_CHECK(cudaStreamSynchronize(stream));  // before x is freed
    }
    const std::size_t bytes = static_cast<std::size_t>(m) * n * 2;
    DeviceBuffer unsplit(bytes, "unsplit output");
    kernels::ScaledGemmArgs args{.a = a.as<const std::uint8_t>(), .b = b.as<const std::uint8_t>(),
                                 .a_scales = sa.as<const float>(), .b_scales = sb.as<const float>(),
                                 .c = unsplit.get(), .c_f32 = false, .s8 = true, .m = m, .n = n, .k = k,
                                 .a_scale = kernels::AScale::Row, .b_scale = kernels::BScale::Col};
    fill_poison(unsplit.get(), bytes, 0xFF, stream);
    kernels::int8_gemm_mma_sm80(args, stream);
    TB_CUDA_CHECK(cudaGetLastError());
    std::vector<unsigned char> want(bytes), got(bytes);
    TB_CUDA_CHECK(cudaMemcpyAsync(want.data(), unsplit.get(), bytes, cudaMemcpyDeviceToHost, stream));
    for (const Int8Kernel& kernel : int8_kernels_held_to_mma(info)) {
      std::vector<int> splits = c.splits;
      if (kernel.min_splits == 1) splits.insert(splits.begin(), 1);
      for (const int parts_count : splits) {
        DeviceBuffer split(bytes, "split output"),
            parts(std::max<std::size_t>(kernels::split_k_workspace_bytes(m, n, parts_count), 8), "the s32 parts");
        fill_poison(split.get(), bytes, 0x7F, stream);
        fill_poison(parts.get(), parts.bytes(), 0x40, stream);
        args.c = split.get();
        args.k_splits = parts_count;
        args.workspace = parts_count > 1 ? parts.get() : nullptr;
        kernel.run(args, stream);
        TB_CUDA_CHECK(cudaGetLastError());
        TB_CUDA_CHECK(cudaMemcpyAsync(got.data(), split.get(), bytes, cudaMemcpyDeviceToHost, stream));
        TB_CUDA_CHECK(cudaStreamSynchronize(stream));
        const std::size_t differ = testing::differing_bytes(want, got);
        EXPECT_EQ(differ, 0u) << kernel.name << " at " << m << "x" << n << "x" << k << " in " << parts_count
                              << " part(s): " << differ << " bytes differ from int8gemm.mma unsplit";
      }
    }
  }
}

// Every operand -128 at the largest k allowed: every sum is 2^16 * 2^14 = 2^30, one step from
// wrapping, and exact in BF16; unit scales. An s32 overflow or a lost k-tile shows as a wrong value.
// The same in 4 parts (the _splitk impls): a lost part gives 0.75 2^30, a doubled one 1.25 2^30.
// Both kernels (the wgmma one on sm_90a).
TEST(Int8Mma, LargestSumsAreExact) {
  TB_REQUIRE_GPU();
  const DeviceInfo info = Device(0).info();
  if (info.arch() < 80) GTEST_SKIP() << "mma.sync s8 m16n8k32 needs sm_80";
  const Stream stream;
  constexpr int m = 8, n = 8, k = kernels::kInt8MaxK;
  DeviceBuffer a(static_cast<std::size_t>(m) * k, "A"), b(static_cast<std::size_t>(n) * k, "B"), sa(m * 4, "sa"),
      sb(n * 4, "sb"), c(m * n * 2, "C");
  TB_CUDA_CHECK(cudaMemsetAsync(a.get(), 0x80, a.bytes(), stream));
  TB_CUDA_CHECK(cudaMemsetAsync(b.get(), 0x80, b.bytes(), stream));
  const std::vector<float> ones(8, 1.f);
  TB_CUDA_CHECK(cudaMemcpyAsync(sa.get(), ones.data(), sa.bytes(), cudaMemcpyHostToDevice, stream));
  TB_CUDA_CHECK(cudaMemcpyAsync(sb.get(), ones.data(), sb.bytes(), cudaMemcpyHostToDevice, stream));
  const kernels::ScaledGemmArgs args{.a = a.as<const std::uint8_t>(), .b = b.as<const std::uint8_t>(),
                                     .a_scales = sa.as<const float>(), .b_scales = sb.as<const float>(), .c = c.get(),
                                     .c_f32 = false, .s8 = true, .m = m, .n = n, .k = k,
                                     .a_scale = kernels::AScale::Row, .b_scale = kernels::BScale::Col};
  DeviceBuffer parts(kernels::split_k_workspace_bytes(m, n, 4), "the s32 parts");
  for (const Int8Kernel& kernel : int8_kernels_held_to_mma(info))
    for (const int splits : {1, 4}) {
      kernels::ScaledGemmArgs split = args;
      split.k_splits = splits;
      split.workspace = splits > 1 ? parts.get() : nullptr;
      fill_poison(c.get(), c.bytes(), 0xFF, stream);
      fill_poison(parts.get(), parts.bytes(), 0x40, stream);
      kernel.run(split, stream);
      TB_CUDA_CHECK(cudaGetLastError());
      std::vector<__nv_bfloat16> got(m * n);
      TB_CUDA_CHECK(cudaMemcpyAsync(got.data(), c.get(), c.bytes(), cudaMemcpyDeviceToHost, stream));
      TB_CUDA_CHECK(cudaStreamSynchronize(stream));
      for (int e = 0; e < m * n; ++e)
        EXPECT_EQ(__bfloat162float(got[e]), 1073741824.f) << kernel.name << " at " << e << ", k in " << splits
                                                          << " part(s)";
    }
}

}  // namespace
}  // namespace trainbench
