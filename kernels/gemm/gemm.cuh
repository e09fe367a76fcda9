// BF16 GEMM: the problem every kernel in kernels/gemm/ solves, and their entry points, simplest
// first (kernels/gemm/README.md lists what each version changes).
//
// In cuBLAS's column-major convention: C[m x n] = op(A)[m x k] . op(B)[k x n], BF16 inputs,
// FP32 accumulation, C column-major (ldc = m) in BF16 or FP32. The layout names op(A), op(B):
//   tn: A stored k x m (lda = k, K-major), B stored k x n (ldb = k, K-major)
//   nn: A stored m x k (lda = m, M-major), B stored k x n (ldb = k, K-major)
//   nt: A stored m x k (lda = m, M-major), B stored n x k (ldb = n, N-major)
// so that A(i, p) = tn ? a[i k + p] : a[p m + i], B(p, j) = nt ? b[p n + j] : b[j k + p], and
// C(i, j) = c[j m + i]. harness/ops.hpp maps the three onto a linear layer's forward, dgrad and
// wgrad.
#pragma once
#include <cstdint>

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

namespace trainbench::kernels {

enum class GemmLayout { TN, NN, NT };

struct GemmArgs {
  const __nv_bfloat16* a = nullptr;
  const __nv_bfloat16* b = nullptr;
  void* c = nullptr;  // __nv_bfloat16 or float, per c_f32
  bool c_f32 = false;
  int m = 0, n = 0, k = 0;
  GemmLayout layout = GemmLayout::TN;
};

__host__ __device__ constexpr bool a_k_major(GemmLayout l) { return l == GemmLayout::TN; }
__host__ __device__ constexpr bool b_k_major(GemmLayout l) { return l != GemmLayout::NT; }

// The oracle: one thread per output, 16x16 shared-memory tiles, FP32 accumulation in k order.
// Any shape. Kept obviously correct rather than fast.
void gemm_reference(const GemmArgs& args, cudaStream_t stream);

// 1. SIMT: 64x64 CTA tile, 4x4 outputs per thread, FP32 FMA (1_simt_bf16_gemm.cu). Any shape.
void gemm_simt(const GemmArgs& args, cudaStream_t stream);

// 2. Tensor cores, sm_80+: mma.sync m16n8k16, ldmatrix, 3-stage cp.async pipeline
//    (2_sm80_bf16_gemm_mma.cu). Needs m, n, k multiples of kMmaGemmAlign and 16-byte-aligned
//    pointers.
inline constexpr int kMmaGemmAlign = 8;
void gemm_mma_sm80(const GemmArgs& args, cudaStream_t stream);
// 2b. The same with 128x256 tiles and 64x64 warp tiles (two thirds the ldmatrix bytes per mma,
//    three quarters the L2 bytes per FLOP); same requirements, and kMmaGemm128x256SmemBytes of shared
//    memory per block, which A100 and H100 give and sm_86 / sm_89 GPUs (99 KiB) do not.
inline constexpr int kMmaGemm128x256SmemBytes = 3 * (128 + 256) * 64 * 2;
void gemm_mma_128x256_sm80(const GemmArgs& args, cudaStream_t stream);

// 3. Hopper, sm_90a only: TMA loads into 128B-swizzled shared memory completing on mbarriers,
//    wgmma m64n128k16 from shared-memory descriptors, 4-stage ring, 128x128x64 tiles
//    (3_sm90_bf16_gemm_tma_wgmma.cu). m, n, k multiples of kSm90GemmAlign (TMA's 16-byte row
//    pitch), 16-byte-aligned pointers. Throws std::runtime_error when the driver cannot encode
//    the tensor maps.
inline constexpr int kSm90GemmAlign = 8;
void gemm_wgmma_tma_sm90(const GemmArgs& args, cudaStream_t stream);

// 4. Hopper, sm_90a only: warp-specialized (one TMA producer warpgroup, two wgmma consumer
//    warpgroups, setmaxnreg), persistent over the SMs with a grouped tile order, 128x256x64
//    tiles, wgmma m64n256k16 (4_sm90_bf16_gemm_ws.cu). Same requirements as version 3.
void gemm_wgmma_ws_sm90(const GemmArgs& args, cudaStream_t stream);

// 5. Hopper, sm_90a only: version 4 in 2-CTA clusters whose CTAs multicast halves of their
//    shared A tile to each other, with a stmatrix + TMA-store epilogue
//    (5_sm90_bf16_gemm_cluster.cu). Same requirements as version 3 (C is written by TMA too).
void gemm_wgmma_cluster_sm90(const GemmArgs& args, cudaStream_t stream);
// 5b. Version 5 on 128x128 tiles (wgmma m64n128k16, 6 stages): twice the tiles, for shapes whose
//     256x128 tiles leave the last wave mostly idle (8192 x 1280 x 8192: 2.4 waves of 132 SMs).
void gemm_wgmma_cluster_128_sm90(const GemmArgs& args, cudaStream_t stream);

}  // namespace trainbench::kernels
