// int8gemm.mma: s8 x s8 on tensor cores through mma.sync (sm_80 and later: A100, L40, H100), per-row
// scales of a and per-column scales of C applied once to the exact s32 sums, BF16 out.
//
// It is kernels/gemm/2_sm80_bf16_gemm_mma.cu with s8 operands, K-major only:
// - mma.sync m16n8k32 s8.s8 -> s32 (IMMA). An s8 fragment holds 4 consecutive k per register
//   where BF16 holds 2, so in bytes the fragments are the BF16 ones: the same ldmatrix.x4
//   addressing loads them, and a 128-byte tile row is 128 k instead of 64.
// - 128 (m) x 128 (n) x 128 (k) tiles per 256-thread CTA, 8 warps as 4 (m) x 2 (n), each warp
//   32 (m) x 64 (n) = 4 x 4 mma tiles, 64 s32 accumulators per thread; 3-stage cp.async ring of
//   32 KiB stages (96 KiB), XOR-swizzled per 16-byte chunk (chunk ^ row % 8).
// - Epilogue: c = bf16(float(s32) sa[i] sb[j]). Scales constant along k mean the tensor core may
//   sum the whole of k; no promotion is needed, and the s32 sums are exact (k <= 2^16).
// As in the BF16 kernel, C^T is computed row-major (= C column-major): the mma's row operand is
// b (index j), its column operand a (index i), so a thread's accumulator pairs are adjacent in
// memory and leave as 4-byte BF16 pair stores.
//
// Split k (int8gemm.mma_splitk, since the H200 run): grid z is the part of k (k_split_range over
// k-tiles of 128); with more than one part, each CTA writes its exact s32 sums to the workspace
// and int8_split_k_sum_kernel adds the parts and scales them with the unsplit epilogue's
// expression: the same bits. For shapes whose tiles fill at most half the SMs (128 x 7168 has 56);
// not yet measured.
//
// Measured (H200, results/h200-sxm/int8.log): 733.1 TFLOP/s at 4096x7168x16384 (0.529x
// int8gemm.cublaslt), 728.2 at 8192^3 (0.604x), 410.4 at 4096x32768x512 (1.636x: cuBLASLt's
// s32 output and separate scale pass cost it most where k is short); 0.670x in geometric mean.
#include "kernels/common/ptx.cuh"
#include "kernels/common/swizzle.cuh"
#include "kernels/quant/int8_gemm.cuh"

