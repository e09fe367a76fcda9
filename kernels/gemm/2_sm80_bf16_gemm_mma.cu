// gemm.mma, version 2: tensor cores through mma.sync (sm_80 and later: A100, L40, H100).
//
// What it changes from version 1 (SIMT):
// - The multiply runs on tensor cores: mma.sync m16n8k16, BF16 in, FP32 accumulators.
// - Operands reach registers through ldmatrix (.trans for M- or N-major operands), so every
//   layout lands in the same fragments; shared memory is XOR-swizzled per 16-byte chunk
//   (chunk ^ row % 8) so that both the cp.async writes and the ldmatrix reads of 8 rows hit 8
//   distinct bank groups.
// - Global loads are cp.async (16 bytes, L1 bypassed) in a 3-stage pipeline: two k-tiles are in
//   flight while the tensor cores work on the third. Out-of-bounds chunks are zero-filled
//   (src-size 0), which handles M, N and K tails that are multiples of 8.
// Tiles (MmaTiles; two configurations, both registered):
// - gemm.mma: 128 (m) x 128 (n) x 64 (k) per 256-thread CTA, 8 warps as 4 (m) x 2 (n), each
//   warp 32 (m) x 64 (n) = 4 x 4 mma tiles, 64 FP32 accumulators per thread; 96 KiB of shared
//   memory, about 125 registers: two CTAs per SM.
// - gemm.mma_128x256 (version 2b): 128 (m) x 256 (n) x 64, 8 warps as 2 (m) x 4 (n) of 64 x 64,
//   128 accumulators per thread; 144 KiB, 238 to 254 registers (no spills): one CTA per SM; tiles in bands
//   of 8 along m (GroupedTileOrder), so the CTAs running together share A and B panels in L2. Why, from
//   gemm.mma's H200 rate (361.8 TFLOP/s = 1384 FLOP per cycle per SM at 1.98 GHz):
//   - L2 to SM: a 128x128 tile reads 512 bytes per k for 32 KFLOP, 1/64 byte per FLOP, so
//     gemm.mma already pulls 5.7 TB/s out of L2. 128x256 reads 1/85 byte per FLOP.
//   - Shared memory: per k16 step a 32x64 warp tile issues 6 ldmatrix.x4 (3 KiB, 24 cycles at
//     128 B per cycle) for 16 mma (64 KFLOP, 47 cycles at that rate), a 64x64 tile 8 (4 KiB)
//     for 32 mma: a third fewer bytes per FLOP, headroom before shared memory limits.
//   Prediction: above gemm.mma on H100/H200 by what L2 allows. Not yet run on a GPU.
//
// The kernel computes C^T = op(B)^T op(A)^T row-major, which is C column-major: the mma's
// row operand ("A" fragment) comes from B (index j, the n dimension) and its column operand
// ("B" fragment) from A (index i, m), so each thread's accumulator pairs are adjacent in
// memory and leave as 4-byte (BF16) or 8-byte (FP32) stores.
//
// Measured, gemm.mma (H200, results/h200-sxm/gemm-square.log; tn, BF16 out, L2 cold): 352.5 TFLOP/s at 4096^3
// (0.451x gemm.cublas), 361.8 TFLOP/s at 8192^3 (0.454x).
#include "kernels/common/ptx.cuh"
#include "kernels/common/swizzle.cuh"
#include "kernels/gemm/dispatch.cuh"
#include "kernels/gemm/gemm.cuh"
#include "kernels/gemm/tile_scheduler.cuh"

#include <cstddef>
#include <cstdint>

