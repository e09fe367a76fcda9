// FP8 scaled-GEMM impls (the scaled_gemm family, E4M3): ours (kernels/quant/sm90_fp8_gemm_1d2d.cu)
// beside cuBLASLt, all verified against the same dequantized oracle.
//
// Inputs: A [m][k] and B [n][k] uniform in [-1, 1] (or [0, 1] for inputs "nonnegative"; BF16,
// fixed seeds) times a factor that changes per row and per 128-wide band (bench/fp8_inputs.hpp),
// quantized to E4M3 by quant.e4m3's kernels with the op's scale layout, so every scale differs
// from its neighbours. C (BF16, column-major m x n) is poisoned with 0xFF (NaN) before the
// verifying launch and compared with kernels::scaled_gemm_reference (FP64 sums of the
// dequantized products) by max |c - ref| / (|ref| + rms(ref)). Tolerances:
// - 2^-7 for the promoting kernels (fp8gemm.wgmma, cuBLASLt without fast accumulation): BF16
//   rounding alone is up to 2^-8; FP8 products are exact in FP32 and the tensor core sums at
//   most 128 of them before each promotion into FP32.
// - 2^-4 for fp8gemm.wgmma_nopromote: its error is what it exists to show (DeepSeek-V3 reports
//   about 2% at k = 4096 on H800 without promotion); the verification error is recorded with
//   the result. A missing k-block or a wrong tile still errs by far more.
#include <cublasLt.h>

#include <climits>
#include <memory>
#include <type_traits>
#include <vector>

#include <fmt/format.h>

#include "bench/fp8_inputs.hpp"
#include "bench/cublas_handles.hpp"
#include "bench/impls.hpp"
#include "bench/scaled_gemm_check.hpp"
#include "harness/device_buffer.hpp"
#include "harness/error.hpp"
#include "kernels/quant/quantize.cuh"
#include "kernels/quant/scaled_gemm.cuh"

namespace trainbench {
namespace {

constexpr std::uint64_t kSeedA = 20261126, kSeedB = 20261127;
constexpr double kTolerancePromoted = 0x1p-7;
constexpr double kToleranceUnpromoted = 0x1p-4;

kernels::AScale a_scale_of(const ScaledGemm& g) {
  return g.a_scale == "tensor" ? kernels::AScale::Tensor : g.a_scale == "row" ? kernels::AScale::Row
                                                                              : kernels::AScale::Group1x128;
}
kernels::BScale b_scale_of(const ScaledGemm& g) {
  return g.b_scale == "tensor" ? kernels::BScale::Tensor : g.b_scale == "col" ? kernels::BScale::Col
                                                                              : kernels::BScale::Block128x128;
}

// What every fp8gemm impl needs: E4M3, scales the quantize kernels write, k for their 16-byte rows.
std::string fp8gemm_unsupported(const Op& op) {
  const auto& g = std::get<ScaledGemm>(op);
  if (g.dtype != "e4m3") return fmt::format("operands must be e4m3, not {}", g.dtype);
  if (g.a_scale != "1x128" && g.a_scale != "tensor")
    return fmt::format("a_scale must be 1x128 or tensor (what quant.e4m3 writes), not {}", g.a_scale);
  if (g.b_scale != "128x128" && g.b_scale != "tensor")
    return fmt::format("b_scale must be 128x128 or tensor (what quant.e4m3 writes), not {}", g.b_scale);
  if (g.m == 0 || g.n == 0 || g.k == 0) return "m, n and k must be positive";
  if (g.m > INT_MAX || g.n > INT_MAX || g.k > INT_MAX) return "m, n and k must fit in a 32-bit int";
  if (g.k % kernels::kFp8GemmKAlign)
    return fmt::format("k must be a multiple of {} (16-byte rows for TMA); got {}", kernels::kFp8GemmKAlign, g.k);
  return "";
}

std::string nopromote_unsupported(const Op& op) {
  if (auto why = fp8gemm_unsupported(op); !why.empty()) return why;
  const auto& g = std::get<ScaledGemm>(op);
  if (g.a_scale != "tensor" || g.b_scale != "tensor")
    return "without promotion the scales are applied once, at the end: exact only for a_scale and b_scale \"tensor\"";
  return "";
}

std::string cublaslt_unsupported(const Op& op) {
  if (auto why = fp8gemm_unsupported(op); !why.empty()) return why;
  const auto& g = std::get<ScaledGemm>(op);
  if (g.a_scale != "tensor" || g.b_scale != "tensor") return "per-tensor scales only (fp8gemm.cublaslt_blockscaled takes 1x128 / 128x128)";
  if (g.m % 16 || g.n % 16) return fmt::format("m and n must be multiples of 16 (cuBLASLt FP8 alignment); got {}x{}", g.m, g.n);
  return "";
}

// The block-scaled modes' own rules (cuBLAS documentation, "Scaling factors layouts"): scale tensors
// 16-byte aligned, m and n multiples of 4. FP8 asks m and n multiples of 16 anyway; k is kept to whole
// 128-blocks (cuBLAS takes ceil(k / 128) blocks), conservatively.
std::string cublaslt_blockscaled_unsupported(const Op& op) {
  if (auto why = fp8gemm_unsupported(op); !why.empty()) return why;
  const auto& g = std::get<ScaledGemm>(op);
  if (g.a_scale != "1x128" || g.b_scale != "128x128") return "a_scale 1x128 and b_scale 128x128 only";
  if (g.m % 16 || g.n % 16 || g.k % 128)
    return fmt::format("m and n must be multiples of 16 and k of 128; got {}x{}x{}", g.m, g.n, g.k);
  return "";
}

kernels::QuantGranularity granularity(const std::string& scale) {
  if (scale == "tensor") return kernels::QuantGranularity::Tensor;
  if (scale == "128x128") return kernels::QuantGranularity::Block128x128;
  return kernels::QuantGranularity::Group1x128;
}

class ScaledGemmCase : public Case {
 public:
  ScaledGemmCase(const ScaledGemm& op, double tolerance)
      : op_(op), tolerance_(tolerance), a_(op.m * op.k, "FP8 operand A"), b_(op.n * op.k, "FP8 operand B"),
        a_scales_(op.a_scale_count() * 4, "the scales of A"), b_scales_(op.b_scale_count() * 4, "the scales of B"),
        amax_(sizeof(float), "the amax workspace"), c_(op.m * op.n * 2, "scaled gemm output C") {}

