// int8gemm.wgmma and int8gemm.wgmma_splitk: s8 x s8 on Hopper's tensor cores through wgmma (sm_90a
// only), per-row scales of a and per-column scales of C applied once to the exact s32 sums, BF16
// out. The Hopper step after int8gemm.mma (2_sm80_int8_gemm_mma.cu), which mma.sync holds to about
// half of what the H200 does in INT8: it ran 733.1 TFLOP/s at 4096x7168x16384 where cuBLASLt's
// INT8 matmul ran 1384.8.
//
// It is fp8gemm.wgmma_nopromote (sm90_fp8_gemm_1d2d.cu) with s8 operands, because INT8 needs
// nothing the FP8 kernel adds for promotion:
// - wgmma m64n128k32 .s32.s8.s8: the same k32 step over the same 1-byte K-major operands, so the
//   shared-memory k-tiles (128 rows of 128 bytes, 128B-swizzled), their descriptors, the TMA loads
//   and the producer (load_byte_operand_k_blocks in sm90_fp8_mainloop.cuh) are the FP8 kernel's.
// - The whole k sums in the s32 accumulators, exactly (k <= 2^16, int8_gemm.cuh); nothing to
//   promote, so one set of 64 accumulators per thread, and each consumer keeps one k-block of
//   wgmma in flight while it hands the one before back to the producer (wgmma_wait<1>, as the BF16
//   version 4 does), instead of waiting for every k-block as fp8gemm.wgmma_nopromote does.
// - Warp specialization as there: warpgroup 0 loads (one elected thread), warpgroups 1 and 2
//   multiply rows 0-63 and 64-127 of the 128 x 128 tile; setmaxnreg 40 / 232; a 6-stage ring of
//   full/empty mbarriers; persistent over the grouped tile order (bands of 8 tiles along m).
// - Epilogue: c = bf16(float(s32) sa[i] sb[j]), int8gemm.mma's expression in its order, so the two
//   kernels give the same bits (a GPU test holds them to it). Each thread's two row scales and 32
//   column scales are loaded before the tile's mainloop, where their latency hides. The BF16 values
//   leave as the FP8 kernel's do: stmatrix .trans into two 128B-swizzled 64 x 64 chunks per
//   consumer, one TMA store per chunk, drained under the next tile's mainloop.
// - Split k (int8gemm.wgmma_splitk, args.k_splits > 1, where the tiles fill at most half the SMs):
//   unit u of the persistent walk is part u % k_splits of tile u / k_splits, as in
//   fp8gemm.wgmma_splitk; a part's s32 sums go to the workspace [split][n][m], and
//   int8_split_k_sum (int8gemm.mma_splitk's second kernel) adds them and scales them with the same
//   expression: the same bits again.
//
// Prediction (H200): fp8gemm.wgmma_nopromote, this pipeline with a per-element epilogue and a wait
// on every k-block, ran 1268.1 TFLOP/s at 4096^3 (0.957x cuBLASLt FP8), and the H100's and H200's
// dense INT8 peak is their FP8 peak (1979 TOPS). So about 1200 at 4096x7168x16384: 0.85x to 0.95x
// int8gemm.cublaslt there (1384.8, which also pays a separate scale pass) and 1.6x int8gemm.mma.
// Not yet run on a GPU.
#include <climits>
#include <cstdint>
#include <stdexcept>
#include <string>

#include <cuda.h>
#include <cuda_bf16.h>

#include "kernels/common/ptx.cuh"
#include "kernels/common/sm90_layout.cuh"
#include "kernels/common/sm90_ptx.cuh"
#include "kernels/common/tensor_map.cuh"
#include "kernels/gemm/sm90_tiles.cuh"
#include "kernels/gemm/tile_scheduler.cuh"
#include "kernels/quant/int8_gemm.cuh"
#include "kernels/quant/scaled_gemm.cuh"
#include "kernels/quant/sm90_fp8_mainloop.cuh"