#include <cuda_bf16.h>

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace trainbench::kernels {
namespace {

constexpr int kTileI = kInt8TileM;  // rows of C (m), from a
constexpr int kTileJ = kInt8TileN;  // columns of C (n), from b
constexpr int kTileK = kInt8TileK;
constexpr int kStages = 3;
constexpr int kThreads = 256;
constexpr int kWarpsI = 4, kWarpsJ = 2;
constexpr int kWarpI = kTileI / kWarpsI;  // 32: four n8 mma tiles
constexpr int kWarpJ = kTileJ / kWarpsJ;  // 64: four m16 mma tiles
constexpr int kFragsI = kWarpI / 8, kFragsJ = kWarpJ / 16;
constexpr int kChunksPerRow = kTileK / 16;              // 8 chunks of 16 s8
constexpr int kOperandTileBytes = kTileI * kTileK;      // 16 KiB: one operand, one stage
constexpr int kStageBytes = 2 * kOperandTileBytes;
constexpr int kSmemBytes = kStages * kStageBytes;
constexpr int kChunksPerThread = kOperandTileBytes / 16 / kThreads;
static_assert(kTileI == kTileJ, "one loader serves both operand tiles");
static_assert(kWarpsI * kWarpsJ * 32 == kThreads);
static_assert(kTileK % kInt8MmaK == 0 && kOperandTileBytes % (16 * kThreads) == 0);
static_assert(kInt8MAlign % 2 == 0, "the BF16 pair stores need m even");

// One operand's k-tile, [rows][k] in global and in shared memory. Consecutive threads take
// consecutive 16-byte chunks of a row: coalesced. Chunks past `rows` or k are zero-filled.
__device__ __forceinline__ void load_tile(std::uint32_t tile, const std::int8_t* g, int rows, int k, int row0, int k0,
                                          int tid) {
#pragma unroll
  for (int it = 0; it < kChunksPerThread; ++it) {
    const int c = tid + it * kThreads;
    const int r = c / kChunksPerRow, ch = c % kChunksPerRow;
    const int gr = row0 + r, gk = k0 + ch * 16;
    const bool valid = gr < rows && gk < k;
    ptx::cp_async_16(tile + swizzle_xor_chunk<kChunksPerRow>(r, ch), valid ? g + std::size_t(gr) * k + gk : g, valid);
  }
}

// The row-operand fragment of one m16n8k32 mma: 16 rows (j) from `row` on, k32 step `ks`
// (32 bytes: chunks 2 ks and 2 ks + 1). Lanes 0-15 address rows 0-15 of the first chunk,
// lanes 16-31 of the second: matrices (rows 0-7, k 0-15), (8-15, 0-15), (0-7, 16-31), (8-15, 16-31)
// are a0..a3 of the s8 fragment.
__device__ __forceinline__ void load_row_fragment(std::uint32_t (&frag)[4], std::uint32_t tile, int row, int ks,
                                                  int lane) {
  ptx::ldmatrix_x4(frag, tile + swizzle_xor_chunk<kChunksPerRow>(row + (lane & 15), 2 * ks + (lane >> 4)));
}

// The column-operand fragments of two adjacent n8 mma tiles: 16 columns (i) from `col` on.
// Matrix q: columns +8(q>>1), k +16(q&1); frag[0..1] are b0, b1 of the first tile, frag[2..3] of
// the second.
__device__ __forceinline__ void load_col_fragments(std::uint32_t (&frag)[4], std::uint32_t tile, int col, int ks,
                                                   int lane) {
  const int q = lane >> 3, r = lane & 7;
  ptx::ldmatrix_x4(frag, tile + swizzle_xor_chunk<kChunksPerRow>(col + r + 8 * (q >> 1), 2 * ks + (q & 1)));
}

__global__ void __launch_bounds__(kThreads)
int8_gemm_imma_kernel(const std::int8_t* __restrict__ a, const std::int8_t* __restrict__ b,
                          const float* __restrict__ a_scales, const float* __restrict__ b_scales,
                          __nv_bfloat16* __restrict__ c, int m, int n, int k, int k_splits,
                          std::int32_t* __restrict__ parts) {
  extern __shared__ __align__(1024) unsigned char smem[];
  const std::uint32_t smem_base = ptx::smem_addr(smem);
  const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32;
  const int i0 = blockIdx.x * kTileI, j0 = blockIdx.y * kTileJ;
  const int warp_i = (warp % kWarpsI) * kWarpI, warp_j = (warp / kWarpsI) * kWarpJ;
  // Part blockIdx.z of k_splits: k-tiles part.begin ..; the whole k without a split.
  const KBlockRange part = k_split_range(static_cast<int>(blockIdx.z), k_splits, (k + kTileK - 1) / kTileK);
  const int k_tiles = part.count;

  // Stage s: b's tile (the mma row operand) first, then a's.
  const auto b_tile = [&](int s) { return smem_base + static_cast<std::uint32_t>(s * kStageBytes); };
  const auto a_tile = [&](int s) { return b_tile(s) + kOperandTileBytes; };
  const auto load_stage = [&](int kt) {  // the part's k-tile kt
    const int s = kt % kStages, k0 = (part.begin + kt) * kTileK;
    load_tile(b_tile(s), b, n, k, j0, k0, tid);
    load_tile(a_tile(s), a, m, k, i0, k0, tid);
  };

  // Prologue: kStages - 1 k-tiles in flight. Every iteration commits one group (empty past the
  // end) so that wait_group<kStages - 2> always means "k-tile kt has landed".
#pragma unroll
  for (int kt = 0; kt < kStages - 1; ++kt) {
    if (kt < k_tiles) load_stage(kt);
    ptx::cp_async_commit();
  }

  int acc[kFragsJ][kFragsI][4] = {};
  for (int kt = 0; kt < k_tiles; ++kt) {
    ptx::cp_async_wait<kStages - 2>();
    __syncthreads();  // k-tile kt visible to all; everyone is done with the stage refilled next
    if (kt + kStages - 1 < k_tiles) load_stage(kt + kStages - 1);
    ptx::cp_async_commit();

    const int s = kt % kStages;
#pragma unroll
    for (int ks = 0; ks < kTileK / kInt8MmaK; ++ks) {
      std::uint32_t row_frag[kFragsJ][4];
      std::uint32_t col_frag[kFragsI][2];
#pragma unroll
      for (int fj = 0; fj < kFragsJ; ++fj) load_row_fragment(row_frag[fj], b_tile(s), warp_j + 16 * fj, ks, lane);
#pragma unroll
      for (int fi = 0; fi < kFragsI; fi += 2) {
        std::uint32_t pair[4];
        load_col_fragments(pair, a_tile(s), warp_i + 8 * fi, ks, lane);
        col_frag[fi][0] = pair[0];
        col_frag[fi][1] = pair[1];
        col_frag[fi + 1][0] = pair[2];
        col_frag[fi + 1][1] = pair[3];
      }
#pragma unroll
      for (int fj = 0; fj < kFragsJ; ++fj)
#pragma unroll
        for (int fi = 0; fi < kFragsI; ++fi) ptx::mma_m16n8k32_s8(acc[fj][fi], row_frag[fj], col_frag[fi]);
    }
  }
  ptx::cp_async_wait<0>();

  // Accumulator (fj, fi): d[0..1] at (j = lane/4, i = 2(lane%4) + 0..1), d[2..3] at j + 8.
  // m is a multiple of 8 and i even, so i < m implies i + 1 < m.
  const int g = lane / 4, t = lane % 4;
  if (k_splits > 1) {  // the part's exact s32 sums, as pairs (8-byte aligned: m and i even)
    std::int32_t* const mine = parts + static_cast<std::size_t>(blockIdx.z) * m * n;
#pragma unroll
    for (int fi = 0; fi < kFragsI; ++fi) {
      const int i = i0 + warp_i + 8 * fi + 2 * t;
      if (i >= m) continue;
#pragma unroll
      for (int fj = 0; fj < kFragsJ; ++fj)
#pragma unroll
        for (int half = 0; half < 2; ++half) {
          const int j = j0 + warp_j + 16 * fj + g + 8 * half;
          if (j < n)
            *reinterpret_cast<int2*>(mine + std::size_t(j) * m + i) =
                make_int2(acc[fj][fi][2 * half], acc[fj][fi][2 * half + 1]);
        }
    }
    return;
  }
#pragma unroll
  for (int fi = 0; fi < kFragsI; ++fi) {
    const int i = i0 + warp_i + 8 * fi + 2 * t;
    if (i >= m) continue;
    const float sa0 = a_scales[i], sa1 = a_scales[i + 1];
#pragma unroll
    for (int fj = 0; fj < kFragsJ; ++fj)
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        const int j = j0 + warp_j + 16 * fj + g + 8 * half;
        if (j >= n) continue;
        const float sb = b_scales[j];
        const float lo = static_cast<float>(acc[fj][fi][2 * half]) * sa0 * sb;
        const float hi = static_cast<float>(acc[fj][fi][2 * half + 1]) * sa1 * sb;
        *reinterpret_cast<__nv_bfloat162*>(c + std::size_t(j) * m + i) = __floats2bfloat162_rn(lo, hi);
      }
  }
}

// c = bf16(float(sum of the k_splits parts' s32) sa[i] sb[j]): the sum is exact (the s32 bound
// holds for the whole k), and the scaling is the unsplit epilogue's expression, so the output is
// the unsplit kernel's bit for bit. One thread per adjacent pair (i, i + 1) of a column.
__global__ void __launch_bounds__(256)
int8_split_k_sum_kernel(const std::int32_t* __restrict__ parts, const float* __restrict__ a_scales,
                        const float* __restrict__ b_scales, __nv_bfloat16* __restrict__ c, int m, int n,
                        int k_splits) {
  const std::size_t count = static_cast<std::size_t>(m) * n, pairs = count / 2;
  for (std::size_t p = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; p < pairs;
       p += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
    const std::size_t at = 2 * p;
    const int i = static_cast<int>(at % m), j = static_cast<int>(at / m);
    int2 sum = *reinterpret_cast<const int2*>(parts + at);
    for (int z = 1; z < k_splits; ++z) {
      const int2 v = *reinterpret_cast<const int2*>(parts + z * count + at);
      sum.x += v.x;
      sum.y += v.y;
    }
    const float sb = b_scales[j];
    const float lo = static_cast<float>(sum.x) * a_scales[i] * sb;
    const float hi = static_cast<float>(sum.y) * a_scales[i + 1] * sb;
    *reinterpret_cast<__nv_bfloat162*>(c + at) = __floats2bfloat162_rn(lo, hi);
  }
}

}  // namespace

