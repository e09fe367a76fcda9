// quant.e4m3: BF16 -> E4M3 with 1x128, transposed 1x128, 128x128 and per-tensor scales
// (quantize.cuh). Memory-bound: every kernel moves 16-byte vectors of 8 BF16 and writes 8 FP8
// bytes per vector; the conversion uses the hardware cvt.rn.satfinite.e4m3x2 on sm_89 and later
// (cuda_fp8.h emulates it on sm_80, bit-identical to e4m3.cuh's encoder).
// Measured (H200, results/h200-sxm/quant.log; the copy roof there is 3868 GB/s): 1x128 3026.3 GB/s
// at 4096x7168 and 3151.7 at 4096x16384, transposed 1x128 2086.4 at 4096x7168, 128x128 4010.5 at
// 7168x16384 and 3147.2 at 2112x7168, per-tensor 2154.2 at 8192x8192 (two passes: amax, then cast).
#include <cuda_fp8.h>

#include "kernels/quant/e4m3.cuh"
#include "kernels/quant/quantize.cuh"

namespace trainbench::kernels {
namespace {

constexpr int kThreads = 256;

struct Bf16x8 {
  float v[8];
};

__device__ __forceinline__ Bf16x8 unpack8(const uint4& raw) {
  const __nv_bfloat162* h = reinterpret_cast<const __nv_bfloat162*>(&raw);
  Bf16x8 out;
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const float2 f = __bfloat1622float2(h[i]);
    out.v[2 * i] = f.x;
    out.v[2 * i + 1] = f.y;
  }
  return out;
}

__device__ __forceinline__ Bf16x8 load8(const __nv_bfloat16* p) {
  return unpack8(__ldg(reinterpret_cast<const uint4*>(p)));
}

__device__ __forceinline__ float amax8(const Bf16x8& x) {
  float m = 0.f;
#pragma unroll
  for (int i = 0; i < 8; ++i) m = fmaxf(m, fabsf(x.v[i]));
  return m;
}

__device__ __forceinline__ std::uint16_t cvt2(float lo, float hi) {
  return __nv_cvt_float2_to_fp8x2(make_float2(lo, hi), __NV_SATFINITE, __NV_E4M3);
}

// Eight values times `mul`, as eight E4M3 bytes in memory order.
__device__ __forceinline__ uint2 quantize8(const Bf16x8& x, float mul) {
  uint2 out;
  out.x = static_cast<unsigned>(cvt2(x.v[0] * mul, x.v[1] * mul)) |
          (static_cast<unsigned>(cvt2(x.v[2] * mul, x.v[3] * mul)) << 16);
  out.y = static_cast<unsigned>(cvt2(x.v[4] * mul, x.v[5] * mul)) |
          (static_cast<unsigned>(cvt2(x.v[6] * mul, x.v[7] * mul)) << 16);
  return out;
}

// 1x128: a half-warp per group (16 lanes x 8 values), two groups per warp. The loop is uniform
// per warp so that every lane takes part in the shuffles.
__global__ void __launch_bounds__(kThreads) quantize_1x128_kernel(const __nv_bfloat16* __restrict__ x,
                                                                    std::uint8_t* __restrict__ q,
                                                                    float* __restrict__ scales, int rows, int cols) {
  const int groups_per_row = (cols + kQuantGroup - 1) / kQuantGroup;
  const long long total = static_cast<long long>(rows) * groups_per_row;
  const int lane16 = threadIdx.x & 15;
  const long long warp = (blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x) >> 5;
  const long long warps = (static_cast<long long>(gridDim.x) * blockDim.x) >> 5;
  for (long long pair = warp; 2 * pair < total; pair += warps) {
    const long long g = 2 * pair + ((threadIdx.x >> 4) & 1);
    const bool valid_group = g < total;
    const int row = valid_group ? static_cast<int>(g / groups_per_row) : 0;
    const int grp = valid_group ? static_cast<int>(g % groups_per_row) : 0;
    const int col = grp * kQuantGroup + lane16 * 8;
    const bool valid = valid_group && col < cols;
    Bf16x8 v{};
    if (valid) v = load8(x + static_cast<long long>(row) * cols + col);
    float m = amax8(v);
#pragma unroll
    for (int o = 8; o > 0; o >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, o));
    if (valid) {
      *reinterpret_cast<uint2*>(q + static_cast<long long>(row) * cols + col) = quantize8(v, e4m3_quant_multiplier(m));
      if (lane16 == 0) scales[static_cast<long long>(grp) * rows + row] = e4m3_dequant_scale(m);
    }
  }
}

