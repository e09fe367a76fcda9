// gemm.simt, version 1: the CUDA-core baseline every later version is measured against.
//
// What it does: a 64x64 tile of C per 256-thread CTA; A and B advance through shared memory in
// k-slices of 16, converted to FP32 once on the way in; each thread keeps a 4x4 block of C in
// registers and reads its operands as float4 from shared memory (8 FMAs per 2 loads), so the
// kernel is bound by FMA issue, not memory. No tensor cores. Any shape: every load and store is
// bounds-checked.
//
// Measured (H200, results/h200-sxm/gemm-square.log; tn, BF16 out, L2 cold): 28.0 TFLOP/s at 4096^3
// (0.036x gemm.cublas), 28.4 TFLOP/s at 8192^3 (0.036x).
#include "kernels/gemm/dispatch.cuh"
#include "kernels/gemm/gemm.cuh"

#include <cstddef>

namespace trainbench::kernels {
namespace {

constexpr int kTileM = 64, kTileN = 64, kTileK = 16;
constexpr int kThreads = 256;   // 16 x 16 threads, 4 x 4 outputs each
constexpr int kPad = 4;         // keeps rows 16-byte aligned for float4 reads
constexpr int kLoadsPerThread = kTileM * kTileK / kThreads;
static_assert(kTileM == kTileN, "one loop loads both operand tiles");

template <GemmLayout kLayout, typename OutT>
__global__ void __launch_bounds__(kThreads)
gemm_simt_kernel(const __nv_bfloat16* __restrict__ a, const __nv_bfloat16* __restrict__ b, OutT* __restrict__ c,
                 int m, int n, int k) {
  __shared__ __align__(16) float a_tile[kTileK][kTileM + kPad];  // [p][i]
  __shared__ __align__(16) float b_tile[kTileK][kTileN + kPad];  // [p][j]
  const int tid = threadIdx.x;
  const int tx = tid % 16, ty = tid / 16;  // this thread's outputs: i = 4 tx + x, j = 4 ty + y
  const int i0 = blockIdx.x * kTileM, j0 = blockIdx.y * kTileN;
  float acc[4][4] = {};

  for (int p0 = 0; p0 < k; p0 += kTileK) {
#pragma unroll
    for (int r = 0; r < kLoadsPerThread; ++r) {
      const int e = tid + r * kThreads;
      // Consecutive threads walk the operand's contiguous dimension, so global reads coalesce.
      {
        const int ii = a_k_major(kLayout) ? e / kTileK : e % kTileM;
        const int pp = a_k_major(kLayout) ? e % kTileK : e / kTileM;
        const int i = i0 + ii, p = p0 + pp;
        float v = 0.f;
        if (i < m && p < k)
          v = __bfloat162float(a[a_k_major(kLayout) ? std::size_t(i) * k + p : std::size_t(p) * m + i]);
        a_tile[pp][ii] = v;
      }
      {
        const int jj = b_k_major(kLayout) ? e / kTileK : e % kTileN;
        const int pp = b_k_major(kLayout) ? e % kTileK : e / kTileN;
        const int j = j0 + jj, p = p0 + pp;
        float v = 0.f;
        if (j < n && p < k)
          v = __bfloat162float(b[b_k_major(kLayout) ? std::size_t(j) * k + p : std::size_t(p) * n + j]);
        b_tile[pp][jj] = v;
      }
    }
    __syncthreads();
#pragma unroll
    for (int pp = 0; pp < kTileK; ++pp) {
      const float4 av = *reinterpret_cast<const float4*>(&a_tile[pp][4 * tx]);
      const float4 bv = *reinterpret_cast<const float4*>(&b_tile[pp][4 * ty]);
      const float as[4] = {av.x, av.y, av.z, av.w}, bs[4] = {bv.x, bv.y, bv.z, bv.w};
#pragma unroll
      for (int x = 0; x < 4; ++x)
#pragma unroll
        for (int y = 0; y < 4; ++y) acc[x][y] += as[x] * bs[y];
    }
    __syncthreads();
  }

#pragma unroll
  for (int y = 0; y < 4; ++y) {
    const int j = j0 + 4 * ty + y;
#pragma unroll
    for (int x = 0; x < 4; ++x) {
      const int i = i0 + 4 * tx + x;
      if (i < m && j < n) store_out(c + std::size_t(j) * m + i, acc[x][y]);
    }
  }
}

}  // namespace

void gemm_simt(const GemmArgs& args, cudaStream_t stream) {
  dispatch_gemm(args, [&]<GemmLayout kLayout, typename OutT>() {
    const dim3 grid((args.m + kTileM - 1) / kTileM, (args.n + kTileN - 1) / kTileN);
    gemm_simt_kernel<kLayout, OutT><<<grid, kThreads, 0, stream>>>(args.a, args.b, static_cast<OutT*>(args.c),
                                                                   args.m, args.n, args.k);
  });
}

}  // namespace trainbench::kernels
