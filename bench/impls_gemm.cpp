// BF16 GEMM impls: our kernels (kernels/gemm/, simplest first) beside cuBLAS and cuBLASLt, all
// bound to the op the same way and verified against the same oracle.
//
// Verification: A and B are uniform in [-1, 1] (BF16, fixed seeds, never zero), C is poisoned
// with 0xFF (NaN) before the one verifying launch, and C is compared with the FP32 SIMT oracle
// (kernels/gemm/reference.cu) by max |c - ref| / (|ref| + rms(ref)). Tolerances:
// - BF16 output: 2^-7. Rounding to BF16 alone costs up to 2^-8 relative; FP32 accumulation
//   order (tensor-core trees, split-K) adds orders of magnitude less at these sizes.
// - FP32 output: 2^-10. Only accumulation order differs: about sqrt(k) 2^-24 relative, under
//   1e-5 at k = 16384; the bound leaves room for truncating tensor-core accumulation.
// Any real defect (a missed k-tile, a wrong tile, an unwritten element) errs by 1e-2 or more.
#include <cublasLt.h>
#include <cublas_v2.h>

#include <climits>
#include <memory>
#include <type_traits>

#include <fmt/format.h>

#include "bench/cublas_handles.hpp"
#include "bench/impls.hpp"
#include "harness/device_buffer.hpp"
#include "harness/error.hpp"
#include "harness/verify.hpp"
#include "kernels/gemm/gemm.cuh"

namespace trainbench {
namespace {

constexpr std::uint64_t kSeedA = 20261124, kSeedB = 20261125;
constexpr double kToleranceBf16Out = 0x1p-7;
constexpr double kToleranceF32Out = 0x1p-10;

kernels::GemmLayout gemm_layout(const std::string& layout) {
  if (layout == "tn") return kernels::GemmLayout::TN;
  if (layout == "nn") return kernels::GemmLayout::NN;
  if (layout == "nt") return kernels::GemmLayout::NT;
  throw Error(fmt::format("gemm layout \"{}\" is not one of tn, nn, nt", layout));
}

// Shared by every gemm impl: what the op itself rules out.
std::string gemm_unsupported(const Op& op) {
  const auto& g = std::get<Gemm>(op);
  if (g.dtype != "bf16") return fmt::format("inputs must be bf16, not {}", g.dtype);
  if (g.out_dtype != "bf16" && g.out_dtype != "f32") return fmt::format("output must be bf16 or f32, not {}", g.out_dtype);
  if (g.layout != "tn" && g.layout != "nn" && g.layout != "nt") return fmt::format("layout must be tn, nn or nt, not {}", g.layout);
  if (g.m == 0 || g.n == 0 || g.k == 0) return "m, n and k must be positive";
  if (g.m > INT_MAX || g.n > INT_MAX || g.k > INT_MAX) return "m, n and k must fit in a 32-bit int";
  return "";
}

std::string gemm_mma_unsupported(const Op& op) {
  if (auto why = gemm_unsupported(op); !why.empty()) return why;
  const auto& g = std::get<Gemm>(op);
  constexpr auto a = static_cast<std::uint64_t>(kernels::kMmaGemmAlign);
  if (g.m % a || g.n % a || g.k % a)
    return fmt::format("m, n and k must be multiples of {} (16-byte rows for cp.async); got {}x{}x{}", a, g.m, g.n, g.k);
  return "";
}

// The Hopper kernels read A and B through TMA tensor maps, whose row pitch must be a multiple of
// 16 bytes; tails past the tiles are TMA's zero fill and predicated stores.
std::string gemm_sm90_unsupported(const Op& op) {
  if (auto why = gemm_unsupported(op); !why.empty()) return why;
  const auto& g = std::get<Gemm>(op);
  constexpr auto a = static_cast<std::uint64_t>(kernels::kSm90GemmAlign);
  if (g.m % a || g.n % a || g.k % a)
    return fmt::format("m, n and k must be multiples of {} (16-byte row pitch for TMA); got {}x{}x{}", a, g.m, g.n, g.k);
  return "";
}

class GemmCase : public Case {
 public:
  explicit GemmCase(const Gemm& op)
      : op_(op), m_(op.m), n_(op.n), k_(op.k), out_f32_(op.out_dtype == "f32"),
        a_(op.m * op.k * 2, "gemm operand A"), b_(op.k * op.n * 2, "gemm operand B"),
        c_(op.m * op.n * (out_f32_ ? 4 : 2), "gemm output C") {}