  void prepare(cudaStream_t stream) override {
    quantize(a_, a_scales_, op_.m, op_.a_scale, kSeedA, stream);
    quantize(b_, b_scales_, op_.n, op_.b_scale, kSeedB, stream);
  }
  void poison(cudaStream_t stream) override { fill_poison(c_.get(), c_.bytes(), 0xFF, stream); }

  Verification check(cudaStream_t stream) override {
    return verify_scaled_gemm(args(), tolerance_, "the dequantized operands", stream);
  }

 protected:
  kernels::ScaledGemmArgs args() const {
    return kernels::ScaledGemmArgs{.a = a_.as<const std::uint8_t>(), .b = b_.as<const std::uint8_t>(),
                                   .a_scales = a_scales_.as<const float>(), .b_scales = b_scales_.as<const float>(),
                                   .c = c_.get(), .c_f32 = false, .s8 = false, .m = static_cast<int>(op_.m),
                                   .n = static_cast<int>(op_.n), .k = static_cast<int>(op_.k),
                                   .a_scale = a_scale_of(op_), .b_scale = b_scale_of(op_)};
  }

  ScaledGemm op_;
  double tolerance_;
  DeviceBuffer a_, b_, a_scales_, b_scales_, amax_, c_;

 private:
  void quantize(const DeviceBuffer& q, const DeviceBuffer& scales, std::uint64_t rows, const std::string& scale,
                std::uint64_t seed, cudaStream_t stream) {
    DeviceBuffer x(rows * op_.k * 2, "a BF16 operand before quantization");
    fill_scaled_gemm_operand(x.as<__nv_bfloat16>(), static_cast<int>(rows), static_cast<int>(op_.k), seed, op_.inputs,
                             stream);
    kernels::QuantArgs qa;
    qa.x = x.as<__nv_bfloat16>();
    qa.q = q.as<std::uint8_t>();
    qa.scales = scales.as<float>();
    qa.rows = static_cast<int>(rows);
    qa.cols = static_cast<int>(op_.k);
    qa.granularity = granularity(scale);
    qa.amax_workspace = amax_.as<float>();
    kernels::quantize_e4m3(qa, stream);
    TB_CUDA_CHECK(cudaGetLastError());
    TB_CUDA_CHECK(cudaStreamSynchronize(stream));  // before x is freed
  }
};

// k_splits > 1 (fp8gemm.wgmma_splitk): k split in that many parts, the FP32 parts in a workspace
// allocated here, outside the timed launches.
class WgmmaFp8Case final : public ScaledGemmCase {
 public:
  WgmmaFp8Case(const ScaledGemm& op, kernels::PromotionSchedule schedule, int k_splits = 1)
      : ScaledGemmCase(op, schedule == kernels::PromotionSchedule::None ? kToleranceUnpromoted : kTolerancePromoted),
        schedule_(schedule), k_splits_(k_splits) {
    if (k_splits_ > 1)
      workspace_ = DeviceBuffer(kernels::split_k_workspace_bytes(static_cast<int>(op.m), static_cast<int>(op.n),
                                                                     k_splits_),
                                "the FP32 parts of the k split");
  }
  void launch(cudaStream_t stream) override {
    kernels::ScaledGemmArgs a = args();
    a.k_splits = k_splits_;
    a.workspace = workspace_.as<float>();
    kernels::fp8_gemm_wgmma_sm90(a, schedule_, stream);
  }

