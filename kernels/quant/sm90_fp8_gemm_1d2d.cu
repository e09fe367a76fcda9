// fp8gemm.wgmma, fp8gemm.wgmma_overlap, fp8gemm.wgmma_splitk and fp8gemm.wgmma_nopromote: E4M3 x
// E4M3 GEMM on Hopper's tensor cores with DeepSeek-V3's fine-grained scales (1x128 for a, "1d";
// 128x128 for b, "2d"), sm_90a only. One kernel, three promotion schedules (PromotionSchedule in
// scaled_gemm.cuh), k split or not.
//
// Built from the BF16 version 4 (kernels/gemm/4_sm90_bf16_gemm_ws.cu) pieces:
// - Warp specialization: warpgroup 0 loads (one elected thread issues TMA), warpgroups 1 and 2
//   multiply; setmaxnreg 40 / 232. A kProducer..kStages ring of full/empty mbarriers.
// - Persistent grid over GroupedTileOrder (tile_scheduler.cuh), bands of 8 tiles along m.
// - Tile 128 (m) x 128 (n) x 128 (k): 128 E4M3 are 128 bytes, the 128B swizzle's span, so one
//   TMA box {128 k, 128 rows} fills an operand's k-tile. The tensor maps view the FP8 bytes as
//   BF16 pairs (make_tensor_map_bf16_2d_sw128 with k / 2 elements per row): TMA moves bytes, and
//   the swizzle and the zero fill past the edges do not depend on the element type.
// - Unlike version 4, wgmma's A operand is a (m rows) and its B operand b (n rows), as DeepGEMM
//   does: each thread then holds two rows, so the 1x128 scales cost it two loads per k-block,
//   and the CTA's 128 columns sit in one 128x128 block of b, so b's scale is one per k-block.
//   The price is the epilogue: each thread's column pairs are m elements apart in column-major
//   C. Until the H200 run they were stored one BF16 at a time (64 scattered 2-byte stores per
//   thread and tile, while neither consumer issued wgmma); see the epilogue below.
// - Epilogue (BF16 output, m a multiple of 8, no k split; since the H200 run): each consumer
//   stages its 64 x 128 accumulators transposed, as C^T's rows j of 64 contiguous i, with
//   stmatrix .x4 .trans (8 per thread, store_accumulators_tma_transposed in
//   kernels/gemm/sm90_tiles.cuh: two 64 x 64 chunks, 128B-swizzled, 16 KiB per consumer), and one
//   thread stores each chunk by TMA, which clips the tails. The stores drain under the next
//   tile's mainloop. Otherwise (FP32 output, m not a multiple of 8, the FP32 parts of a k split)
//   the scalar stores remain. Why: at 4096 x 32768 x 512 (4 k-blocks per tile) the epilogue is a
//   large share of a tile; fp8gemm.wgmma_nopromote ran there 674.6 TFLOP/s, 0.727x cuBLASLt, with
//   no promotion to blame. Not yet measured.
//
// Serial promotion (fp8gemm.wgmma): per k-block, four wgmma m64n128k32 accumulate in `partial`
// (the first overwrites it); after wgmma_wait<0> the consumer adds partial * sa(row) * sb(block)
// into `sum` with FFMA. The two consumer warpgroups work on different rows, so one's promotion can
// overlap the other's wgmma, if they drift apart. 64 + 64 accumulator registers per thread.
// Scales are read by the consumers from global memory (L2) a k-block ahead of their use
// (PromotionScales in scaled_gemm.cuh says why).
//
// Overlapped promotion (fp8gemm.wgmma_overlap): odd k-blocks accumulate in a second set,
// `partial_odd`; each consumer issues k-block kb + 1 before it promotes kb (wgmma_wait<1>), so its
// own tensor-core work covers its FFMAs instead of relying on the other consumer. 64 x 3
// accumulator registers; ptxas allocates up to R227 of setmaxnreg's 232 (BF16 output), without spills. The
// loop leaves only after a wgmma_wait<0>: with an exit where a group might still be in flight,
// ptxas serialized every wgmma (C7514), which scripts/nvcc-check-wgmma.sh turns into a build
// failure. The sums and their order are Serial's: a GPU test holds the two to the same bits.
//
// Split k (fp8gemm.wgmma_splitk: the overlapped schedule with args.k_splits > 1, chosen by
// scaled_gemm_k_splits where the tiles fill at most half the SMs). The persistent CTAs walk work units,
// unit u being part u % k_splits (k_split_range: whole k-blocks) of tile u / k_splits; producer
// and consumers walk the same units, so the ring's stage and phase run on across parts of
// different lengths as they do across tiles. A part's promoted FP32 sums go to the workspace
// [split][n][m] with the same predicated stores as c, and fp8_split_k_sum_kernel adds the parts in
// split order into c: deterministic, and every part is written before it is read (stream order).
// Prediction for 128 x 7168 x 16384 (56 tiles, 2 parts on 132 SMs, 64 k-blocks each): up to twice
// the unsplit kernel's speed there, less the workspace round trip (7.3 MB of parts written and
// read back, 1.8 MB of c: about 3.5 us at the H200's 4.8 TB/s, against the 93 us fp8gemm.wgmma
// took at 322.0 TFLOP/s). Not yet measured.
//
// Without promotion (fp8gemm.wgmma_nopromote): `partial` sums the whole k; sa[0] sb[0] is applied
// once at the end. Only per-tensor scales make that exact; the host entry point refuses the rest.
//
// Not yet: TMA loads of the scales, an unaligned BLOCK_N
// (DeepGEMM's 112 or 144) or stream-K to fill the SMs that a whole-tile split still leaves idle
// (20 of 132 at 128 x 7168). The 2-CTA multicast variant is
// sm90_fp8_gemm_1d2d_cluster.cu (fp8gemm.wgmma_multicast).
//
// Measured (H200, results/h200-sxm/fp8.log, before the scales were loaded ahead, before the
// overlapped schedule, the k split and the TMA-store epilogue): fp8gemm.wgmma 743.4 TFLOP/s at
// 4096x7168x16384 with 1x128/128x128 scales (the 1300 target is far); per-tensor 0.566x
// fp8gemm.cublaslt in geometric mean over the suite's 8 shapes. Promotion is the cost: at 4096^3
// per-tensor the same kernel runs 771.9 with it and 1268.1 without (0.957x cuBLASLt), so the
// promotion per k-block did not hide under the other consumer's wgmma. The prediction for the overlapped schedule: close to the
// no-promotion figure (the FFMAs, 64 per thread per k-block, run while a k-block of wgmma, 512
// tensor-core cycles per CTA at 8192 FLOP/cycle, is in flight). Not yet measured.
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
#include "kernels/quant/scaled_gemm.cuh"
#include "kernels/quant/sm90_fp8_mainloop.cuh"

