// INT8 scaled-GEMM impls (the scaled_gemm family, dtype s8, a_scale "row", b_scale "col"): ours
// (kernels/quant/2_sm80_int8_gemm_mma.cu, 3_sm90_int8_gemm_wgmma.cu) beside cuBLASLt, both verified against the same
// dequantized FP64 oracle as the FP8 impls (kernels::scaled_gemm_reference, s8 = true).
//
// Inputs: A [m][k] and B [n][k] uniform in [-1, 1] (or [0, 1] for inputs "nonnegative"; BF16,
// fixed seeds) times the per-row and per-128-band factors of bench/fp8_inputs.hpp, each row
// quantized to s8 with scale amax / 127 (bench/int8_kernels.hpp), so the scales differ from row
// to row and a kernel applying the wrong one fails. C (BF16, column-major m x n) is poisoned
// with 0xFF (NaN) before the verifying launch and compared by max |c - ref| / (|ref| + rms(ref)).
// Tolerance 2^-8: the s32 sums are exact (k <= 2^16), the FP32 conversion and two scale
// multiplies cost about 2^-23, and BF16 rounding of the result up to 2^-9. A wrong scale, a
// missing k-tile or a misplaced tile errs by far more.
#include <cublasLt.h>

#include <climits>
#include <memory>
#include <type_traits>

#include <fmt/format.h>

#include "bench/fp8_inputs.hpp"
#include "bench/cublas_handles.hpp"
#include "bench/impls.hpp"
#include "bench/scaled_gemm_check.hpp"
#include "bench/int8_kernels.hpp"
#include "harness/device_buffer.hpp"
#include "harness/error.hpp"
#include "kernels/quant/int8_gemm.cuh"
#include "kernels/quant/scaled_gemm.cuh"

namespace trainbench {
namespace {

constexpr std::uint64_t kSeedA = 20261128, kSeedB = 20261129;
constexpr double kTolerance = 0x1p-8;

// What every int8gemm impl needs: s8, the scales the inputs' quantizer writes, sums that cannot wrap.
std::string int8gemm_unsupported(const Op& op) {
  const auto& g = std::get<ScaledGemm>(op);
  if (g.dtype != "s8") return fmt::format("operands must be s8, not {}", g.dtype);
  if (g.a_scale != "row" || g.b_scale != "col")
    return fmt::format("a_scale must be row and b_scale col (one scale per row of a and per column of C); got {} / {}",
                       g.a_scale, g.b_scale);
  if (g.m == 0 || g.n == 0 || g.k == 0) return "m, n and k must be positive";
  if (g.m > INT_MAX || g.n > INT_MAX) return "m and n must fit in a 32-bit int";
  if (g.k > static_cast<std::uint64_t>(kernels::kInt8MaxK))
    return fmt::format("k must be at most {} (s32 sums of s8 products must not wrap); got {}", kernels::kInt8MaxK, g.k);
  return "";
}

std::string mma_unsupported(const Op& op) {
  if (auto why = int8gemm_unsupported(op); !why.empty()) return why;
  const auto& g = std::get<ScaledGemm>(op);
  if (g.k % kernels::kInt8KAlign)
    return fmt::format("k must be a multiple of {} (16-byte cp.async chunks); got {}", kernels::kInt8KAlign, g.k);
  if (g.m % kernels::kInt8MAlign)
    return fmt::format("m must be a multiple of {} (paired BF16 stores down a column); got {}", kernels::kInt8MAlign,
                       g.m);
  return "";
}

// cuBLASLt's IMMA kernels in the column-major (non-tiled) order want 16-byte-aligned rows and
// leading dimensions; not documented shape by shape, so conservatively multiples of 16.
std::string cublaslt_unsupported(const Op& op) {
  if (auto why = int8gemm_unsupported(op); !why.empty()) return why;
  const auto& g = std::get<ScaledGemm>(op);
  if (g.m % 16 || g.n % 16 || g.k % 16)
    return fmt::format("m, n and k must be multiples of 16 (cuBLASLt INT8 alignment); got {}x{}x{}", g.m, g.n, g.k);
  return "";
}

class Int8GemmCase : public Case {
 public:
  explicit Int8GemmCase(const ScaledGemm& op)
      : op_(op), a_(op.m * op.k, "s8 operand A"), b_(op.n * op.k, "s8 operand B"),
        a_scales_(op.m * 4, "the row scales of A"), b_scales_(op.n * 4, "the column scales of B"),
        c_(op.m * op.n * 2, "int8 gemm output C") {}

  void prepare(cudaStream_t stream) override {
    quantize(a_, a_scales_, op_.m, kSeedA, stream);
    quantize(b_, b_scales_, op_.n, kSeedB, stream);
  }
  void poison(cudaStream_t stream) override { fill_poison(c_.get(), c_.bytes(), 0xFF, stream); }

  Verification check(cudaStream_t stream) override {
    return verify_scaled_gemm(args(), kTolerance, "the dequantized s8 operands", stream);
  }