 private:
  kernels::PromotionSchedule schedule_;
  int k_splits_;
  DeviceBuffer workspace_;
};


class WgmmaMulticastFp8Case final : public ScaledGemmCase {
 public:
  explicit WgmmaMulticastFp8Case(const ScaledGemm& op) : ScaledGemmCase(op, kTolerancePromoted) {}
  void launch(cudaStream_t stream) override { kernels::fp8_gemm_wgmma_multicast_sm90(args(), stream); }
};

// cublasLtMatmul in the TN layout (the only one FP8 takes): cuBLASLt's A is our a, stored k x m
// column-major (= [m][k]) and transposed; its B our b, k x n; D column-major m x n in BF16.
// CUBLASLT_MATMUL_DESC_FAST_ACCUM stays at its default 0: cuBLASLt promotes partial sums.
class CublasLtFp8Case final : public ScaledGemmCase {
 public:
  CublasLtFp8Case(const ScaledGemm& op, bool block_scaled)
      : ScaledGemmCase(op, kTolerancePromoted), block_scaled_(block_scaled),
        b_scales_cublas_(block_scaled ? kernels::scale_blocks(int(op.n)) * padded_k_blocks(op.k) * 4 : 4,
                         "B's scales in cuBLASLt's order"),
        workspace_(kCublasLtWorkspaceBytes, "the cuBLASLt workspace"),
        handle_(create_owned<cublasLtHandle_t, cublasLtDestroy>(cublasLtCreate, "cublasLtCreate")),
        desc_(create_owned<cublasLtMatmulDesc_t, cublasLtMatmulDescDestroy>(cublasLtMatmulDescCreate,
                                                                      "cublasLtMatmulDescCreate", CUBLAS_COMPUTE_32F,
                                                                      CUDA_R_32F)),
        preference_(create_owned<cublasLtMatmulPreference_t, cublasLtMatmulPreferenceDestroy>(
            cublasLtMatmulPreferenceCreate, "cublasLtMatmulPreferenceCreate")) {
    const cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
    TB_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(desc_.get(), CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta));
    TB_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(desc_.get(), CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb));
    const void* sa = a_scales_.get();
    const void* sb = block_scaled_ ? b_scales_cublas_.get() : b_scales_.get();
    TB_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(desc_.get(), CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, &sa, sizeof sa));
    TB_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(desc_.get(), CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, &sb, sizeof sb));
    if (block_scaled_) {
      const std::int32_t a_mode = CUBLASLT_MATMUL_MATRIX_SCALE_VEC128_32F;
      const std::int32_t b_mode = CUBLASLT_MATMUL_MATRIX_SCALE_BLK128x128_32F;
      TB_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(desc_.get(), CUBLASLT_MATMUL_DESC_A_SCALE_MODE, &a_mode, sizeof a_mode));
      TB_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(desc_.get(), CUBLASLT_MATMUL_DESC_B_SCALE_MODE, &b_mode, sizeof b_mode));
    }
    const std::uint64_t m = op.m, n = op.n, k = op.k;
    a_layout_ = cublaslt_layout(CUDA_R_8F_E4M3, k, m);
    b_layout_ = cublaslt_layout(CUDA_R_8F_E4M3, k, n);
    c_layout_ = cublaslt_layout(CUDA_R_16BF, m, n);
    const auto algo = cublaslt_first_algo(handle_.get(), desc_.get(), a_layout_.get(), b_layout_.get(),
                                          c_layout_.get(), preference_.get());
    if (!algo) throw Error(fmt::format("cuBLASLt's heuristic offers no FP8 algorithm for {}", op_label(Op{op})));
    algo_ = *algo;
  }

  void prepare(cudaStream_t stream) override {
    ScaledGemmCase::prepare(stream);
    if (block_scaled_) reorder_b_scales(stream);
  }

  void launch(cudaStream_t stream) override {
    const float alpha = 1.f, beta = 0.f;
    TB_CUBLAS_CHECK(cublasLtMatmul(handle_.get(), desc_.get(), &alpha, a_.get(), a_layout_.get(), b_.get(),
                                   b_layout_.get(), &beta, c_.get(), c_layout_.get(), c_.get(), c_layout_.get(), &algo_,
                                   workspace_.get(), workspace_.bytes(), stream));
  }

 private:
  // cuBLASLt's scale grids (cuBLAS documentation, "1D and 128x128 2D block scaling for FP8 data
  // types"; PyTorch's blockwise torch._scaled_mm tests lay them out the same way): A's VEC128 grid
  // is outer-dimension-major, [ceil(k/128)][m], as quant.e4m3 writes it; B's BLK128x128 grid is
  // k-block-major with the k-blocks padded to a multiple of 4, [ceil(n/128)][round_up(ceil(k/128),
  // 4)], zeros in the padding. (The first guess, [ceil(k/128)][ceil(n/128)], failed verification
  // on an H200 at every shape with a normwise error of 0.8.) Verification against the dequantized
  // oracle decides: a wrong layout fails it and gets no number.
  static std::size_t padded_k_blocks(std::uint64_t k) { return (kernels::scale_blocks(int(k)) + 3) / 4 * 4; }

  void reorder_b_scales(cudaStream_t stream) {
    const std::size_t nb = kernels::scale_blocks(int(op_.n)), kb = kernels::scale_blocks(int(op_.k)),
                      kb4 = padded_k_blocks(op_.k);
    std::vector<float> ours(nb * kb), theirs(nb * kb4, 0.f);
    TB_CUDA_CHECK(cudaMemcpyAsync(ours.data(), b_scales_.get(), ours.size() * 4, cudaMemcpyDeviceToHost, stream));
    TB_CUDA_CHECK(cudaStreamSynchronize(stream));
    for (std::size_t j = 0; j < nb; ++j)
      for (std::size_t p = 0; p < kb; ++p) theirs[j * kb4 + p] = ours[j * kb + p];
    TB_CUDA_CHECK(cudaMemcpyAsync(b_scales_cublas_.get(), theirs.data(), theirs.size() * 4, cudaMemcpyHostToDevice, stream));
    TB_CUDA_CHECK(cudaStreamSynchronize(stream));
  }

  bool block_scaled_;
  DeviceBuffer b_scales_cublas_, workspace_;
  Owned<cublasLtHandle_t, cublasLtDestroy> handle_;
  Owned<cublasLtMatmulDesc_t, cublasLtMatmulDescDestroy> desc_;
  Owned<cublasLtMatmulPreference_t, cublasLtMatmulPreferenceDestroy> preference_;
  CublasLtLayout a_layout_, b_layout_, c_layout_;
  cublasLtMatmulAlgo_t algo_{};
};

