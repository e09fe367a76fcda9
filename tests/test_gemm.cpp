// The GEMM impls' host side, without a GPU: the shared-memory swizzle the mma kernel relies on,
// what each impl accepts and why it refuses, and the suites that run them.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <utility>

#include "bench/impls.hpp"
#include "bench/suites.hpp"
#include "kernels/common/swizzle.cuh"

namespace trainbench {
namespace {

template <int kChunks>
void expect_swizzle_is_conflict_free_permutation() {
  constexpr int kRows = 64;
  for (int row = 0; row < kRows; ++row) {
    std::set<std::uint32_t> offsets;
    for (int chunk = 0; chunk < kChunks; ++chunk) {
      const std::uint32_t at = kernels::swizzle_xor_chunk<kChunks>(row, chunk);
      EXPECT_EQ(at % 16, 0u);
      EXPECT_GE(at, std::uint32_t(row * kChunks * 16)) << "row " << row << " chunk " << chunk;
      EXPECT_LT(at, std::uint32_t((row + 1) * kChunks * 16)) << "row " << row << " chunk " << chunk;
      offsets.insert(at);
    }
    EXPECT_EQ(offsets.size(), std::size_t(kChunks)) << "row " << row << " is not a permutation";
  }
  // ldmatrix and cp.async touch one logical chunk of 8 consecutive rows (starting at a multiple
  // of 8) at a time: those 8 chunks must sit in 8 distinct 16-byte bank groups.
  for (int row0 = 0; row0 < kRows; row0 += 8)
    for (int chunk = 0; chunk < kChunks; ++chunk) {
      std::set<std::uint32_t> groups;
      for (int r = 0; r < 8; ++r) groups.insert(kernels::swizzle_xor_chunk<kChunks>(row0 + r, chunk) / 16 % 8);
      EXPECT_EQ(groups.size(), 8u) << "bank conflict at rows " << row0 << "+, chunk " << chunk;
    }
}

TEST(GemmSwizzle, ConflictFreePermutationFor128ByteRows) { expect_swizzle_is_conflict_free_permutation<8>(); }
TEST(GemmSwizzle, ConflictFreePermutationFor256ByteRows) { expect_swizzle_is_conflict_free_permutation<16>(); }

Gemm gemm(std::uint64_t m, std::uint64_t n, std::uint64_t k, const char* layout = "tn") {
  return Gemm{.m = m, .n = n, .k = k, .layout = layout};
}

TEST(GemmImpls, RegisteredOursAndTheVendors) {
  register_all_impls();
  for (const char* name : {"gemm.simt", "gemm.mma", "gemm.mma_128x256", "gemm.cublas", "gemm.cublaslt"}) {
    const Impl& impl = registry().find(name);
    EXPECT_EQ(impl.family, "gemm") << name;
    EXPECT_EQ(impl.min_arch, 80) << name;
    EXPECT_FALSE(impl.description.empty()) << name;
  }
  EXPECT_TRUE(registry().find("gemm.cublas").vendor);
  EXPECT_TRUE(registry().find("gemm.cublaslt").vendor);
  EXPECT_FALSE(registry().find("gemm.mma").vendor);
}

TEST(GemmImpls, EveryImplTakesEveryLayoutAndOutputAtMultiplesOf8) {
  register_all_impls();
  for (const auto& impl : registry().all()) {
    if (impl.family != "gemm") continue;
    for (const char* layout : {"tn", "nn", "nt"})
      for (const char* out : {"bf16", "f32"})
        for (const auto& [m, n, k] : {std::tuple{8, 8, 8}, {136, 264, 72}, {1000, 1008, 992}, {16384, 16384, 16384}}) {
          Gemm g = gemm(m, n, k, layout);
          g.out_dtype = out;
          EXPECT_EQ(impl.unsupported(g), "") << impl.name << " " << op_label(g);
        }
  }
}

TEST(GemmImpls, HopperKernelsNeedSm90aExactly) {
  register_all_impls();
  for (const char* name : {"gemm.wgmma_tma", "gemm.wgmma_ws", "gemm.wgmma", "gemm.wgmma_128x128"}) {
    const Impl& impl = registry().find(name);
    EXPECT_EQ(impl.family, "gemm") << name;
    EXPECT_FALSE(impl.vendor) << name;
    EXPECT_EQ(impl.min_arch, 90) << name;
    EXPECT_EQ(impl.max_arch, 90) << name;  // sm_90a machine code runs on no later chip
    EXPECT_NE(impl.description.find("kernels/gemm/"), std::string::npos) << name;
    DeviceInfo device;
    for (const auto& [major, minor] : {std::pair{8, 0}, {8, 9}, {10, 0}, {12, 0}}) {
      device.cc_major = major;
      device.cc_minor = minor;
      EXPECT_NE(unavailable_reason(impl, device).find("sm_90a"), std::string::npos) << name << " " << major << minor;
    }
    device.cc_major = 9;
    device.cc_minor = 0;
    EXPECT_EQ(unavailable_reason(impl, device), "") << name;
  }
}

// gemm.mma_128x256's 144 KiB per block: A100 (163 KiB) and H100 (227 KiB) give it, an L40 or
// RTX 4090 (sm_89, 99 KiB) does not, and says so; gemm.mma's 96 KiB run everywhere.
TEST(GemmImpls, The128x256MmaKernelNeedsItsSharedMemoryAndSaysSo) {
  register_all_impls();
  const Impl& wide = registry().find("gemm.mma_128x256");
  EXPECT_EQ(wide.min_smem_per_block, 3u * (128 + 256) * 64 * 2);
  DeviceInfo device;
  device.name = "NVIDIA L40S";
  device.cc_major = 8;
  device.cc_minor = 9;
  device.smem_per_block_optin = 101376;
  const std::string why = unavailable_reason(wide, device);
  EXPECT_NE(why.find("147456 bytes of shared memory"), std::string::npos) << why;
  EXPECT_NE(why.find("101376"), std::string::npos) << why;
  EXPECT_EQ(unavailable_reason(registry().find("gemm.mma"), device), "");
  for (const auto& [major, optin] : {std::pair{8, 166912}, {9, 232448}}) {
    device.cc_major = major;
    device.cc_minor = 0;
    device.smem_per_block_optin = static_cast<std::uint64_t>(optin);
    EXPECT_EQ(unavailable_reason(wide, device), "") << major;
  }
}

TEST(GemmImpls, MmaAndHopperKernelsRefuseShapesThatAreNotMultiplesOf8AndSayWhy) {
  register_all_impls();
  for (const char* name :
       {"gemm.mma", "gemm.mma_128x256", "gemm.wgmma_tma", "gemm.wgmma_ws", "gemm.wgmma", "gemm.wgmma_128x128"})
    for (const auto& [m, n, k] : {std::tuple{1000, 1000, 1001}, {12, 8, 8}, {8, 4, 8}}) {
      const std::string why = registry().find(name).unsupported(gemm(m, n, k));
      EXPECT_NE(why.find("multiples of 8"), std::string::npos) << name << ": " << why;
    }
  // The SIMT kernel and cuBLAS take any shape.
  for (const char* name : {"gemm.simt", "gemm.cublas"}) EXPECT_EQ(registry().find(name).unsupported(gemm(7, 13, 5)), "");
}

TEST(GemmImpls, EveryImplRefusesWhatTheOpRulesOut) {
  register_all_impls();
  for (const auto& impl : registry().all()) {
    if (impl.family != "gemm") continue;
    Gemm f16 = gemm(64, 64, 64);
    f16.dtype = "f16";
    EXPECT_NE(impl.unsupported(f16), "") << impl.name;
    EXPECT_NE(impl.unsupported(gemm(64, 64, 0)), "") << impl.name;
    EXPECT_NE(impl.unsupported(gemm(64, 64, 64, "tt")), "") << impl.name;
    EXPECT_NE(impl.unsupported(gemm(1ull << 32, 8, 8)), "") << impl.name;
  }
}

TEST(GemmSuites, SquareSuiteCoversEveryGemmImplFrom512To16384) {
  register_all_impls();
  std::vector<std::string> gemm_impls;
  for (const auto& impl : registry().all())
    if (impl.family == "gemm") gemm_impls.push_back(impl.name);
  const Suite& square = find_suite("gemm-square");
  std::vector<std::uint64_t> sizes;
  for (const auto& e : square.entries) {
    const auto& g = std::get<Gemm>(e.op);
    EXPECT_TRUE(g.m == g.n && g.n == g.k);
    sizes.push_back(g.m);
    for (const auto& name : gemm_impls)
      EXPECT_NE(std::find(e.impls.begin(), e.impls.end(), name), e.impls.end()) << name << " missing";
    for (const auto& name : e.impls) EXPECT_NO_THROW(registry().find(name));
  }
  EXPECT_EQ(sizes, (std::vector<std::uint64_t>{512, 1024, 2048, 4096, 8192, 16384}));
}

TEST(GemmSuites, QuickHasOneGemmBesideCublasAndFullHasTheSquareSuite) {
  std::size_t quick_gemms = 0;
  for (const auto& e : find_suite("quick").entries)
    if (std::holds_alternative<Gemm>(e.op)) {
      ++quick_gemms;
      EXPECT_EQ(op_label(e.op), op_label(gemm(4096, 4096, 4096)));
      EXPECT_NE(std::find(e.impls.begin(), e.impls.end(), "gemm.cublas"), e.impls.end());
      EXPECT_GE(e.impls.size(), 2u);
    }
  EXPECT_EQ(quick_gemms, 1u);
  std::size_t full_gemms = 0;
  for (const auto& e : find_suite("full").entries) full_gemms += std::holds_alternative<Gemm>(e.op);
  EXPECT_EQ(full_gemms, find_suite("gemm-square").entries.size());
}

}  // namespace
}  // namespace trainbench