 protected:
  kernels::ScaledGemmArgs args() const {
    return kernels::ScaledGemmArgs{.a = a_.as<const std::uint8_t>(), .b = b_.as<const std::uint8_t>(),
                                   .a_scales = a_scales_.as<const float>(), .b_scales = b_scales_.as<const float>(),
                                   .c = c_.get(), .c_f32 = false, .s8 = true, .m = static_cast<int>(op_.m),
                                   .n = static_cast<int>(op_.n), .k = static_cast<int>(op_.k),
                                   .a_scale = kernels::AScale::Row, .b_scale = kernels::BScale::Col};
  }

  ScaledGemm op_;
  DeviceBuffer a_, b_, a_scales_, b_scales_, c_;

 private:
  void quantize(const DeviceBuffer& q, const DeviceBuffer& scales, std::uint64_t rows, std::uint64_t seed,
                cudaStream_t stream) {
    DeviceBuffer x(rows * op_.k * 2, "a BF16 operand before quantization");
    fill_scaled_gemm_operand(x.as<__nv_bfloat16>(), static_cast<int>(rows), static_cast<int>(op_.k), seed, op_.inputs,
                             stream);
    quantize_s8_rows(x.as<const __nv_bfloat16>(), q.as<std::int8_t>(), scales.as<float>(), static_cast<int>(rows),
                     static_cast<int>(op_.k), stream);
    TB_CUDA_CHECK(cudaGetLastError());
    TB_CUDA_CHECK(cudaStreamSynchronize(stream));  // before x is freed
  }
};

// Our kernels, launched by kLaunch (int8_gemm_mma_sm80 or int8_gemm_wgmma_sm90) with k split in
// k_splits parts (the _splitk impls, planned_k_splits) or not; the s32 parts in a workspace
// allocated here, outside the timed launches.
template <auto kLaunch>
class OursInt8Case final : public Int8GemmCase {
 public:
  explicit OursInt8Case(const ScaledGemm& op, int k_splits = 1) : Int8GemmCase(op), k_splits_(k_splits) {
    if (k_splits_ > 1)
      workspace_ = DeviceBuffer(
          kernels::split_k_workspace_bytes(static_cast<int>(op.m), static_cast<int>(op.n), k_splits_),
          "the s32 parts of the k split");
  }
  void launch(cudaStream_t stream) override {
    kernels::ScaledGemmArgs a = args();
    a.k_splits = k_splits_;
    a.workspace = workspace_.get();
    kLaunch(a, stream);
  }

 private:
  int k_splits_;
  DeviceBuffer workspace_;
};
using MmaInt8Case = OursInt8Case<kernels::int8_gemm_mma_sm80>;
using WgmmaInt8Case = OursInt8Case<kernels::int8_gemm_wgmma_sm90>;

// cublasLtMatmul s8 x s8 -> s32 in the TN layout (CUBLAS_COMPUTE_32I, int32 alpha = 1, beta = 0):
// cuBLASLt's A is our a, stored k x m column-major (= [m][k]) and transposed; its B our b, k x n;
// D column-major m x n in s32. Then apply_row_col_scales writes C = bf16(D sa[i] sb[j]). Both are
// timed: cuBLASLt has no s8 GEMM whose epilogue takes a row and a column scale vector.
class CublasLtInt8Case final : public Int8GemmCase {
 public:
  explicit CublasLtInt8Case(const ScaledGemm& op)
      : Int8GemmCase(op), d_(op.m * op.n * 4, "cuBLASLt's s32 output D"),
        workspace_(kCublasLtWorkspaceBytes, "the cuBLASLt workspace"),
        handle_(create_owned<cublasLtHandle_t, cublasLtDestroy>(cublasLtCreate, "cublasLtCreate")),
        desc_(create_owned<cublasLtMatmulDesc_t, cublasLtMatmulDescDestroy>(cublasLtMatmulDescCreate,
                                                                      "cublasLtMatmulDescCreate", CUBLAS_COMPUTE_32I,
                                                                      CUDA_R_32I)),
        preference_(create_owned<cublasLtMatmulPreference_t, cublasLtMatmulPreferenceDestroy>(
            cublasLtMatmulPreferenceCreate, "cublasLtMatmulPreferenceCreate")) {
    const cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
    TB_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(desc_.get(), CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta));
    TB_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(desc_.get(), CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb));
    const std::uint64_t m = op.m, n = op.n, k = op.k;
    a_layout_ = cublaslt_layout(CUDA_R_8I, k, m);
    b_layout_ = cublaslt_layout(CUDA_R_8I, k, n);
    d_layout_ = cublaslt_layout(CUDA_R_32I, m, n);
    const auto algo = cublaslt_first_algo(handle_.get(), desc_.get(), a_layout_.get(), b_layout_.get(),
                                          d_layout_.get(), preference_.get());
    if (!algo) throw Error(fmt::format("cuBLASLt's heuristic offers no INT8 algorithm for {}", op_label(Op{op})));
    algo_ = *algo;
  }