void int8_gemm_mma_sm80(const ScaledGemmArgs& args, cudaStream_t stream) {
  if (args.a_scale != AScale::Row || args.b_scale != BScale::Col || args.c_f32)
    throw std::invalid_argument("int8_gemm_mma_sm80 takes a_scale Row, b_scale Col and BF16 output only");
  if (args.k <= 0 || args.k > kInt8MaxK)
    throw std::invalid_argument("int8_gemm_mma_sm80 needs k from 1 to " + std::to_string(kInt8MaxK) + ", not " +
                                std::to_string(args.k));
  const int k_tiles = (args.k + kTileK - 1) / kTileK;
  if (args.k_splits < 1 || args.k_splits > k_tiles)
    throw std::invalid_argument("int8_gemm_mma_sm80 splits k into 1 to ceil(k / 128) = " + std::to_string(k_tiles) +
                                " parts, not " + std::to_string(args.k_splits));
  if (args.k_splits > 1 && (args.workspace == nullptr || reinterpret_cast<std::uintptr_t>(args.workspace) % 8))
    throw std::invalid_argument("int8_gemm_mma_sm80 with k split into " + std::to_string(args.k_splits) +
                                " parts needs args.workspace (8-byte aligned) of split_k_workspace_bytes = " +
                                std::to_string(split_k_workspace_bytes(args.m, args.n, args.k_splits)) + " bytes");
  if (reinterpret_cast<std::uintptr_t>(args.c) % 4)
    throw std::invalid_argument("int8_gemm_mma_sm80 stores c as BF16 pairs: c must be 4-byte aligned");
  const auto kernel = int8_gemm_imma_kernel;
  // Above 48 KiB of dynamic shared memory needs an opt-in, once (errors surface at the launch,
  // which the caller checks).
  static const cudaError_t opt_in = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kSmemBytes);
  (void)opt_in;
  const dim3 grid((args.m + kTileI - 1) / kTileI, (args.n + kTileJ - 1) / kTileJ, args.k_splits);
  auto* const parts = static_cast<std::int32_t*>(args.workspace);
  kernel<<<grid, kThreads, kSmemBytes, stream>>>(reinterpret_cast<const std::int8_t*>(args.a),
                                                 reinterpret_cast<const std::int8_t*>(args.b), args.a_scales,
                                                 args.b_scales, static_cast<__nv_bfloat16*>(args.c), args.m, args.n,
                                                 args.k, args.k_splits, parts);
  if (args.k_splits > 1) int8_split_k_sum(args, stream);
}

void int8_split_k_sum(const ScaledGemmArgs& args, cudaStream_t stream) {
  const std::size_t pairs = static_cast<std::size_t>(args.m) * args.n / 2;
  const std::size_t blocks = (pairs + 255) / 256, most = 1024;  // a grid-stride loop: any count works
  int8_split_k_sum_kernel<<<static_cast<unsigned>(blocks < most ? blocks : most), 256, 0, stream>>>(
      static_cast<const std::int32_t*>(args.workspace), args.a_scales, args.b_scales,
      static_cast<__nv_bfloat16*>(args.c), args.m, args.n, args.k_splits);
}

}  // namespace trainbench::kernels