namespace trainbench::kernels {
namespace {

constexpr int kStages = 6;
constexpr int kConsumers = 2;
constexpr int kThreads = 128 * (1 + kConsumers);
constexpr int kProducerRegisters = 40, kConsumerRegisters = 232;
constexpr int kBandTiles = 8;
// The producer's k-tiles are the FP8 kernel's: 128 rows of 128 bytes for both operands.
static_assert(kInt8TileM == kFp8TileM && kInt8TileN == kFp8TileN && kInt8TileK == kFp8TileK);
static_assert(kInt8TileM == kWgmmaM * kConsumers && kInt8MmaK == kFp8WgmmaK);
// What the producer gives back must pay exactly for what the consumers take (setmaxnreg.inc
// waits until registers are free), as in the FP8 kernel.
static_assert((65536 / kThreads / 8 * 8 - kProducerRegisters) * 128 ==
              (kConsumerRegisters - 65536 / kThreads / 8 * 8) * 128 * kConsumers);

constexpr std::uint32_t kStageBytes = 2 * kFp8OperandTileBytes;
using Chunk = Sm90StoreChunk<__nv_bfloat16>;
constexpr std::uint32_t kStagingBytes = 2 * Chunk::kBytes;  // two 64 x 64 chunks per consumer
constexpr int kSmemBytes =
    kStages * static_cast<int>(kStageBytes) + kConsumers * static_cast<int>(kStagingBytes) + 2 * kStages * 8 + 1024;
static_assert(kSmemBytes <= 227 * 1024, "an H100's or H200's shared memory per block");

__global__ void __launch_bounds__(kThreads, 1)
int8_gemm_wgmma_kernel(const __grid_constant__ CUtensorMap a_map, const __grid_constant__ CUtensorMap b_map,
                       const __grid_constant__ CUtensorMap c_map, const float* __restrict__ a_scales,
                       const float* __restrict__ b_scales, int m, int n, int k, GroupedTileOrder order, int k_splits,
                       std::int32_t* __restrict__ parts) {
#if TRAINBENCH_SM90A
  constexpr int kAccumulators = kInt8TileN / 2;  // s32 per thread, m64n128
  constexpr int kWgmmasPerKBlock = kInt8TileK / kInt8MmaK;
  extern __shared__ unsigned char smem[];
  const std::uint32_t base = (ptx::smem_addr(smem) + 1023u) & ~1023u;
  const auto a_tile = [&](int s) { return base + static_cast<std::uint32_t>(s) * kStageBytes; };
  const auto b_tile = [&](int s) { return a_tile(s) + kFp8OperandTileBytes; };
  const auto staging = [&](int consumer) {  // 1024-aligned, as the 128B swizzle needs
    return base + kStages * kStageBytes + static_cast<std::uint32_t>(consumer) * kStagingBytes;
  };
  const auto full = [&](int s) { return staging(kConsumers) + 8u * static_cast<std::uint32_t>(s); };
  const auto empty = [&](int s) { return full(kStages) + 8u * static_cast<std::uint32_t>(s); };

  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32, wg = tid / 128;
  const int k_blocks = (k + kInt8TileK - 1) / kInt8TileK;
  constexpr int kEpilogueBarrier = 1;  // named barriers 1 and 2, one per consumer (0 is __syncthreads')
  const PersistentTileScheduler sched{order, static_cast<int>(gridDim.x)};
  const int units = order.num_tiles() * k_splits;
  const bool split = k_splits > 1;

  if (tid == 0) {
    for (int s = 0; s < kStages; ++s) {
      ptx::mbarrier_init(full(s), 1);                // the producer's arrive_expect_tx
      ptx::mbarrier_init(empty(s), kConsumers * 4);  // one arrival per consumer warp
    }
    ptx::fence_mbarrier_init();
  }
  __syncthreads();

  if (wg == 0) {
    ptx::setmaxnreg_dec<kProducerRegisters>();
    if (warp == 0 && ptx::elect_one())
      load_byte_operand_k_blocks<kStages>(&a_map, &b_map, sched, k_splits, k_blocks, full, empty, a_tile, b_tile);
  } else {
    // Consumer w computes rows 64w .. 64w + 63 of the CTA tile (wgmma_accumulator_coord says
    // which element each register holds).
    ptx::setmaxnreg_inc<kConsumerRegisters>();
    const int consumer = wg - 1, t128 = tid % 128;
    if (!split && t128 == 0) ptx::prefetch_tensor_map(&c_map);
    std::int32_t acc[kAccumulators] = {};
    int stage = 0;
    std::uint32_t phase = 0;
    for (int u = sched.first(blockIdx.x); u < units; u = sched.next(u)) {
      const TileCoord tile = order.tile(u / k_splits);
      const int part_index = u % k_splits;
      const KBlockRange part = k_split_range(part_index, k_splits, k_blocks);
      const int i0 = tile.i * kInt8TileM + kWgmmaM * consumer, j0 = tile.j * kInt8TileN;
      // The scales of this thread's 2 rows and 32 columns (its row and column slots, sm90_layout.cuh),
      // read before the mainloop. Past m or n: row or column 0's, finite and never stored.
      float sa[2], sb[kAccumulators / 2];
      if (!split) {
#pragma unroll
        for (int h = 0; h < 2; ++h) {
          const int i = i0 + wgmma_accumulator_coord(t128, 2 * h).row;
          sa[h] = __ldg(a_scales + (i < m ? i : 0));
        }
#pragma unroll
        for (int q = 0; q < kAccumulators / 2; ++q) {
          const int j = j0 + wgmma_accumulator_coord(t128, wgmma_col_slot_register(q)).col;
          sb[q] = __ldg(b_scales + (j < n ? j : 0));
        }
      }
      int previous = stage;
      for (int kb = 0; kb < part.count; ++kb) {
        ptx::mbarrier_wait(full(stage), phase);
        ptx::fence_registers(acc);
        ptx::wgmma_fence();
#pragma unroll
        for (int ks = 0; ks < kWgmmasPerKBlock; ++ks)
          ptx::wgmma_m64n128k32_s8(acc, fp8_operand_descriptor(a_tile(stage), kWgmmaM * consumer, ks),
                                   fp8_operand_descriptor(b_tile(stage), 0, ks), kb > 0 || ks > 0);
        ptx::wgmma_commit();
        ptx::wgmma_wait<1>();  // k-block kb - 1's wgmmas are done: hand its stage back
        ptx::fence_registers(acc);
        if (kb > 0 && lane == 0) ptx::mbarrier_arrive(empty(previous));
        previous = stage;
        if (++stage == kStages) {
          stage = 0;
          phase ^= 1u;
        }
      }
      ptx::wgmma_wait<0>();
      ptx::fence_registers(acc);
      if (lane == 0) ptx::mbarrier_arrive(empty(previous));

      if (split) {  // the part's exact sums, column-major like c, for int8_split_k_sum
        std::int32_t* const mine = parts + static_cast<std::int64_t>(part_index) * m * n;
#pragma unroll
        for (int r = 0; r < kAccumulators; ++r) {
          const WgmmaCoord at = wgmma_accumulator_coord(t128, r);
          const int i = i0 + at.row, j = j0 + at.col;
          if (i < m && j < n) mine[static_cast<std::int64_t>(j) * m + i] = acc[r];
        }
        continue;
      }
      float out[kAccumulators];
#pragma unroll
      for (int r = 0; r < kAccumulators; ++r)
        out[r] = static_cast<float>(acc[r]) * sa[wgmma_accumulator_row_slot(r)] * sb[wgmma_accumulator_col_slot(r)];
      store_accumulators_tma_transposed<kInt8TileN>(c_map, staging(consumer), out, i0, j0, t128,
                                                    kEpilogueBarrier + consumer);
    }
    if (!split && t128 == 0) ptx::bulk_wait_group<0>();  // the staging buffers must outlive the stores
  }
#else
  __trap();  // sm_90a only; the registry keeps other GPUs from launching it
#endif
}

}  // namespace

void int8_gemm_wgmma_sm90(const ScaledGemmArgs& args, cudaStream_t stream) {
  if (!args.s8) throw std::invalid_argument("int8_gemm_wgmma_sm90 takes s8 operands (args.s8), not E4M3");
  if (args.a_scale != AScale::Row || args.b_scale != BScale::Col || args.c_f32)
    throw std::invalid_argument("int8_gemm_wgmma_sm90 takes a_scale Row, b_scale Col and BF16 output only");
  if (args.m <= 0 || args.n <= 0) throw std::invalid_argument("int8_gemm_wgmma_sm90 needs m and n positive");
  if (args.k <= 0 || args.k > kInt8MaxK || args.k % kInt8KAlign)
    throw std::invalid_argument("int8_gemm_wgmma_sm90 needs k a multiple of " + std::to_string(kInt8KAlign) +
                                " (TMA's 16-byte row pitch) from 16 to " + std::to_string(kInt8MaxK) + ", not " +
                                std::to_string(args.k));
  if (args.m % kInt8MAlign)
    throw std::invalid_argument("int8_gemm_wgmma_sm90 needs m a multiple of " + std::to_string(kInt8MAlign) +
                                " (C^T's rows of m BF16 are stored by TMA: a 16-byte pitch), not " +
                                std::to_string(args.m));
  const int k_blocks = (args.k + kInt8TileK - 1) / kInt8TileK;
  if (args.k_splits < 1 || args.k_splits > k_blocks)
    throw std::invalid_argument("int8_gemm_wgmma_sm90 splits k into 1 to ceil(k / 128) = " + std::to_string(k_blocks) +
                                " parts, not " + std::to_string(args.k_splits));
  const std::uint64_t tiles = scaled_gemm_tile_count(static_cast<std::uint64_t>(args.m), static_cast<std::uint64_t>(args.n));
  if (tiles * static_cast<std::uint64_t>(args.k_splits) > INT_MAX)
    throw std::invalid_argument("int8_gemm_wgmma_sm90: tiles times k_splits must fit in an int (fewer parts)");
  if (args.k_splits > 1 && (args.workspace == nullptr || reinterpret_cast<std::uintptr_t>(args.workspace) % 8))
    throw std::invalid_argument("int8_gemm_wgmma_sm90 with k split into " + std::to_string(args.k_splits) +
                                " parts needs args.workspace (8-byte aligned) of split_k_workspace_bytes = " +
                                std::to_string(split_k_workspace_bytes(args.m, args.n, args.k_splits)) + " bytes");
  if (reinterpret_cast<std::uintptr_t>(args.c) % (args.k_splits == 1 ? 16 : 4))
    throw std::invalid_argument(args.k_splits == 1
                                    ? "int8_gemm_wgmma_sm90 stores c by TMA: c must be 16-byte aligned"
                                    : "int8_gemm_wgmma_sm90 with k split stores c as BF16 pairs: c must be 4-byte aligned");

  const auto kernel = int8_gemm_wgmma_kernel;
  static const cudaError_t opt_in = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kSmemBytes);
  (void)opt_in;  // a failure surfaces at the launch, which the caller checks
  struct Maps {
    ScaledGemmArgs args;
    CUtensorMap a, b, c;
  };
  static thread_local Maps last{};  // encoding is a driver call; the timed loop repeats one problem
  if (last.args.a != args.a || last.args.b != args.b || last.args.c != args.c || last.args.m != args.m ||
      last.args.n != args.n || last.args.k != args.k || last.args.k_splits != args.k_splits) {
    last.a = byte_operand_tensor_map(args.a, args.k, args.m, kInt8TileM);
    last.b = byte_operand_tensor_map(args.b, args.k, args.n, kInt8TileN);
    // C^T: n rows of m contiguous BF16, one 64 x 64 chunk per box; unused when k is split.
    last.c = args.k_splits == 1 ? make_tensor_map_bf16_2d_sw128(args.c, static_cast<std::uint64_t>(args.m),
                                                                static_cast<std::uint64_t>(args.n), Chunk::kCols,
                                                                Chunk::kRows)
                                : CUtensorMap{};
    last.args = args;
  }
  const GroupedTileOrder order{.tiles_i = (args.m + kInt8TileM - 1) / kInt8TileM,
                               .tiles_j = (args.n + kInt8TileN - 1) / kInt8TileN,
                               .group = kBandTiles};
  const int grid = persistent_grid_size(order.num_tiles() * args.k_splits, current_device_sm_count());
  kernel<<<grid, kThreads, kSmemBytes, stream>>>(last.a, last.b, last.c, args.a_scales, args.b_scales, args.m, args.n,
                                                 args.k, order, args.k_splits,
                                                 static_cast<std::int32_t*>(args.workspace));
  if (args.k_splits > 1) int8_split_k_sum(args, stream);
}

}  // namespace trainbench::kernels
