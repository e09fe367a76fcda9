// The FP8 wgmma kernels' consumer k-loop (sm90_fp8_gemm_1d2d.cu and its 2-CTA multicast variant):
// what one consumer warpgroup does for one tile between its first wait on a full stage and its
// epilogue, in each PromotionSchedule (scaled_gemm.cuh says what they are). The kernels differ only
// in how a stage is handed back (a local arrival, or one into each CTA of the cluster), which the
// caller passes in. sm_90a only (wgmma).
//
// Also the producer that fp8gemm.wgmma and int8gemm.wgmma (3_sm90_int8_gemm_wgmma.cu) share: their
// operands are both rows of k bytes in 128 x 128-byte k-tiles, loaded the same way.
#pragma once
#include <cstdint>

#include <cuda.h>

#include "kernels/common/ptx.cuh"
#include "kernels/common/sm90_layout.cuh"
#include "kernels/common/sm90_ptx.cuh"
#include "kernels/common/tensor_map.cuh"
#include "kernels/gemm/tile_scheduler.cuh"
#include "kernels/quant/scaled_gemm.cuh"

namespace trainbench::kernels {

// The tensor maps view the 1-byte operands (E4M3 or s8) as BF16 pairs, with the existing BF16
// encoder: TMA moves bytes, and the swizzle and the zero fill past the edges do not depend on the
// element type. A k-tile's 128 bytes are 64 elements of that view.
inline constexpr int kBytesPerViewElement = 2;

// The tensor map of a [rows][k] byte operand, one box per k-tile of box_rows rows (k a multiple of 16).
inline CUtensorMap byte_operand_tensor_map(const void* operand, int k, int rows, std::uint32_t box_rows) {
  return make_tensor_map_bf16_2d_sw128(operand, static_cast<std::uint64_t>(k / kBytesPerViewElement),
                                       static_cast<std::uint64_t>(rows), kFp8TileK / kBytesPerViewElement, box_rows);
}

#if TRAINBENCH_SM90A
// The producer of the persistent 1-byte-operand kernels (one elected thread): it walks the same
// work units as the consumers (unit u: part u % k_splits, k_split_range, of tile u / k_splits) and
// for every k-block waits for its stage to be free, then loads a's and b's 128 x 128-byte k-tiles
// by TMA onto the stage's full barrier. The ring's stage and phase run on across units.
template <int kStages, typename Full, typename Empty, typename ATile, typename BTile>
__device__ __forceinline__ void load_byte_operand_k_blocks(const CUtensorMap* a_map, const CUtensorMap* b_map,
                                                           PersistentTileScheduler sched, int k_splits,
                                                           int k_blocks, Full full, Empty empty, ATile a_tile,
                                                           BTile b_tile) {
  constexpr std::uint32_t kStageBytes = 2 * kFp8OperandTileBytes;
  ptx::prefetch_tensor_map(a_map);
  ptx::prefetch_tensor_map(b_map);
  const int units = sched.order.num_tiles() * k_splits;
  int stage = 0;
  std::uint32_t phase = 0;
  for (int u = sched.first(static_cast<int>(blockIdx.x)); u < units; u = sched.next(u)) {
    const TileCoord tile = sched.order.tile(u / k_splits);
    const KBlockRange part = k_split_range(u % k_splits, k_splits, k_blocks);
    for (int kb = part.begin; kb < part.begin + part.count; ++kb) {
      ptx::mbarrier_wait(empty(stage), phase ^ 1u);
      ptx::mbarrier_arrive_expect_tx(full(stage), kStageBytes);
      const int x = kb * kFp8TileK / kBytesPerViewElement;
      ptx::tma_load_2d(a_tile(stage), a_map, full(stage), x, tile.i * kFp8TileM);
      ptx::tma_load_2d(b_tile(stage), b_map, full(stage), x, tile.j * kFp8TileN);
      if (++stage == kStages) {
        stage = 0;
        phase ^= 1u;
      }
    }
  }
}
#endif  // TRAINBENCH_SM90A

inline constexpr int kFp8ConsumerAccumulators = kFp8TileN / 2;  // FP32 per thread, m64n128

// A consumer's place in the producer's ring of kStages stages: the next stage to multiply from
// (and the phase its full barrier completes), and the next to hand back. Both run on across tiles.
template <int kStages>
struct Fp8ConsumerRing {
  int stage = 0, release = 0;
  std::uint32_t phase = 0;
};

#if TRAINBENCH_SM90A  // the device pass for sm_90a: the wgmma wrappers exist only there
// Consumer `consumer` (rows 64 consumer .. + 63 of the tile) over the k_blocks k-blocks of one
// work unit (a tile, or one part of a tile's k when k is split), numbered from 0:
// - full(s): stage s's full barrier; a_tile(s), b_tile(s): its operand k-tiles in shared memory;
// - hand_back(s): the arrivals that free stage s for the producer(s), once its wgmmas completed;
// - scales(kb): the PromotionScales of the unit's k-block kb (called with kb up to k_blocks: return any
//   finite scales there; they go unused).
// Leaves the tile's result in sum (None: in partial, unscaled) with no wgmma in flight.
template <PromotionSchedule kMode, int kStages, typename Full, typename ATile, typename BTile, typename HandBack,
          typename Scales>
__device__ __forceinline__ void fp8_consumer_mainloop(Fp8ConsumerRing<kStages>& ring, int k_blocks, int consumer,
                                                      float (&sum)[kFp8ConsumerAccumulators],
                                                      float (&partial)[kFp8ConsumerAccumulators],
                                                      float (&partial_odd)[kFp8ConsumerAccumulators], Full full,
                                                      ATile a_tile, BTile b_tile, HandBack hand_back, Scales scales) {
  const auto issue = [&](float (&acc)[kFp8ConsumerAccumulators], bool fresh) {
    ptx::mbarrier_wait(full(ring.stage), ring.phase);
    ptx::fence_registers(acc);
    ptx::wgmma_fence();
#pragma unroll
    for (int ks = 0; ks < kWgmmasPerPromotion; ++ks)
      ptx::wgmma_m64n128k32_e4m3(acc, fp8_operand_descriptor(a_tile(ring.stage), kWgmmaM * consumer, ks),
                                 fp8_operand_descriptor(b_tile(ring.stage), 0, ks), !fresh || ks > 0);
    ptx::wgmma_commit();
    if (++ring.stage == kStages) {
      ring.stage = 0;
      ring.phase ^= 1u;
    }
  };
  // After the wait for acc's wgmmas: their shared memory goes back to the producer.
  const auto retire = [&](float (&acc)[kFp8ConsumerAccumulators]) {
    ptx::fence_registers(acc);
    hand_back(ring.release);
    if (++ring.release == kStages) ring.release = 0;
  };
  // sum += acc * sa(row) * sb(block). Register r lies in row half (r / 2) % 2 (wgmma_accumulator_coord).
  const auto promote = [&](float (&acc)[kFp8ConsumerAccumulators], const PromotionScales& s) {
    retire(acc);
    const float scale_lo = s.a_lo * s.b, scale_hi = s.a_hi * s.b;
#pragma unroll
    for (int r = 0; r < kFp8ConsumerAccumulators; ++r) sum[r] = fmaf(acc[r], (r / 2) % 2 ? scale_hi : scale_lo, sum[r]);
  };

  if constexpr (kMode != PromotionSchedule::None) {
#pragma unroll
    for (int r = 0; r < kFp8ConsumerAccumulators; ++r) sum[r] = 0.f;
  }
  if constexpr (kMode == PromotionSchedule::None) {
    for (int kb = 0; kb < k_blocks; ++kb) {
      issue(partial, kb == 0);
      ptx::wgmma_wait<0>();
      retire(partial);
    }
  } else if constexpr (kMode == PromotionSchedule::Serial) {
    PromotionScales next = scales(0);
    for (int kb = 0; kb < k_blocks; ++kb) {
      const PromotionScales now = next;
      next = scales(kb + 1);  // a k-block early: see PromotionScales
      issue(partial, true);
      ptx::wgmma_wait<0>();
      promote(partial, now);
    }
  } else {
    // k-block kb accumulates in partial (kb even) or partial_odd (kb odd). One k-block stays in
    // flight while the one before it is promoted: issue kb + 1, wait for all but that group
    // (wgmma_wait<1>), promote kb. The loop leaves only after a wgmma_wait<0>, so that ptxas sees
    // no accumulator in flight past it (else it serializes every wgmma, C7514).
    PromotionScales even = scales(0), odd{};
    issue(partial, true);
    for (int kb = 0;; kb += 2) {
      odd = scales(kb + 1);
      if (kb + 1 == k_blocks) {
        ptx::wgmma_wait<0>();
        promote(partial, even);
        break;
      }
      issue(partial_odd, true);
      ptx::wgmma_wait<1>();
      promote(partial, even);
      even = scales(kb + 2);
      if (kb + 2 == k_blocks) {
        ptx::wgmma_wait<0>();
        promote(partial_odd, odd);
        break;
      }
      issue(partial, true);
      ptx::wgmma_wait<1>();
      promote(partial_odd, odd);
    }
  }
}
#endif  // TRAINBENCH_SM90A

}  // namespace trainbench::kernels