  void prepare(cudaStream_t stream) override {
    fill_uniform_bf16(a_.get(), m_ * k_, kSeedA, stream);
    fill_uniform_bf16(b_.get(), k_ * n_, kSeedB, stream);
  }
  void poison(cudaStream_t stream) override { fill_poison(c_.get(), c_.bytes(), 0xFF, stream); }

  Verification check(cudaStream_t stream) override {
    DeviceBuffer want(m_ * n_ * 4, "the reference output");
    kernels::GemmArgs ref = args();
    ref.c = want.get();
    ref.c_f32 = true;
    kernels::gemm_reference(ref, stream);
    TB_CUDA_CHECK(cudaGetLastError());
    const ReferenceComparison r = compare_with_reference(c_.get(), out_f32_ ? FloatType::F32 : FloatType::Bf16,
                                                         want.as<float>(), m_ * n_, stream);
    Verification v;
    v.error = r.max_error;
    v.tolerance = out_f32_ ? kToleranceF32Out : kToleranceBf16Out;
    v.detail = fmt::format(
        "max |c - ref| / (|ref| + rms(ref)) against the FP32 SIMT oracle; rms(ref) {:.3g}; worst at (i, j) = ({}, {}); "
        "{} non-finite outputs",
        r.rms_reference, r.worst_index % m_, r.worst_index / m_, r.nonfinite);
    return v;
  }

 protected:
  kernels::GemmArgs args() const {
    return kernels::GemmArgs{.a = a_.as<const __nv_bfloat16>(), .b = b_.as<const __nv_bfloat16>(), .c = c_.get(),
                             .c_f32 = out_f32_, .m = static_cast<int>(m_), .n = static_cast<int>(n_),
                             .k = static_cast<int>(k_), .layout = gemm_layout(op_.layout)};
  }

  Gemm op_;
  std::size_t m_, n_, k_;
  bool out_f32_;
  DeviceBuffer a_, b_, c_;
};

// One of ours: a function from kernels/gemm/gemm.cuh.
class KernelGemmCase final : public GemmCase {
 public:
  using Launcher = void (*)(const kernels::GemmArgs&, cudaStream_t);
  KernelGemmCase(const Gemm& op, Launcher launcher) : GemmCase(op), launcher_(launcher) {}
  void launch(cudaStream_t stream) override { launcher_(args(), stream); }

 private:
  Launcher launcher_;
};

cublasOperation_t op_a(const Gemm& g) { return g.layout == "tn" ? CUBLAS_OP_T : CUBLAS_OP_N; }
cublasOperation_t op_b(const Gemm& g) { return g.layout == "nt" ? CUBLAS_OP_T : CUBLAS_OP_N; }

class CublasGemmCase final : public GemmCase {
 public:
  explicit CublasGemmCase(const Gemm& op)
      : GemmCase(op), handle_(create_owned<cublasHandle_t, cublasDestroy>(cublasCreate, "cublasCreate")) {}

  void launch(cudaStream_t stream) override {
    const float alpha = 1.f, beta = 0.f;
    const int m = static_cast<int>(m_), n = static_cast<int>(n_), k = static_cast<int>(k_);
    const cublasOperation_t ta = op_a(op_), tb = op_b(op_);
    TB_CUBLAS_CHECK(cublasSetStream(handle_.get(), stream));
    TB_CUBLAS_CHECK(cublasGemmEx(handle_.get(), ta, tb, m, n, k, &alpha, a_.get(), CUDA_R_16BF,
                                 ta == CUBLAS_OP_T ? k : m, b_.get(), CUDA_R_16BF, tb == CUBLAS_OP_T ? n : k, &beta,
                                 c_.get(), out_f32_ ? CUDA_R_32F : CUDA_R_16BF, m, CUBLAS_COMPUTE_32F,
                                 CUBLAS_GEMM_DEFAULT));
  }

