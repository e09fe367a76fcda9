// (No fmt here: nvcc rejects fmt 9's constexpr checks under C++20.)
#include "bench/int8_kernels.hpp"

namespace trainbench {
namespace {

constexpr int kWarpsPerBlock = 8;

__global__ void quantize_s8_rows_kernel(const __nv_bfloat16* __restrict__ x, std::int8_t* __restrict__ q,
                                        float* __restrict__ scales, int rows, int cols) {
  const int lane = threadIdx.x % 32;
  const int row = blockIdx.x * kWarpsPerBlock + threadIdx.x / 32;
  if (row >= rows) return;
  const __nv_bfloat16* xr = x + static_cast<long long>(row) * cols;
  float amax = 0.f;
  for (int c = lane; c < cols; c += 32) amax = fmaxf(amax, fabsf(__bfloat162float(xr[c])));
  for (int offset = 16; offset > 0; offset /= 2) amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, offset));
  const float scale = amax > 0.f ? amax / 127.f : 1.f;
  if (lane == 0) scales[row] = scale;
  std::int8_t* qr = q + static_cast<long long>(row) * cols;
  for (int c = lane; c < cols; c += 32)
    qr[c] = static_cast<std::int8_t>(fminf(fmaxf(rintf(__bfloat162float(xr[c]) / scale), -127.f), 127.f));
}

__global__ void apply_row_col_scales_kernel(const std::int32_t* __restrict__ d, const float* __restrict__ sa,
                                            const float* __restrict__ sb, __nv_bfloat16* __restrict__ c, int m,
                                            int n) {
  const long long count = static_cast<long long>(m) * n;
  for (long long e = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; e < count;
       e += static_cast<long long>(gridDim.x) * blockDim.x) {
    const int i = static_cast<int>(e % m), j = static_cast<int>(e / m);
    c[e] = __float2bfloat16_rn(static_cast<float>(d[e]) * sa[i] * sb[j]);
  }
}

}  // namespace

void quantize_s8_rows(const __nv_bfloat16* x, std::int8_t* q, float* scales, int rows, int cols,
                      cudaStream_t stream) {
  quantize_s8_rows_kernel<<<(rows + kWarpsPerBlock - 1) / kWarpsPerBlock, 32 * kWarpsPerBlock, 0, stream>>>(
      x, q, scales, rows, cols);
}

void apply_row_col_scales(const std::int32_t* d, const float* sa, const float* sb, __nv_bfloat16* c, int m, int n,
                          cudaStream_t stream) {
  apply_row_col_scales_kernel<<<1024, 256, 0, stream>>>(d, sa, sb, c, m, n);
}

}  // namespace trainbench
