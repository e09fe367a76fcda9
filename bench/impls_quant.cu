// FP8 quantization: BF16 -> E4M3 with DeepSeek-V3-style fine-grained scales (kernels/quant/).
// Verified byte-exact (values and scales) against the one-thread-per-group reference.
// (No fmt here: nvcc rejects fmt 9's constexpr checks under C++20.)
#include <memory>
#include <string>

#include "bench/impls.hpp"
#include "harness/device_buffer.hpp"
#include "harness/error.hpp"
#include "harness/verify.hpp"
#include "kernels/quant/quantize.cuh"

namespace trainbench {
namespace {

constexpr std::uint64_t kSeed = 20261125;

// Rows of very different magnitude (2^-12 to 2^11), so that per-group scales matter: a single
// scale for the tensor would push the small rows into E4M3's subnormals.
__global__ void spread_row_magnitudes(__nv_bfloat16* x, int rows, int cols) {
  const long long n = static_cast<long long>(rows) * cols;
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<long long>(gridDim.x) * blockDim.x) {
    const int row = static_cast<int>(i / cols);
    x[i] = __float2bfloat16_rn(__bfloat162float(x[i]) * exp2f(static_cast<float>(row % 24 - 12)));
  }
}

kernels::QuantGranularity granularity_of(const Quantize& op) {
  if (op.granularity == "128x128") return kernels::QuantGranularity::Block128x128;
  if (op.granularity == "tensor") return kernels::QuantGranularity::Tensor;
  return kernels::QuantGranularity::Group1x128;
}

class QuantCase final : public Case {
 public:
  explicit QuantCase(const Quantize& op)
      : op_(op),
        elements_(op.rows * op.cols),
        x_(elements_ * 2, "the BF16 input"),
        q_(elements_, "the E4M3 output"),
        scales_(op.scale_count() * 4, "the scales"),
        amax_(sizeof(float), "the amax workspace") {}

  void prepare(cudaStream_t stream) override {
    fill_uniform_bf16(x_.get(), elements_, kSeed, stream);
    spread_row_magnitudes<<<1024, 256, 0, stream>>>(x_.as<__nv_bfloat16>(), static_cast<int>(op_.rows),
                                                    static_cast<int>(op_.cols));
    TB_CUDA_CHECK(cudaGetLastError());
  }
  void poison(cudaStream_t stream) override {
    fill_poison(q_.get(), q_.bytes(), 0xFF, stream);
    fill_poison(scales_.get(), scales_.bytes(), 0xFF, stream);
  }
  void launch(cudaStream_t stream) override {
    kernels::quantize_e4m3(args(q_, scales_), stream);
    TB_CUDA_CHECK(cudaGetLastError());
  }
  Verification check(cudaStream_t stream) override {
    DeviceBuffer q_ref(q_.bytes(), "the reference E4M3 output");
    DeviceBuffer s_ref(scales_.bytes(), "the reference scales");
    fill_poison(q_ref.get(), q_ref.bytes(), 0xFF, stream);
    kernels::quantize_e4m3_reference(args(q_ref, s_ref), stream);
    TB_CUDA_CHECK(cudaGetLastError());
    const auto q_diff = count_mismatched_bytes(q_.get(), q_ref.get(), q_.bytes(), stream);
    const auto s_diff = count_mismatched_bytes(scales_.get(), s_ref.get(), scales_.bytes(), stream);
    Verification v;
    v.error = static_cast<double>(q_diff + s_diff);
    v.tolerance = 0;
    v.detail = "bytes differing from the reference: " + std::to_string(q_diff) + " of " + std::to_string(q_.bytes()) +
               " in q, " + std::to_string(s_diff) + " of " + std::to_string(scales_.bytes()) + " in the scales (exact)";
    return v;
  }

 private:
  kernels::QuantArgs args(const DeviceBuffer& q, const DeviceBuffer& scales) const {
    kernels::QuantArgs a;
    a.x = x_.as<__nv_bfloat16>();
    a.q = q.as<std::uint8_t>();
    a.scales = scales.as<float>();
    a.rows = static_cast<int>(op_.rows);
    a.cols = static_cast<int>(op_.cols);
    a.granularity = granularity_of(op_);
    a.transpose = op_.transpose;
    a.amax_workspace = amax_.as<float>();
    return a;
  }

  Quantize op_;
  std::size_t elements_;
  DeviceBuffer x_, q_, scales_, amax_;
};

std::string quant_unsupported(const Op& op) {
  const auto& q = std::get<Quantize>(op);
  if (q.rows == 0 || q.cols == 0) return "rows and cols must be positive";
  if (q.rows > (1u << 30) || q.cols > (1u << 30)) return "rows and cols must be under 2^30";
  const std::string align = std::to_string(kernels::kQuantColsAlign);
  if (q.cols % kernels::kQuantColsAlign) return "cols must be a multiple of " + align;
  if (q.transpose && q.rows % kernels::kQuantColsAlign) return "a transposed quantize needs rows a multiple of " + align;
  return "";
}

}  // namespace

void register_quant_impls(Registry& r) {
  r.add(Impl{.name = "quant.e4m3",
             .family = Quantize::family,
             .description = "BF16 -> E4M3, 1x128 / transposed 1x128 / 128x128 / per-tensor scales (kernels/quant/)",
             .vendor = false,
             .min_arch = 80,
             .max_arch = 0,
             .unsupported = quant_unsupported,
             .make = [](const Op& op, const DeviceInfo&) -> std::unique_ptr<Case> {
               return std::make_unique<QuantCase>(std::get<Quantize>(op));
             }});
}

}  // namespace trainbench