namespace trainbench::kernels {
namespace {

// A CTA tile of kTileI (m, from A) x kTileJ (n, from B) x 64 (k), kWarpsI x kWarpsJ warps. Tiles
// go to CTAs by a 2-D grid (kGroup 0: blockIdx.x along m, blockIdx.y along n) or by a 1-D grid in
// GroupedTileOrder's bands of kGroup tiles along m (tile_scheduler.cuh).
template <int kTileI_, int kTileJ_, int kWarpsI_, int kWarpsJ_, int kGroup_>
struct MmaTiles {
  static constexpr int kTileI = kTileI_;  // rows of C (m), from A
  static constexpr int kTileJ = kTileJ_;  // columns of C (n), from B
  static constexpr int kTileK = 64;
  static constexpr int kStages = 3;
  static constexpr int kWarpsI = kWarpsI_, kWarpsJ = kWarpsJ_;
  static constexpr int kGroup = kGroup_;
  static constexpr int kThreads = 32 * kWarpsI * kWarpsJ;
  static constexpr int kWarpI = kTileI / kWarpsI;  // n8 mma tiles of 8 columns of A's rows
  static constexpr int kWarpJ = kTileJ / kWarpsJ;  // m16 mma tiles of 16 of B's rows
  static constexpr int kFragsI = kWarpI / 8, kFragsJ = kWarpJ / 16;
  static constexpr int kATileBytes = kTileI * kTileK * 2, kBTileBytes = kTileJ * kTileK * 2;
  static constexpr int kStageBytes = kATileBytes + kBTileBytes;
  static constexpr int kSmemBytes = kStages * kStageBytes;
  static_assert(kFragsI % 2 == 0 && kFragsJ >= 1, "column fragments load in pairs of n8 tiles");
  static_assert(kATileBytes % (16 * kThreads) == 0 && kBTileBytes % (16 * kThreads) == 0);
};
// gemm.mma: 8 warps as 4 (m) x 2 (n) of 32 x 64, 64 accumulators per thread, 96 KiB: two CTAs
// per SM on A100 and H100.
using Tiles128x128 = MmaTiles<128, 128, 4, 2, 0>;
// gemm.mma_128x256: 8 warps as 2 (m) x 4 (n) of 64 x 64, 128 accumulators per thread, 144 KiB;
// bands of 8 tiles along m, as the persistent Hopper kernels walk them.
using Tiles128x256 = MmaTiles<128, 256, 2, 4, 8>;

// One operand's k-tile into shared memory. `rows` is the operand's extent outside K (m for A,
// n for B), kTileRows the tile's. K-major: global g[r k + p], tile [kTileRows][k]. Otherwise:
// global g[p rows + r], tile [k][kTileRows]. Consecutive threads take consecutive 16-byte chunks
// of a row: coalesced.
template <bool kKMajor, int kTileRows, int kTileK, int kThreads>
__device__ __forceinline__ void load_tile(std::uint32_t tile, const __nv_bfloat16* g, int rows, int k, int row0,
                                          int k0, int tid) {
  constexpr int kChunksPerThread = kTileRows * kTileK * 2 / 16 / kThreads;
#pragma unroll
  for (int it = 0; it < kChunksPerThread; ++it) {
    const int c = tid + it * kThreads;
    if constexpr (kKMajor) {
      constexpr int kChunks = kTileK / 8;
      const int r = c / kChunks, ch = c % kChunks;
      const int gr = row0 + r, gk = k0 + ch * 8;
      const bool valid = gr < rows && gk < k;
      ptx::cp_async_16(tile + swizzle_xor_chunk<kChunks>(r, ch), valid ? g + std::size_t(gr) * k + gk : g, valid);
    } else {
      constexpr int kChunks = kTileRows / 8;
      const int kk = c / kChunks, ch = c % kChunks;
      const int gk = k0 + kk, gr = row0 + ch * 8;
      const bool valid = gk < k && gr < rows;
      ptx::cp_async_16(tile + swizzle_xor_chunk<kChunks>(kk, ch), valid ? g + std::size_t(gk) * rows + gr : g, valid);
    }
  }
}

// The row-operand fragment of one m16n8k16 mma: 16 rows (j) from `row` on, k16 step `ks`, from
// a tile of kTileRows rows.
template <bool kKMajor, int kTileRows, int kTileK>
__device__ __forceinline__ void load_row_fragment(std::uint32_t (&frag)[4], std::uint32_t tile, int row, int ks,
                                                  int lane) {
  if constexpr (kKMajor) {
    // lanes 0-15: rows 0-15 at k 0-7; lanes 16-31: rows 0-15 at k 8-15
    ptx::ldmatrix_x4(frag, tile + swizzle_xor_chunk<kTileK / 8>(row + (lane & 15), 2 * ks + (lane >> 4)));
  } else {
    // matrix q: rows +8(q&1), k +8(q>>1), stored [k][row] and transposed on the way in
    const int q = lane >> 3, r = lane & 7;
    ptx::ldmatrix_x4_trans(frag, tile + swizzle_xor_chunk<kTileRows / 8>(16 * ks + r + 8 * (q >> 1), row / 8 + (q & 1)));
  }
}

// The column-operand fragments of two adjacent n8 mma tiles: 16 columns (i) from `col` on.
// frag[0..1] belong to the first n8 tile, frag[2..3] to the second.
template <bool kKMajor, int kTileCols, int kTileK>
__device__ __forceinline__ void load_col_fragments(std::uint32_t (&frag)[4], std::uint32_t tile, int col, int ks,
                                                   int lane) {
  // matrix q: columns +8(q>>1), k +8(q&1)
  const int q = lane >> 3, r = lane & 7;
  if constexpr (kKMajor) {
    ptx::ldmatrix_x4(frag, tile + swizzle_xor_chunk<kTileK / 8>(col + r + 8 * (q >> 1), 2 * ks + (q & 1)));
  } else {
    ptx::ldmatrix_x4_trans(frag, tile + swizzle_xor_chunk<kTileCols / 8>(16 * ks + r + 8 * (q & 1), col / 8 + (q >> 1)));
  }
}

template <typename T, GemmLayout kLayout, typename OutT>
__global__ void __launch_bounds__(T::kThreads)
gemm_mma_sm80_kernel(const __nv_bfloat16* __restrict__ a, const __nv_bfloat16* __restrict__ b,
                     OutT* __restrict__ c, int m, int n, int k) {
  constexpr bool kAKMajor = a_k_major(kLayout), kBKMajor = b_k_major(kLayout);
  constexpr int kTileK = T::kTileK, kStages = T::kStages, kFragsI = T::kFragsI, kFragsJ = T::kFragsJ;
  extern __shared__ __align__(1024) unsigned char smem[];
  const std::uint32_t smem_base = ptx::smem_addr(smem);
  const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32;
  TileCoord tile{static_cast<int>(blockIdx.x), static_cast<int>(blockIdx.y)};
  if constexpr (T::kGroup > 0)
    tile = GroupedTileOrder{.tiles_i = (m + T::kTileI - 1) / T::kTileI, .tiles_j = (n + T::kTileJ - 1) / T::kTileJ,
                            .group = T::kGroup}
               .tile(static_cast<int>(blockIdx.x));
  const int i0 = tile.i * T::kTileI, j0 = tile.j * T::kTileJ;
  const int warp_i = (warp % T::kWarpsI) * T::kWarpI, warp_j = (warp / T::kWarpsI) * T::kWarpJ;
  const int k_tiles = (k + kTileK - 1) / kTileK;

  // Stage s: B's tile (the mma row operand) first, then A's.
  const auto b_tile = [&](int s) { return smem_base + static_cast<std::uint32_t>(s * T::kStageBytes); };
  const auto a_tile = [&](int s) { return b_tile(s) + T::kBTileBytes; };
  const auto load_stage = [&](int kt) {
    const int s = kt % kStages;
    load_tile<kBKMajor, T::kTileJ, kTileK, T::kThreads>(b_tile(s), b, n, k, j0, kt * kTileK, tid);
    load_tile<kAKMajor, T::kTileI, kTileK, T::kThreads>(a_tile(s), a, m, k, i0, kt * kTileK, tid);
  };

  // Prologue: kStages - 1 k-tiles in flight. Every iteration commits one group (empty past the
  // end) so that wait_group<kStages - 2> always means "k-tile kt has landed".
#pragma unroll
  for (int kt = 0; kt < kStages - 1; ++kt) {
    if (kt < k_tiles) load_stage(kt);
    ptx::cp_async_commit();
  }

  float acc[kFragsJ][kFragsI][4] = {};
  for (int kt = 0; kt < k_tiles; ++kt) {
    ptx::cp_async_wait<kStages - 2>();
    __syncthreads();  // k-tile kt visible to all; everyone is done with the stage refilled next
    if (kt + kStages - 1 < k_tiles) load_stage(kt + kStages - 1);
    ptx::cp_async_commit();

    const int s = kt % kStages;
#pragma unroll
    for (int ks = 0; ks < kTileK / 16; ++ks) {
      std::uint32_t row_frag[kFragsJ][4];
      std::uint32_t col_frag[kFragsI][2];
#pragma unroll
      for (int fj = 0; fj < kFragsJ; ++fj)
        load_row_fragment<kBKMajor, T::kTileJ, kTileK>(row_frag[fj], b_tile(s), warp_j + 16 * fj, ks, lane);
#pragma unroll
      for (int fi = 0; fi < kFragsI; fi += 2) {
        std::uint32_t pair[4];
        load_col_fragments<kAKMajor, T::kTileI, kTileK>(pair, a_tile(s), warp_i + 8 * fi, ks, lane);
        col_frag[fi][0] = pair[0];
        col_frag[fi][1] = pair[1];
        col_frag[fi + 1][0] = pair[2];
        col_frag[fi + 1][1] = pair[3];
      }
#pragma unroll
      for (int fj = 0; fj < kFragsJ; ++fj)
#pragma unroll
        for (int fi = 0; fi < kFragsI; ++fi) ptx::mma_m16n8k16_bf16(acc[fj][fi], row_frag[fj], col_frag[fi]);
    }
  }
  ptx::cp_async_wait<0>();

  // Accumulator (fj, fi): d[0..1] at (j = lane/4, i = 2(lane%4) + 0..1), d[2..3] at j + 8.
  // m is a multiple of 8 and i even, so i < m implies i + 1 < m.
  const int g = lane / 4, t = lane % 4;
#pragma unroll
  for (int fj = 0; fj < kFragsJ; ++fj)
#pragma unroll
    for (int fi = 0; fi < kFragsI; ++fi) {
      const int i = i0 + warp_i + 8 * fi + 2 * t;
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        const int j = j0 + warp_j + 16 * fj + g + 8 * half;
        if (i < m && j < n)
          store_out_pair(c + std::size_t(j) * m + i, acc[fj][fi][2 * half], acc[fj][fi][2 * half + 1]);
      }
    }
}

template <typename T>
void launch(const GemmArgs& args, cudaStream_t stream) {
  dispatch_gemm(args, [&]<GemmLayout kLayout, typename OutT>() {
    const auto kernel = gemm_mma_sm80_kernel<T, kLayout, OutT>;
    // Above 48 KiB of dynamic shared memory needs an opt-in, once per kernel (errors surface at
    // the launch, which the caller checks).
    static const cudaError_t opt_in =
        cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, T::kSmemBytes);
    (void)opt_in;
    const int tiles_i = (args.m + T::kTileI - 1) / T::kTileI, tiles_j = (args.n + T::kTileJ - 1) / T::kTileJ;
    const dim3 grid = T::kGroup > 0 ? dim3(tiles_i * tiles_j) : dim3(tiles_i, tiles_j);
    kernel<<<grid, T::kThreads, T::kSmemBytes, stream>>>(args.a, args.b, static_cast<OutT*>(args.c), args.m, args.n,
                                                         args.k);
  });
}

}  // namespace

void gemm_mma_sm80(const GemmArgs& args, cudaStream_t stream) { launch<Tiles128x128>(args, stream); }

void gemm_mma_128x256_sm80(const GemmArgs& args, cudaStream_t stream) { launch<Tiles128x256>(args, stream); }

static_assert(Tiles128x256::kSmemBytes == kMmaGemm128x256SmemBytes);

}  // namespace trainbench::kernels