namespace trainbench::kernels {
namespace {

constexpr int kStages = 6;
constexpr int kConsumers = 2;
constexpr int kThreads = 128 * (1 + kConsumers);
constexpr int kProducerRegisters = 40, kConsumerRegisters = 232;
constexpr int kBandTiles = 8;
static_assert(kFp8TileM == kWgmmaM * kConsumers && kFp8TileK == kPromotionInterval);
static_assert(kFp8TileN == kScaleBlock, "one 128x128 block of b per CTA tile and k-block");
// The launch gives each thread 65536 / kThreads registers in steps of 8 (168 here), and
// setmaxnreg.inc waits until registers are free: what the producer gives back must pay exactly for
// what the consumers take, or they wait forever.
static_assert((65536 / kThreads / 8 * 8 - kProducerRegisters) * 128 ==
              (kConsumerRegisters - 65536 / kThreads / 8 * 8) * 128 * kConsumers);

constexpr std::uint32_t kOperandTileBytes = kFp8OperandTileBytes;
constexpr std::uint32_t kStageBytes = 2 * kOperandTileBytes;
// The BF16 TMA-store epilogue's staging: two 64 x 64 chunks per consumer (store_accumulators_tma_transposed).
constexpr std::uint32_t kStagingBytes = 2 * Sm90StoreChunk<__nv_bfloat16>::kBytes;
constexpr int kSmemBytes =
    kStages * static_cast<int>(kStageBytes) + kConsumers * static_cast<int>(kStagingBytes) + 2 * kStages * 8 + 1024;
static_assert(kSmemBytes <= 227 * 1024, "an H100's or H200's shared memory per block");

template <PromotionSchedule kMode, typename OutT>
__global__ void __launch_bounds__(kThreads, 1)
fp8_gemm_wgmma_kernel(const __grid_constant__ CUtensorMap a_map, const __grid_constant__ CUtensorMap b_map,
                      const __grid_constant__ CUtensorMap c_map, bool tma_store, const float* __restrict__ a_scales,
                      const float* __restrict__ b_scales, ScaleStrides sa_at,
                      ScaleStrides sb_at, OutT* __restrict__ c, int m, int n, int k, GroupedTileOrder order,
                      int k_splits, float* __restrict__ parts) {
#if TRAINBENCH_SM90A
  extern __shared__ unsigned char smem[];
  const std::uint32_t base = (ptx::smem_addr(smem) + 1023u) & ~1023u;
  const auto a_tile = [&](int s) { return base + static_cast<std::uint32_t>(s) * kStageBytes; };
  const auto b_tile = [&](int s) { return a_tile(s) + kOperandTileBytes; };
  const auto staging = [&](int consumer) {  // 1024-aligned, as the 128B swizzle needs
    return base + kStages * kStageBytes + static_cast<std::uint32_t>(consumer) * kStagingBytes;
  };
  const auto full = [&](int s) { return staging(kConsumers) + 8u * static_cast<std::uint32_t>(s); };
  const auto empty = [&](int s) { return full(kStages) + 8u * static_cast<std::uint32_t>(s); };

  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32, wg = tid / 128;
  const int k_blocks = scale_blocks(k);
  constexpr int kEpilogueBarrier = 1;  // named barriers 1 and 2, one per consumer (0 is __syncthreads')
  // Work unit u: part u % k_splits of k (k_split_range) of tile u / k_splits; one unit per tile
  // without a split. The parts of a tile run side by side on neighbouring CTAs.
  const PersistentTileScheduler sched{order, static_cast<int>(gridDim.x)};
  const int units = order.num_tiles() * k_splits;

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
    // Consumer w computes rows 64w .. 64w + 63 of the CTA tile; this thread rows r and r + 8.
    ptx::setmaxnreg_inc<kConsumerRegisters>();
    const int consumer = wg - 1, t128 = tid % 128;
    const int row_in_tile = kWgmmaM * consumer + 16 * (t128 / 32) + (t128 % 32) / 4;
    if (tma_store && t128 == 0) ptx::prefetch_tensor_map(&c_map);
    float partial[kFp8ConsumerAccumulators] = {}, partial_odd[kFp8ConsumerAccumulators] = {};
    float sum[kFp8ConsumerAccumulators] = {};
    Fp8ConsumerRing<kStages> ring;
    const auto hand_back = [&](int s) {
      if (lane == 0) ptx::mbarrier_arrive(empty(s));  // the smem is read: the producer may refill it
    };
    for (int u = sched.first(blockIdx.x); u < units; u = sched.next(u)) {
      const TileCoord tile = order.tile(u / k_splits);
      const int split = u % k_splits;
      const KBlockRange part = k_split_range(split, k_splits, k_blocks);
      const int row = tile.i * kFp8TileM + row_in_tile, col0 = tile.j * kFp8TileN;
      // Rows past m read row 0's scales: finite, and never stored.
      const int row_lo = row < m ? row : 0, row_hi = row + 8 < m ? row + 8 : 0;
      // The scales of the part's k-block kb (its last k-block's again past its end: a load never
      // wasted on a branch).
      const auto scales = [&](int kb) {
        return PromotionScales::load(a_scales, b_scales, sa_at, sb_at, row_lo, row_hi, col0,
                                     part.begin + (kb < part.count ? kb : part.count - 1));
      };
      fp8_consumer_mainloop<kMode>(ring, part.count, consumer, sum, partial, partial_odd, full, a_tile, b_tile,
                                   hand_back, scales);
      // The tile's result: the promoted sums, or (None) the whole-k sums times the one scale.
      if constexpr (kMode == PromotionSchedule::None) {
        const float scale = __ldg(a_scales) * __ldg(b_scales);
#pragma unroll
        for (int r = 0; r < kFp8ConsumerAccumulators; ++r) partial[r] *= scale;
      }
      const float(&out)[kFp8ConsumerAccumulators] = kMode == PromotionSchedule::None ? partial : sum;
      const int i0 = tile.i * kFp8TileM + kWgmmaM * consumer;
      if constexpr (sizeof(OutT) == 2) {
        if (tma_store) {  // BF16, no k split, m a multiple of 8: staged, and stored by TMA (which clips the tails)
          store_accumulators_tma_transposed<kFp8TileN>(c_map, staging(consumer), out, i0, col0, t128,
                                                       kEpilogueBarrier + consumer);
          continue;
        }
      }
#pragma unroll
      for (int r = 0; r < kFp8ConsumerAccumulators; ++r) {
        const WgmmaCoord at = wgmma_accumulator_coord(t128, r);
        const int i = i0 + at.row, j = col0 + at.col;
        if (i < m && j < n) {
          const std::int64_t idx = static_cast<std::int64_t>(j) * m + i;
          if (k_splits > 1) parts[static_cast<std::int64_t>(split) * m * n + idx] = out[r];
          else if constexpr (sizeof(OutT) == 4) c[idx] = out[r];
          else c[idx] = __float2bfloat16_rn(out[r]);
        }
      }
    }
    if (tma_store && t128 == 0) ptx::bulk_wait_group<0>();  // the staging buffers must outlive the stores
  }
#else
  __trap();  // sm_90a only; the registry keeps other GPUs from launching it
#endif
}

// c = the sum of a split GEMM's k_splits parts (each count FP32 values, column-major like c),
// added in split order: the same bits on every run.
template <typename OutT>
__global__ void __launch_bounds__(256)
fp8_split_k_sum_kernel(const float* __restrict__ parts, OutT* __restrict__ c, std::int64_t count, int k_splits) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t at = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; at < count; at += stride) {
    float v = parts[at];
    for (int s = 1; s < k_splits; ++s) v += parts[s * count + at];
    if constexpr (sizeof(OutT) == 4) c[at] = v;
    else c[at] = __float2bfloat16_rn(v);
  }
}