  // D too: a matmul that wrote nothing must not pass on a previous run's sums. 0x7F7F7F7F is
  // about 2^31, far from any sum the inputs give.
  void poison(cudaStream_t stream) override {
    Int8GemmCase::poison(stream);
    fill_poison(d_.get(), d_.bytes(), 0x7F, stream);
  }

  void launch(cudaStream_t stream) override {
    const std::int32_t alpha = 1, beta = 0;
    TB_CUBLAS_CHECK(cublasLtMatmul(handle_.get(), desc_.get(), &alpha, a_.get(), a_layout_.get(), b_.get(),
                                   b_layout_.get(), &beta, d_.get(), d_layout_.get(), d_.get(), d_layout_.get(), &algo_,
                                   workspace_.get(), workspace_.bytes(), stream));
    apply_row_col_scales(d_.as<const std::int32_t>(), a_scales_.as<const float>(), b_scales_.as<const float>(),
                         c_.as<__nv_bfloat16>(), static_cast<int>(op_.m), static_cast<int>(op_.n), stream);
  }

 private:
  DeviceBuffer d_, workspace_;
  Owned<cublasLtHandle_t, cublasLtDestroy> handle_;
  Owned<cublasLtMatmulDesc_t, cublasLtMatmulDescDestroy> desc_;
  Owned<cublasLtMatmulPreference_t, cublasLtMatmulPreferenceDestroy> preference_;
  CublasLtLayout a_layout_, b_layout_, d_layout_;
  cublasLtMatmulAlgo_t algo_{};
};

template <typename CaseT>
std::unique_ptr<Case> make_case(const Op& op, const DeviceInfo&) {
  return std::make_unique<CaseT>(std::get<ScaledGemm>(op));
}

// The _splitk impls: k split as planned_k_splits deals it on this GPU (not split elsewhere).
template <typename CaseT>
std::unique_ptr<Case> make_split_case(const Op& op, const DeviceInfo& device) {
  const auto& g = std::get<ScaledGemm>(op);
  return std::make_unique<CaseT>(g, kernels::planned_k_splits(g.m, g.n, g.k, device.sm_count));
}

}  // namespace

void register_int8_impls(Registry& r) {
  r.add(Impl{.name = "int8gemm.mma",
             .family = ScaledGemm::family,
             .description = "s8 mma.sync m16n8k32 (IMMA) into exact s32 sums, per-row a and per-column b scales applied "
                            "once in the epilogue, BF16 out; ldmatrix, 3-stage cp.async, 128x128x128 tiles "
                            "(kernels/quant/2_sm80_int8_gemm_mma.cu)",
             .vendor = false,
             .min_arch = 80,
             .max_arch = 0,
             .unsupported = mma_unsupported,
             .make = make_case<MmaInt8Case>});
  r.add(Impl{.name = "int8gemm.mma_splitk",
             .family = ScaledGemm::family,
             .description = "int8gemm.mma with k split where the tiles fill at most half the SMs (planned_k_splits: 2 "
                            "to 4 parts of >= 8 k-tiles); exact s32 parts added and scaled by a second kernel, so the "
                            "output is int8gemm.mma's bit for bit; without a split, int8gemm.mma itself",
             .vendor = false,
             .min_arch = 80,
             .max_arch = 0,
             .unsupported = mma_unsupported,
             .make = make_split_case<MmaInt8Case>});
  r.add(Impl{.name = "int8gemm.wgmma",
             .family = ScaledGemm::family,
             .description = "s8 wgmma m64n128k32 (IGMMA) into exact s32 sums, TMA producer + 2 consumers (setmaxnreg "
                            "40/232), persistent, 128x128x128 tiles, row/column scales once in the epilogue, BF16 out "
                            "by stmatrix + TMA store (kernels/quant/3_sm90_int8_gemm_wgmma.cu)",
             .vendor = false,
             .min_arch = 90,
             .max_arch = 90,
             .unsupported = mma_unsupported,
             .make = make_case<WgmmaInt8Case>});
  r.add(Impl{.name = "int8gemm.wgmma_splitk",
             .family = ScaledGemm::family,
             .description = "int8gemm.wgmma with k split where the tiles fill at most half the SMs (planned_k_splits); "
                            "exact s32 parts added and scaled by int8gemm.mma_splitk's second kernel, so the output is "
                            "int8gemm.wgmma's bit for bit; without a split, int8gemm.wgmma itself",
             .vendor = false,
             .min_arch = 90,
             .max_arch = 90,
             .unsupported = mma_unsupported,
             .make = make_split_case<WgmmaInt8Case>});
  r.add(Impl{.name = "int8gemm.cublaslt",
             .family = ScaledGemm::family,
             .description = "cublasLtMatmul s8 TN, CUBLAS_COMPUTE_32I, s32 out (heuristic's first algorithm), then a "
                            "separate kernel applying the row/column scales into BF16; both timed",
             .vendor = true,
             .min_arch = 80,
             .max_arch = 0,
             .unsupported = cublaslt_unsupported,
             .make = make_case<CublasLtInt8Case>});
}

}  // namespace trainbench
