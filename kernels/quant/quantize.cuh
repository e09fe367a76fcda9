// BF16 -> FP8 E4M3 quantization with fine-grained scales (e4m3.cuh gives the rule). Memory-bound:
// each element is read once (2 bytes) and written once (1 byte), plus the scales.
//
// Layouts. x is row-major [rows, cols], cols the reduction (K) dimension of the GEMM that will
// consume q. Scales are FP32.
//   1x128 (activations):  q [rows, cols];  scales [ceil(cols / 128), rows]  (one scale per row
//                         and 128-column group, the rows of one group contiguous: the column of
//                         scales a GEMM's k-block multiplies its M rows by)
//   1x128, transposed:    q [cols, rows] = e4m3(x^T), grouped along rows (the reduction
//                         dimension of wgrad, dW = dY^T X, which FP8 wgmma wants K-major);
//                         scales [ceil(rows / 128), cols]
//   128x128 (weights):    q [rows, cols];  scales [ceil(rows / 128), ceil(cols / 128)]
//   per tensor:           q [rows, cols];  scales [1]
// Tails (rows or cols not multiples of 128) form smaller groups. cols must be a multiple of 8
// (16-byte loads); pointers 16-byte aligned.
#pragma once
#include <cstdint>

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

namespace trainbench::kernels {

enum class QuantGranularity { Group1x128, Block128x128, Tensor };

struct QuantArgs {
  const __nv_bfloat16* x = nullptr;
  std::uint8_t* q = nullptr;
  float* scales = nullptr;
  int rows = 0, cols = 0;
  QuantGranularity granularity = QuantGranularity::Group1x128;
  bool transpose = false;  // only with Group1x128
  float* amax_workspace = nullptr;  // one float, per-tensor only
};

inline constexpr int kQuantColsAlign = 8;

// The number of FP32 scales `args` writes.
__host__ __device__ inline std::int64_t quant_scale_count(const QuantArgs& a) {
  const std::int64_t r = a.rows, c = a.cols, g = 128;
  switch (a.granularity) {
    case QuantGranularity::Group1x128: return a.transpose ? (r + g - 1) / g * c : (c + g - 1) / g * r;
    case QuantGranularity::Block128x128: return (r + g - 1) / g * ((c + g - 1) / g);
    case QuantGranularity::Tensor: return 1;
  }
  return 0;
}

// The fast kernels (sm80_quantize_e4m3.cu); hardware FP8 conversion where the GPU has it.
void quantize_e4m3(const QuantArgs& args, cudaStream_t stream);

// The oracle: one thread per scale group, the software encoder of e4m3.cuh. Any shape.
void quantize_e4m3_reference(const QuantArgs& args, cudaStream_t stream);

}  // namespace trainbench::kernels
