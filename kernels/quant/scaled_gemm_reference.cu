// The scaled-GEMM oracle: each operand element dequantized (its value times its own scale, the
// formulas of scaled_gemm.cuh), products summed in FP64 in k order. One thread per output,
// 16x16 shared-memory tiles of dequantized values. Kept obviously correct rather than fast.
#include "kernels/quant/e4m3.cuh"
#include "kernels/quant/scaled_gemm.cuh"

namespace trainbench::kernels {
namespace {

constexpr int kTile = 16;

__device__ double dequantize(const std::uint8_t* x, const float* scales, const ScaleStrides& strides, bool s8,
                             int rows, int k, int row, int p) {
  if (row >= rows || p >= k) return 0.0;
  const std::uint8_t v = x[static_cast<std::int64_t>(row) * k + p];
  const float value = s8 ? static_cast<float>(static_cast<std::int8_t>(v)) : e4m3_to_float(v);
  return static_cast<double>(value) * static_cast<double>(scales[strides.index(row, p / kScaleBlock)]);
}

__global__ void scaled_matmul_oracle_kernel(ScaledGemmArgs args, ScaleStrides sa, ScaleStrides sb) {
  __shared__ double as[kTile][kTile + 1];  // [i][p]
  __shared__ double bs[kTile][kTile + 1];  // [j][p]
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int i = blockIdx.x * kTile + tx, j = blockIdx.y * kTile + ty;
  double sum = 0.0;
  for (int p0 = 0; p0 < args.k; p0 += kTile) {
    as[ty][tx] = dequantize(args.a, args.a_scales, sa, args.s8, args.m, args.k, blockIdx.x * kTile + ty, p0 + tx);
    bs[ty][tx] = dequantize(args.b, args.b_scales, sb, args.s8, args.n, args.k, j, p0 + tx);
    __syncthreads();
    for (int p = 0; p < kTile; ++p) sum += as[tx][p] * bs[ty][p];
    __syncthreads();
  }
  if (i < args.m && j < args.n) static_cast<float*>(args.c)[static_cast<std::int64_t>(j) * args.m + i] = static_cast<float>(sum);
}

}  // namespace

void scaled_gemm_reference(const ScaledGemmArgs& args, cudaStream_t stream) {
  const dim3 block(kTile, kTile);
  const dim3 grid((args.m + kTile - 1) / kTile, (args.n + kTile - 1) / kTile);
  scaled_matmul_oracle_kernel<<<grid, block, 0, stream>>>(args, a_scale_strides(args.a_scale, args.m),
                                                           b_scale_strides(args.b_scale, args.k));
}

}  // namespace trainbench::kernels