 private:
  Owned<cublasHandle_t, cublasDestroy> handle_;
};

class CublasLtGemmCase final : public GemmCase {
 public:
  explicit CublasLtGemmCase(const Gemm& op)
      : GemmCase(op), workspace_(kCublasLtWorkspaceBytes, "the cuBLASLt workspace"),
        handle_(create_owned<cublasLtHandle_t, cublasLtDestroy>(cublasLtCreate, "cublasLtCreate")),
        desc_(create_owned<cublasLtMatmulDesc_t, cublasLtMatmulDescDestroy>(cublasLtMatmulDescCreate,
                                                                      "cublasLtMatmulDescCreate", CUBLAS_COMPUTE_32F,
                                                                      CUDA_R_32F)),
        preference_(create_owned<cublasLtMatmulPreference_t, cublasLtMatmulPreferenceDestroy>(
            cublasLtMatmulPreferenceCreate, "cublasLtMatmulPreferenceCreate")) {
    const std::uint64_t m = m_, n = n_, k = k_;
    const cublasOperation_t ta = op_a(op_), tb = op_b(op_);
    TB_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(desc_.get(), CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta));
    TB_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(desc_.get(), CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb));
    // Stored shapes, column-major with ld = rows.
    const bool at = ta == CUBLAS_OP_T, bt = tb == CUBLAS_OP_T;
    a_layout_ = cublaslt_layout(CUDA_R_16BF, at ? k : m, at ? m : k);
    b_layout_ = cublaslt_layout(CUDA_R_16BF, bt ? n : k, bt ? k : n);
    c_layout_ = cublaslt_layout(out_f32_ ? CUDA_R_32F : CUDA_R_16BF, m, n);
    const auto algo = cublaslt_first_algo(handle_.get(), desc_.get(), a_layout_.get(), b_layout_.get(),
                                          c_layout_.get(), preference_.get());
    if (!algo)
      throw Error(fmt::format("cuBLASLt's heuristic offers no algorithm for {}; gemm.cublas may take it",
                              op_label(Op{op})));
    algo_ = *algo;
  }

  void launch(cudaStream_t stream) override {
    const float alpha = 1.f, beta = 0.f;
    TB_CUBLAS_CHECK(cublasLtMatmul(handle_.get(), desc_.get(), &alpha, a_.get(), a_layout_.get(), b_.get(),
                                   b_layout_.get(), &beta, c_.get(), c_layout_.get(), c_.get(), c_layout_.get(), &algo_,
                                   workspace_.get(), workspace_.bytes(), stream));
  }

 private:
  DeviceBuffer workspace_;
  Owned<cublasLtHandle_t, cublasLtDestroy> handle_;
  Owned<cublasLtMatmulDesc_t, cublasLtMatmulDescDestroy> desc_;
  Owned<cublasLtMatmulPreference_t, cublasLtMatmulPreferenceDestroy> preference_;
  CublasLtLayout a_layout_, b_layout_, c_layout_;
  cublasLtMatmulAlgo_t algo_{};
};

template <typename CaseT, typename... Extra>
std::function<std::unique_ptr<Case>(const Op&, const DeviceInfo&)> make_gemm(Extra... extra) {
  return [=](const Op& op, const DeviceInfo&) -> std::unique_ptr<Case> {
    return std::make_unique<CaseT>(std::get<Gemm>(op), extra...);
  };
}

}  // namespace