template <PromotionSchedule kMode, typename OutT>
void launch(const ScaledGemmArgs& args, cudaStream_t stream) {
  const auto kernel = fp8_gemm_wgmma_kernel<kMode, OutT>;
  static const cudaError_t opt_in = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kSmemBytes);
  (void)opt_in;  // a failure surfaces at the launch, which the caller checks
  struct Maps {
    ScaledGemmArgs args;
    CUtensorMap a, b, c;
  };
  static thread_local Maps last{};  // encoding is a driver call; the timed loop repeats one problem
  // The BF16 TMA-store epilogue needs C and C^T's rows (m elements) 16-byte aligned; the split
  // writes FP32 parts instead.
  const bool tma_store = sizeof(OutT) == 2 && args.k_splits == 1 && args.m % 8 == 0 &&
                         reinterpret_cast<std::uintptr_t>(args.c) % 16 == 0;
  if (last.args.a != args.a || last.args.b != args.b || last.args.c != args.c || last.args.m != args.m ||
      last.args.n != args.n || last.args.k != args.k || last.args.k_splits != args.k_splits) {
    last.a = byte_operand_tensor_map(args.a, args.k, args.m, kFp8TileM);
    last.b = byte_operand_tensor_map(args.b, args.k, args.n, kFp8TileN);
    // C^T: n rows of m contiguous BF16, one Sm90StoreChunk (64 x 64) per box; unused without tma_store.
    using Chunk = Sm90StoreChunk<__nv_bfloat16>;
    last.c = tma_store ? make_tensor_map_bf16_2d_sw128(args.c, static_cast<std::uint64_t>(args.m),
                                                       static_cast<std::uint64_t>(args.n), Chunk::kCols, Chunk::kRows)
                       : CUtensorMap{};
    last.args = args;
  }
  const GroupedTileOrder order{.tiles_i = (args.m + kFp8TileM - 1) / kFp8TileM,
                               .tiles_j = (args.n + kFp8TileN - 1) / kFp8TileN,
                               .group = kBandTiles};
  const int sms = current_device_sm_count();
  const int grid = persistent_grid_size(order.num_tiles() * args.k_splits, sms);
  kernel<<<grid, kThreads, kSmemBytes, stream>>>(last.a, last.b, last.c, tma_store, args.a_scales, args.b_scales,
                                                 a_scale_strides(args.a_scale, args.m),
                                                 b_scale_strides(args.b_scale, args.k), static_cast<OutT*>(args.c),
                                                 args.m, args.n, args.k, order, args.k_splits,
                                                 static_cast<float*>(args.workspace));
  if (args.k_splits > 1) {
    const std::int64_t count = static_cast<std::int64_t>(args.m) * args.n;
    const std::int64_t blocks = (count + 255) / 256, most = 8LL * sms;
    fp8_split_k_sum_kernel<OutT><<<static_cast<int>(blocks < most ? blocks : most), 256, 0, stream>>>(
        static_cast<const float*>(args.workspace), static_cast<OutT*>(args.c), count, args.k_splits);
  }
}

}  // namespace

