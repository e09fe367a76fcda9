// The oracle every GEMM impl is verified against: one thread per output element, 16x16 tiles of
// A and B staged through shared memory, FP32 accumulation in k order. Written to be read and
// trusted, not to be fast; it is never timed.
#include "kernels/gemm/dispatch.cuh"
#include "kernels/gemm/gemm.cuh"

#include <cstddef>

namespace trainbench::kernels {
namespace {

constexpr int kTile = 16;

template <GemmLayout kLayout>
__device__ float a_at(const __nv_bfloat16* a, int i, int p, int m, int k) {
  const std::size_t at = a_k_major(kLayout) ? std::size_t(i) * k + p : std::size_t(p) * m + i;
  return __bfloat162float(a[at]);
}

template <GemmLayout kLayout>
__device__ float b_at(const __nv_bfloat16* b, int p, int j, int n, int k) {
  const std::size_t at = b_k_major(kLayout) ? std::size_t(j) * k + p : std::size_t(p) * n + j;
  return __bfloat162float(b[at]);
}

template <GemmLayout kLayout, typename OutT>
__global__ void __launch_bounds__(kTile * kTile)
gemm_reference_kernel(const __nv_bfloat16* a, const __nv_bfloat16* b, OutT* c, int m, int n, int k) {
  __shared__ float a_tile[kTile][kTile];  // [p][i]
  __shared__ float b_tile[kTile][kTile];  // [p][j]
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int i0 = blockIdx.x * kTile, j0 = blockIdx.y * kTile;
  float acc = 0.f;
  for (int p0 = 0; p0 < k; p0 += kTile) {
    a_tile[ty][tx] = (i0 + tx < m && p0 + ty < k) ? a_at<kLayout>(a, i0 + tx, p0 + ty, m, k) : 0.f;
    b_tile[tx][ty] = (p0 + tx < k && j0 + ty < n) ? b_at<kLayout>(b, p0 + tx, j0 + ty, n, k) : 0.f;
    __syncthreads();
#pragma unroll
    for (int q = 0; q < kTile; ++q) acc += a_tile[q][tx] * b_tile[q][ty];
    __syncthreads();
  }
  const int i = i0 + tx, j = j0 + ty;
  if (i < m && j < n) store_out(c + std::size_t(j) * m + i, acc);
}

}  // namespace

void gemm_reference(const GemmArgs& args, cudaStream_t stream) {
  dispatch_gemm(args, [&]<GemmLayout kLayout, typename OutT>() {
    const dim3 grid((args.m + kTile - 1) / kTile, (args.n + kTile - 1) / kTile);
    gemm_reference_kernel<kLayout, OutT><<<grid, dim3(kTile, kTile), 0, stream>>>(
        args.a, args.b, static_cast<OutT*>(args.c), args.m, args.n, args.k);
  });
}

}  // namespace trainbench::kernels