void register_gemm_impls(Registry& r) {
  // Ours, simplest first.
  r.add(Impl{.name = "gemm.simt",
             .family = Gemm::family,
             .description = "SIMT FP32 FMA, 64x64 tiles, 4x4 outputs per thread (kernels/gemm/1_simt_bf16_gemm.cu)",
             .vendor = false,
             .min_arch = 80,
             .max_arch = 0,
             .unsupported = gemm_unsupported,
             .make = make_gemm<KernelGemmCase>(&kernels::gemm_simt)});
  r.add(Impl{.name = "gemm.mma",
             .family = Gemm::family,
             .description = "mma.sync m16n8k16 + ldmatrix, 3-stage cp.async, 128x128x64 tiles "
                            "(kernels/gemm/2_sm80_bf16_gemm_mma.cu)",
             .vendor = false,
             .min_arch = 80,
             .max_arch = 0,
             .unsupported = gemm_mma_unsupported,
             .make = make_gemm<KernelGemmCase>(&kernels::gemm_mma_sm80)});
  r.add(Impl{.name = "gemm.mma_128x256",
             .family = Gemm::family,
             .description = "gemm.mma with 128x256x64 tiles and 64x64 warp tiles (8 warps, 128 accumulators per "
                            "thread, 144 KiB; kernels/gemm/2_sm80_bf16_gemm_mma.cu)",
             .vendor = false,
             .min_arch = 80,
             .max_arch = 0,
             .min_smem_per_block = kernels::kMmaGemm128x256SmemBytes,
             .unsupported = gemm_mma_unsupported,
             .make = make_gemm<KernelGemmCase>(&kernels::gemm_mma_128x256_sm80)});
  r.add(Impl{.name = "gemm.wgmma_tma",
             .family = Gemm::family,
             .description = "TMA into 128B-swizzled shared memory, 4-stage mbarrier ring, wgmma m64n128k16, "
                            "128x128x64 tiles (kernels/gemm/3_sm90_bf16_gemm_tma_wgmma.cu)",
             .vendor = false,
             .min_arch = 90,
             .max_arch = 90,
             .unsupported = gemm_sm90_unsupported,
             .make = make_gemm<KernelGemmCase>(&kernels::gemm_wgmma_tma_sm90)});
  r.add(Impl{.name = "gemm.wgmma_ws",
             .family = Gemm::family,
             .description = "warp-specialized TMA producer + 2 wgmma m64n256k16 consumers (setmaxnreg 40/232), "
                            "persistent grid, grouped tile order, 128x256x64 tiles (kernels/gemm/4_sm90_bf16_gemm_ws.cu)",
             .vendor = false,
             .min_arch = 90,
             .max_arch = 90,
             .unsupported = gemm_sm90_unsupported,
             .make = make_gemm<KernelGemmCase>(&kernels::gemm_wgmma_ws_sm90)});
  r.add(Impl{.name = "gemm.wgmma",
             .family = Gemm::family,
             .description = "gemm.wgmma_ws in 2-CTA clusters sharing A by TMA multicast, stmatrix + TMA-store "
                            "epilogue (kernels/gemm/5_sm90_bf16_gemm_cluster.cu)",
             .vendor = false,
             .min_arch = 90,
             .max_arch = 90,
             .unsupported = gemm_sm90_unsupported,
             .make = make_gemm<KernelGemmCase>(&kernels::gemm_wgmma_cluster_sm90)});
  r.add(Impl{.name = "gemm.wgmma_128x128",
             .family = Gemm::family,
             .description = "gemm.wgmma on 128x128 tiles (m64n128k16, 6 stages): twice the tiles, against the idle "
                            "last wave of shapes with few 256x128 tiles (kernels/gemm/5_sm90_bf16_gemm_cluster.cu, "
                            "version 5b)",
             .vendor = false,
             .min_arch = 90,
             .max_arch = 90,
             .unsupported = gemm_sm90_unsupported,
             .make = make_gemm<KernelGemmCase>(&kernels::gemm_wgmma_cluster_128_sm90)});
  // Vendor baselines.
  r.add(Impl{.name = "gemm.cublas",
             .family = Gemm::family,
             .description = "cublasGemmEx, BF16 in, CUBLAS_COMPUTE_32F, default algorithm",
             .vendor = true,
             .min_arch = 80,
             .max_arch = 0,
             .unsupported = gemm_unsupported,
             .make = make_gemm<CublasGemmCase>()});
  r.add(Impl{.name = "gemm.cublaslt",
             .family = Gemm::family,
             .description = "cublasLtMatmul, BF16 in, CUBLAS_COMPUTE_32F, the heuristic's first algorithm, 32 MiB workspace",
             .vendor = true,
             .min_arch = 80,
             .max_arch = 0,
             .unsupported = gemm_unsupported,
             .make = make_gemm<CublasLtGemmCase>()});
}

}  // namespace trainbench