void fp8_gemm_wgmma_sm90(const ScaledGemmArgs& args, PromotionSchedule schedule, cudaStream_t stream) {
  if (args.s8) throw std::invalid_argument("fp8_gemm_wgmma_sm90 takes E4M3 operands, not int8");
  if (args.m <= 0 || args.n <= 0 || args.k <= 0)
    throw std::invalid_argument("fp8_gemm_wgmma_sm90 needs m, n and k positive (a k-block to wait for)");
  if (args.k % kFp8GemmKAlign) throw std::invalid_argument("fp8_gemm_wgmma_sm90 needs k a multiple of 16");
  if (args.b_scale == BScale::Col) throw std::invalid_argument("fp8_gemm_wgmma_sm90 takes no per-column b scales");
  if (schedule == PromotionSchedule::None && (args.a_scale != AScale::Tensor || args.b_scale != BScale::Tensor))
    throw std::invalid_argument(
        "fp8_gemm_wgmma_sm90 without promotion applies one scale at the end: it needs per-tensor scales");
  if (args.k_splits < 1 || args.k_splits > scale_blocks(args.k))
    throw std::invalid_argument("fp8_gemm_wgmma_sm90 splits k into 1 to ceil(k / 128) = " +
                                std::to_string(scale_blocks(args.k)) + " parts, not " + std::to_string(args.k_splits));
  if (args.k_splits > 1 && schedule == PromotionSchedule::None)
    throw std::invalid_argument(
        "fp8_gemm_wgmma_sm90 without promotion sums all of k in the tensor core: it takes no k split");
  if (static_cast<long long>((args.m + kFp8TileM - 1) / kFp8TileM) * ((args.n + kFp8TileN - 1) / kFp8TileN) *
          args.k_splits >
      INT_MAX)
    throw std::invalid_argument("fp8_gemm_wgmma_sm90: tiles times k_splits must fit in an int (fewer parts)");
  if (args.k_splits > 1 && (args.workspace == nullptr || reinterpret_cast<std::uintptr_t>(args.workspace) % 4))
    throw std::invalid_argument("fp8_gemm_wgmma_sm90 with k split into " + std::to_string(args.k_splits) +
                                " parts needs args.workspace (4-byte aligned) of split_k_workspace_bytes = " +
                                std::to_string(split_k_workspace_bytes(args.m, args.n, args.k_splits)) + " bytes");
  const auto run = [&]<PromotionSchedule kMode>() {
    if (args.c_f32) launch<kMode, float>(args, stream);
    else launch<kMode, __nv_bfloat16>(args, stream);
  };
  switch (schedule) {
    case PromotionSchedule::None: return run.template operator()<PromotionSchedule::None>();
    case PromotionSchedule::Serial: return run.template operator()<PromotionSchedule::Serial>();
    case PromotionSchedule::Overlapped: return run.template operator()<PromotionSchedule::Overlapped>();
  }
  throw std::invalid_argument("fp8_gemm_wgmma_sm90: unknown promotion schedule");
}

}  // namespace trainbench::kernels