// 128x128: one block per tile; each thread holds its 8 vectors in registers as packed BF16.
// ptxas (CUDA 13.0): 64 registers on sm_80 (97 when held as floats); 109 on sm_90a either way.
__global__ void __launch_bounds__(kThreads) quantize_128x128_kernel(const __nv_bfloat16* __restrict__ x,
                                                                      std::uint8_t* __restrict__ q,
                                                                      float* __restrict__ scales, int rows, int cols) {
  constexpr int kVecPerRow = kQuantGroup / 8;                        // 16
  constexpr int kVecPerThread = kQuantGroup * kVecPerRow / kThreads;  // 8
  __shared__ float warp_max[kThreads / 32];
  const int row0 = blockIdx.y * kQuantGroup, col0 = blockIdx.x * kQuantGroup;
  uint4 v[kVecPerThread];
  float m = 0.f;
#pragma unroll
  for (int i = 0; i < kVecPerThread; ++i) {
    const int vec = threadIdx.x + i * kThreads;
    const int row = row0 + vec / kVecPerRow, col = col0 + (vec % kVecPerRow) * 8;
    v[i] = make_uint4(0, 0, 0, 0);
    if (row < rows && col < cols) v[i] = __ldg(reinterpret_cast<const uint4*>(x + static_cast<long long>(row) * cols + col));
  }
#pragma unroll
  for (int i = 0; i < kVecPerThread; ++i) m = fmaxf(m, amax8(unpack8(v[i])));
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, o));
  if ((threadIdx.x & 31) == 0) warp_max[threadIdx.x >> 5] = m;
  __syncthreads();
  m = 0.f;
#pragma unroll
  for (int w = 0; w < kThreads / 32; ++w) m = fmaxf(m, warp_max[w]);
  const float mul = e4m3_quant_multiplier(m);
#pragma unroll
  for (int i = 0; i < kVecPerThread; ++i) {
    const int vec = threadIdx.x + i * kThreads;
    const int row = row0 + vec / kVecPerRow, col = col0 + (vec % kVecPerRow) * 8;
    if (row < rows && col < cols)
      *reinterpret_cast<uint2*>(q + static_cast<long long>(row) * cols + col) = quantize8(unpack8(v[i]), mul);
  }
  if (threadIdx.x == 0) scales[static_cast<long long>(blockIdx.y) * gridDim.x + blockIdx.x] = e4m3_dequant_scale(m);
}

// Transposed 1x128: a block stages a 128 (rows) x 64 (cols) tile in shared memory with coalesced
// row reads, reduces each column's amax, then writes 64 rows of q^T, 128 contiguous bytes each.
constexpr int kTransposeCols = 64;
constexpr int kTilePitch = kTransposeCols + 2;  // BF16 elements: 33 words, conflict-free column reads

__global__ void __launch_bounds__(kThreads) quantize_1x128_transposed_kernel(const __nv_bfloat16* __restrict__ x,
                                                                               std::uint8_t* __restrict__ q,
                                                                               float* __restrict__ scales, int rows,
                                                                               int cols) {
  __shared__ __nv_bfloat16 tile[kQuantGroup][kTilePitch];
  __shared__ float col_mul[kTransposeCols];
  const int row0 = blockIdx.y * kQuantGroup, col0 = blockIdx.x * kTransposeCols;
  // Load: 128 rows x 8 vectors, four per thread.
  for (int vec = threadIdx.x; vec < kQuantGroup * (kTransposeCols / 8); vec += kThreads) {
    const int r = vec / (kTransposeCols / 8), c = (vec % (kTransposeCols / 8)) * 8;
    Bf16x8 v{};
    if (row0 + r < rows && col0 + c < cols) v = load8(x + static_cast<long long>(row0 + r) * cols + col0 + c);
#pragma unroll
    for (int i = 0; i < 8; ++i) tile[r][c + i] = __float2bfloat16_rn(v.v[i]);  // exact: v came from BF16
  }
  __syncthreads();
  // Column amax: four adjacent lanes per column, 32 rows each.
  {
    const int c = threadIdx.x >> 2, part = threadIdx.x & 3;
    float m = 0.f;
    for (int r = part * 32; r < part * 32 + 32; ++r) m = fmaxf(m, fabsf(__bfloat162float(tile[r][c])));
    m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, 1));
    m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, 2));
    if (part == 0) {
      col_mul[c] = e4m3_quant_multiplier(m);
      if (col0 + c < cols) scales[static_cast<long long>(blockIdx.y) * cols + col0 + c] = e4m3_dequant_scale(m);
    }
  }
  __syncthreads();
  // Store: 64 output rows x 16 chunks of 8 bytes, four per thread.
  for (int item = threadIdx.x; item < kTransposeCols * (kQuantGroup / 8); item += kThreads) {
    const int c = item / (kQuantGroup / 8), r = (item % (kQuantGroup / 8)) * 8;
    if (col0 + c >= cols || row0 + r >= rows) continue;
    Bf16x8 v;
#pragma unroll
    for (int i = 0; i < 8; ++i) v.v[i] = __bfloat162float(tile[r + i][c]);
    *reinterpret_cast<uint2*>(q + static_cast<long long>(col0 + c) * rows + row0 + r) = quantize8(v, col_mul[c]);
  }
}