template <typename CaseT, typename Flag>
std::function<std::unique_ptr<Case>(const Op&, const DeviceInfo&)> make_case(Flag flag) {
  return [=](const Op& op, const DeviceInfo&) -> std::unique_ptr<Case> {
    return std::make_unique<CaseT>(std::get<ScaledGemm>(op), flag);
  };
}

}  // namespace

void register_fp8_impls(Registry& r) {
  r.add(Impl{.name = "fp8gemm.wgmma",
             .family = ScaledGemm::family,
             .description = "E4M3 wgmma m64n128k32, FP32 promotion every 128 of k with 1x128 / 128x128 scales, TMA "
                            "producer + 2 consumers (setmaxnreg 40/232), persistent, 128x128x128 tiles "
                            "(kernels/quant/sm90_fp8_gemm_1d2d.cu)",
             .vendor = false,
             .min_arch = 90,
             .max_arch = 90,
             .unsupported = fp8gemm_unsupported,
             .make = make_case<WgmmaFp8Case>(kernels::PromotionSchedule::Serial)});
  r.add(Impl{.name = "fp8gemm.wgmma_overlap",
             .family = ScaledGemm::family,
             .description = "fp8gemm.wgmma with a second accumulator set: each consumer issues the next k-block's "
                            "wgmmas before promoting the last (wgmma wait 1), the same sums in the same order",
             .vendor = false,
             .min_arch = 90,
             .max_arch = 90,
             .unsupported = fp8gemm_unsupported,
             .make = make_case<WgmmaFp8Case>(kernels::PromotionSchedule::Overlapped)});
  r.add(Impl{.name = "fp8gemm.wgmma_splitk",
             .family = ScaledGemm::family,
             .description = "fp8gemm.wgmma_overlap with k split where the tiles fill at most half the SMs "
                            "(scaled_gemm_k_splits: 2 to 4 parts of >= 8 k-blocks, FP32 parts added in order by a second "
                            "kernel); without a split, fp8gemm.wgmma_overlap itself",
             .vendor = false,
             .min_arch = 90,
             .max_arch = 90,
             .unsupported = fp8gemm_unsupported,
             .make = [](const Op& op, const DeviceInfo& device) -> std::unique_ptr<Case> {
               const auto& g = std::get<ScaledGemm>(op);
               return std::make_unique<WgmmaFp8Case>(g, kernels::PromotionSchedule::Overlapped,
                                                     kernels::planned_k_splits(g.m, g.n, g.k, device.sm_count));
             }});
  r.add(Impl{.name = "fp8gemm.wgmma_multicast",
             .family = ScaledGemm::family,
             .description = "fp8gemm.wgmma_overlap in 2-CTA clusters: the pair's tiles share a's rows, each CTA loads "
                            "half of every a k-tile and TMA-multicasts it to both "
                            "(kernels/quant/sm90_fp8_gemm_1d2d_cluster.cu)",
             .vendor = false,
             .min_arch = 90,
             .max_arch = 90,
             .unsupported = fp8gemm_unsupported,
             .make = [](const Op& op, const DeviceInfo&) -> std::unique_ptr<Case> {
               return std::make_unique<WgmmaMulticastFp8Case>(std::get<ScaledGemm>(op));
             }});
  r.add(Impl{.name = "fp8gemm.wgmma_nopromote",
             .family = ScaledGemm::family,
             .description = "fp8gemm.wgmma summing all of k in the wgmma accumulators, per-tensor scales applied at "
                            "the end (the accuracy cost of no promotion)",
             .vendor = false,
             .min_arch = 90,
             .max_arch = 90,
             .unsupported = nopromote_unsupported,
             .make = make_case<WgmmaFp8Case>(kernels::PromotionSchedule::None)});
  r.add(Impl{.name = "fp8gemm.cublaslt",
             .family = ScaledGemm::family,
             .description = "cublasLtMatmul E4M3 TN, per-tensor A/B scale pointers, BF16 out, heuristic's first "
                            "algorithm",
             .vendor = true,
             .min_arch = 89,
             .max_arch = 0,
             .unsupported = cublaslt_unsupported,
             .make = make_case<CublasLtFp8Case>(false)});
  r.add(Impl{.name = "fp8gemm.cublaslt_blockscaled",
             .family = ScaledGemm::family,
             .description = "cublasLtMatmul E4M3 TN, A scales VEC128_32F ([k/128][m]), B scales "
                            "BLK128x128_32F ([n/128][k/128 padded to 4]), BF16 out",
             .vendor = true,
             .min_arch = 90,
             .max_arch = 90,
             .unsupported = cublaslt_blockscaled_unsupported,
             .make = make_case<CublasLtFp8Case>(true)});
}

}  // namespace trainbench