// Per tensor, pass 1: amax into *amax (zeroed before), as the bits of a non-negative float.
__global__ void __launch_bounds__(kThreads) amax_kernel(const __nv_bfloat16* __restrict__ x, long long n_vec,
                                                          unsigned* __restrict__ amax) {
  float m = 0.f;
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < n_vec;
       i += static_cast<long long>(gridDim.x) * blockDim.x)
    m = fmaxf(m, amax8(load8(x + 8 * i)));
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, o));
  if ((threadIdx.x & 31) == 0) atomicMax(amax, __float_as_uint(m));
}

// Per tensor, pass 2.
__global__ void __launch_bounds__(kThreads) quantize_tensor_kernel(const __nv_bfloat16* __restrict__ x,
                                                                     std::uint8_t* __restrict__ q, long long n_vec,
                                                                     const float* __restrict__ amax,
                                                                     float* __restrict__ scale) {
  const float m = *amax;
  const float mul = e4m3_quant_multiplier(m);
  if (blockIdx.x == 0 && threadIdx.x == 0) *scale = e4m3_dequant_scale(m);
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < n_vec;
       i += static_cast<long long>(gridDim.x) * blockDim.x)
    *reinterpret_cast<uint2*>(q + 8 * i) = quantize8(load8(x + 8 * i), mul);
}

unsigned grid_for(long long work_items, int per_block) {
  const long long blocks = (work_items + per_block - 1) / per_block;
  return static_cast<unsigned>(blocks < 132 * 16 ? (blocks > 0 ? blocks : 1) : 132 * 16);
}

}  // namespace

void quantize_e4m3(const QuantArgs& a, cudaStream_t stream) {
  switch (a.granularity) {
    case QuantGranularity::Group1x128:
      if (a.transpose) {
        const dim3 grid((a.cols + kTransposeCols - 1) / kTransposeCols, (a.rows + kQuantGroup - 1) / kQuantGroup);
        quantize_1x128_transposed_kernel<<<grid, kThreads, 0, stream>>>(a.x, a.q, a.scales, a.rows, a.cols);
      } else {
        const long long groups = static_cast<long long>(a.rows) * ((a.cols + kQuantGroup - 1) / kQuantGroup);
        quantize_1x128_kernel<<<grid_for(groups, kThreads / 16), kThreads, 0, stream>>>(a.x, a.q, a.scales, a.rows,
                                                                                       a.cols);
      }
      break;
    case QuantGranularity::Block128x128: {
      const dim3 grid((a.cols + kQuantGroup - 1) / kQuantGroup, (a.rows + kQuantGroup - 1) / kQuantGroup);
      quantize_128x128_kernel<<<grid, kThreads, 0, stream>>>(a.x, a.q, a.scales, a.rows, a.cols);
      break;
    }
    case QuantGranularity::Tensor: {
      const long long n_vec = static_cast<long long>(a.rows) * a.cols / 8;
      cudaMemsetAsync(a.amax_workspace, 0, sizeof(float), stream);
      amax_kernel<<<grid_for(n_vec, kThreads), kThreads, 0, stream>>>(a.x, n_vec,
                                                                      reinterpret_cast<unsigned*>(a.amax_workspace));
      quantize_tensor_kernel<<<grid_for(n_vec, kThreads), kThreads, 0, stream>>>(a.x, a.q, n_vec, a.amax_workspace,
                                                                                 a.scales);
      break;
    }
  }
}

}  // namespace trainbench::kernels
