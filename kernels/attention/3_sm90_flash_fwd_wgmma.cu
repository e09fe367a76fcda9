// attention.fwd.wgmma, version 3: the FlashAttention-3 forward on Hopper (sm_90a only).
//
// What it changes from version 1 (FlashAttention-2 on mma.sync):
// - TMA instead of cp.async: one elected thread loads the CTA's Q tile once and streams blocks of
//   128 (or 176, below) keys of K and V through a ring of shared-memory stages, each completing on an mbarrier
//   (K and V on separate barriers, so S = Q K^T starts before V has landed). The tensor maps are
//   4-D over (batch, seq, heads, head_dim): a box of rows of one head stops at its sequence's end,
//   rows past seq_q or seq_kv arrive as zeros (keys past seq_kv are masked; query rows past seq_q
//   are computed and not stored).
// - Key blocks of 176 at head_dim 128 without a causal mask, FlashAttention-3's choice there
//   (attention_fwd_wgmma_block_n; S = Q K^T on m64n176k16, P V over 11 k16 steps, S 88 registers:
//   the consumers reach R228 of 240, no spills; 209 KiB of shared memory): a third fewer rounds
//   of softmax, rescaling and ping-pong hand-over per key. 128 otherwise. Added after the H200
//   run below (which had 128 everywhere); not yet run on a GPU.
// - Warp specialization: warpgroup 0 only loads and gives registers back with setmaxnreg; each
//   consumer warpgroup owns 64 query rows and takes them. head_dim 128: 2 consumers, 128-row
//   tiles, 24/240 registers (O is 64 FP32 per thread, S 64 or 88, P 32 or 44). head_dim 64: 3 consumers,
//   192-row tiles, 32/160 registers: the GEMMs per key block are half as long as at 128 while the
//   softmax is as long, so a third warpgroup's GEMMs are needed to hide each softmax, each Q tile
//   shares one K/V load among 192 rows, and O (32 per thread) leaves room within 160 registers.
// - wgmma: S = Q K^T, 64 x 128 (or 176) per consumer (m64n128k16 or m64n176k16, both operands
//   K-major over the head dimension, read from the tiles TMA wrote); O += P V with P in registers: the S accumulators,
//   exponentiated and rounded to BF16, are already in the register A operand's layout
//   (sm90_flash_tiles.cuh), and V is read N-major from its tile (transpose bit), so P never
//   touches shared memory.
// - Ping-pong between consumers: named barriers pass the tensor core round robin, each consumer
//   issuing its two GEMMs in its turn, so one warpgroup's softmax runs under the others' GEMMs.
// - Within a consumer: S of key block n is issued with O += P V of block n - 1, and the softmax of
//   block n runs while that P V is still on the tensor core; O is rescaled after it completes.
// - Kept from version 1: exp2 with log2(e) folded into the scale, causal block skipping, element
//   masks only on the blocks holding the diagonal or the seq_kv tail, longest query blocks first,
//   GQA by indexing the KV head, O = 0 and LSE = -inf for rows that see no key.
// Output: O (BF16) from the accumulators by 4-byte stores, LSE (FP32, natural log).
// Registers and shared memory: kernels/attention/README.md.
//
// Tiles (attention_fwd_wgmma_tile): a CTA walks its tiles in a snake (attention_fwd_wgmma_walk);
// the key-block ring's stages and phases run on from tile to tile, and a q_empty barrier (every
// consumer warp arrives once its last S of the tile is done) lets the producer load the next
// tile's Q while the consumers finish the last softmax and P V and store.
// attention.fwd.wgmma launches one CTA per tile (each walks one); attention.fwd.wgmma_persistent
// one per SM, so that the next tile's Q and first K/V blocks load under the last one's tail. At
// seq 512 (4 key blocks per tile) the per-tile start and end are most of a tile's time:
// attention.fwd.wgmma ran 381.1 TFLOP/s there against cuDNN's 529.6 (0.72x); the persistent grid
// is the FA3 answer. Not yet run on a GPU.
// Tile order (attention_work_item): causal, rank-major (every head's longest query block before
// any head's next), since the H200 run; it was head-major then. Modelled on 132 SMs, the longest
// CTA's work falls from 1.23 to 1.00 times the mean for Llama 3 70B per GPU (8 heads, seq 8192),
// where this kernel ran 497.4 TFLOP/s against its 656.8 at 16 heads of seq 16384. Not yet run.
//
// Measured (H200, results/h200-sxm/attention.log; batch 2, 16 heads, seq 8192, head_dim 128, L2
// cold), one CTA per tile, before the tile loop: 645.2 TFLOP/s full (0.952x attention.cudnn),
// 597.7 TFLOP/s causal (0.957x).
#include "kernels/attention/attention.cuh"
#include "kernels/attention/sm90_flash_tiles.cuh"
#include "kernels/common/ptx.cuh"
#include "kernels/common/sm90_layout.cuh"
#include "kernels/common/sm90_ptx.cuh"
#include "kernels/common/tensor_map.cuh"
#include "kernels/gemm/tile_scheduler.cuh"

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <utility>

namespace trainbench::kernels {
namespace {

template <int kHeadDim, int kBlockN_>
struct FwdWgmmaConfig {
  static constexpr int kConsumers = kHeadDim == 64 ? 3 : 2;
  static constexpr int kBlockM = 64 * kConsumers;
  static constexpr int kBlockN = kBlockN_;
  static constexpr int kStages = kHeadDim == 64 ? 3 : 2;
  static constexpr int kThreads = 128 * (1 + kConsumers);
  static constexpr int kProducerRegisters = kConsumers == 2 ? 24 : 32;
  static constexpr int kConsumerRegisters = kConsumers == 2 ? 240 : 160;
  using QTile = FlashHeadTile<kBlockM, kHeadDim>;
  using KvTile = FlashHeadTile<kBlockN, kHeadDim>;
  // Q, the K stages, the V stages; then the barriers (Q full and empty, K full and empty, V full
  // and empty); then slack to align the tiles to 1024 bytes.
  static constexpr int kBarriers = 2 + 4 * kStages;
  static constexpr int kSmemBytes = int(QTile::kBytes + 2 * kStages * KvTile::kBytes) + 8 * kBarriers + 1024;

  static_assert(kBlockM == attention_fwd_wgmma_block_m(kHeadDim));
  static_assert(is_wgmma_bf16_shape(kWgmmaM, kBlockN, kWgmmaK) && is_wgmma_bf16_shape(kWgmmaM, kHeadDim, kWgmmaK));
  // The launch gives every thread 65536 / kThreads registers (in steps of 8); setmaxnreg.inc waits
  // until registers are free, so what the producer gives back pays exactly for what the
  // consumers take.
  static constexpr int kLaunchRegisters = 65536 / kThreads / 8 * 8;
  static_assert((kLaunchRegisters - kProducerRegisters) * 128 ==
                (kConsumerRegisters - kLaunchRegisters) * 128 * kConsumers);
  static_assert(kSmemBytes <= 227 * 1024);
};

template <int kHeadDim, int kBlockN_>
__global__ void __launch_bounds__(FwdWgmmaConfig<kHeadDim, kBlockN_>::kThreads, 1)
attention_fwd_wgmma_sm90_kernel(const __grid_constant__ CUtensorMap q_map, const __grid_constant__ CUtensorMap k_map,
                                const __grid_constant__ CUtensorMap v_map, __nv_bfloat16* __restrict__ o,
                                float* __restrict__ lse, AttentionShape shape, float scale) {
#if TRAINBENCH_SM90A
  using Config = FwdWgmmaConfig<kHeadDim, kBlockN_>;
  using QTile = typename Config::QTile;
  using KvTile = typename Config::KvTile;
  constexpr int kBlockM = Config::kBlockM, kBlockN = Config::kBlockN, kStages = Config::kStages;
  constexpr int kConsumers = Config::kConsumers;

  extern __shared__ unsigned char smem[];
  const std::uint32_t q_tile = (ptx::smem_addr(smem) + 1023u) & ~1023u;
  const auto k_tile = [&](int s) { return q_tile + QTile::kBytes + static_cast<std::uint32_t>(s) * KvTile::kBytes; };
  const auto v_tile = [&](int s) { return k_tile(kStages) + static_cast<std::uint32_t>(s) * KvTile::kBytes; };
  const std::uint32_t q_full = v_tile(kStages), q_empty = q_full + 8u;
  const auto k_full = [&](int s) { return q_empty + 8u * static_cast<std::uint32_t>(1 + s); };
  const auto k_empty = [&](int s) { return k_full(kStages) + 8u * static_cast<std::uint32_t>(s); };
  const auto v_full = [&](int s) { return k_empty(kStages) + 8u * static_cast<std::uint32_t>(s); };
  const auto v_empty = [&](int s) { return v_full(kStages) + 8u * static_cast<std::uint32_t>(s); };
  // The CTA's g-th key block (counted over all its tiles) sits in stage g % kStages; its phase
  // flips every time the ring wraps.
  const auto stage_of = [](int g) { return g % kStages; };
  const auto phase_of = [](int g) { return static_cast<std::uint32_t>(g / kStages) & 1u; };

  const int tid = threadIdx.x, wg = tid / 128;
  const int seq_q = shape.seq_q, seq_kv = shape.seq_kv;
  const int num_tiles = attention_fwd_wgmma_tiles(shape);
  const auto tile_at = [&](int t) {
    const AttentionFwdTile tile = attention_fwd_wgmma_tile(shape, t);
    return std::pair{tile, attention_kv_block_end(tile.row0, kBlockM, kBlockN, seq_q, seq_kv, shape.causal)};
  };

  if (tid == 0) {
    ptx::mbarrier_init(q_full, 1);
    ptx::mbarrier_init(q_empty, kConsumers * 4);  // one arrival per consumer warp, per tile
    for (int s = 0; s < kStages; ++s) {
      ptx::mbarrier_init(k_full(s), 1);  // the producer's arrive_expect_tx
      ptx::mbarrier_init(v_full(s), 1);
      ptx::mbarrier_init(k_empty(s), kConsumers * 4);  // one arrival per consumer warp
      ptx::mbarrier_init(v_empty(s), kConsumers * 4);
    }
    ptx::fence_mbarrier_init();
  }
  __syncthreads();

  if (wg == 0) {
    // Producer: per tile, Q once the consumers are done with the last tile's (q_empty), then K
    // and V of each key block, in order, through the ring, whose stages and phases run on across
    // tiles. It waits "empty" with the flipped parity, which passes at once on fresh barriers.
    // Tiles with no visible key (n_end 0) load nothing and count for neither side.
    ptx::setmaxnreg_dec<Config::kProducerRegisters>();
    if (tid / 32 == 0 && ptx::elect_one()) {
      ptx::prefetch_tensor_map(&q_map);
      ptx::prefetch_tensor_map(&k_map);
      ptx::prefetch_tensor_map(&v_map);
      int g = 0, loaded_tiles = 0;
      for (int round = 0; round * int(gridDim.x) < num_tiles; ++round) {
        const int t = attention_fwd_wgmma_walk(int(blockIdx.x), int(gridDim.x), round);
        if (t >= num_tiles) continue;
        const auto [tile, n_end] = tile_at(t);
        if (n_end == 0) continue;
        if (loaded_tiles > 0) ptx::mbarrier_wait(q_empty, static_cast<std::uint32_t>(loaded_tiles - 1) & 1u);
        ++loaded_tiles;
        ptx::mbarrier_arrive_expect_tx(q_full, QTile::kBytes);
#pragma unroll
        for (int box = 0; box < QTile::kBoxes; ++box)
          ptx::tma_load_4d(q_tile + QTile::box_offset(box), &q_map, q_full, QTile::box_first_dim(box), tile.head,
                           tile.row0, tile.batch);
        for (int n = 0; n < n_end; ++n, ++g) {
          const int s = stage_of(g);
          ptx::mbarrier_wait(k_empty(s), phase_of(g) ^ 1u);
          ptx::mbarrier_arrive_expect_tx(k_full(s), KvTile::kBytes);
#pragma unroll
          for (int box = 0; box < KvTile::kBoxes; ++box)
            ptx::tma_load_4d(k_tile(s) + KvTile::box_offset(box), &k_map, k_full(s), KvTile::box_first_dim(box),
                             tile.head_kv, n * kBlockN, tile.batch);
          ptx::mbarrier_wait(v_empty(s), phase_of(g) ^ 1u);
          ptx::mbarrier_arrive_expect_tx(v_full(s), KvTile::kBytes);
#pragma unroll
          for (int box = 0; box < KvTile::kBoxes; ++box)
            ptx::tma_load_4d(v_tile(s) + KvTile::box_offset(box), &v_map, v_full(s), KvTile::box_first_dim(box),
                             tile.head_kv, n * kBlockN, tile.batch);
        }
      }
    }
    return;
  }

  // Consumer warpgroup `consumer`: query rows row0 + 64 consumer .. + 63 of each tile.
  ptx::setmaxnreg_inc<Config::kConsumerRegisters>();
  constexpr int kSRegs = kBlockN / 2, kORegs = kHeadDim / 2;  // FP32 accumulators per thread
  constexpr int kPSteps = kBlockN / kWgmmaK, kDSteps = kHeadDim / kWgmmaK;
  const int consumer = wg - 1, thread = tid % 128, lane = tid % 32;
  const float scale_log2 = scale * 1.4426950408889634f;  // log2(e): exp(x) = exp2(x log2(e))
  // This thread's place in the accumulator tiles (wgmma_accumulator_coord): register
  // 4c + 2 half + e is row my_row + 8 half, column 8c + col_lane + e (a key of S, a head
  // dimension of O).
  const int row_lane = wgmma_accumulator_coord(thread, 0).row;
  const int col_lane = wgmma_accumulator_coord(thread, 0).col;

  float o_acc[kORegs];
  float s_acc[kSRegs] = {};  // overwritten by each S (scale-d 0); zeroed so it is never read undefined
  std::uint32_t p_frag[kPSteps][4];
  float row_max[2];  // raw scores (unscaled)
  float row_sum[2];  // this thread's partial sums

  const auto issue_s = [&](int stage) {
    ptx::fence_registers(s_acc);
    ptx::wgmma_fence();
#pragma unroll
    for (int ks = 0; ks < kDSteps; ++ks) {
      const std::uint64_t q_desc = QTile::k_major_descriptor(q_tile, kWgmmaM * consumer, ks);
      const std::uint64_t k_desc = KvTile::k_major_descriptor(k_tile(stage), 0, ks);
      if constexpr (kBlockN == 176) ptx::wgmma_m64n176k16_bf16<0, 0>(s_acc, q_desc, k_desc, ks > 0);
      else ptx::wgmma_m64n128k16_bf16<0, 0>(s_acc, q_desc, k_desc, ks > 0);
    }
    ptx::wgmma_commit();
  };
  const auto issue_pv = [&](int stage) {
    ptx::fence_registers(o_acc);
#pragma unroll
    for (int kk = 0; kk < kPSteps; ++kk) ptx::fence_registers(p_frag[kk]);
    ptx::wgmma_fence();
#pragma unroll
    for (int kk = 0; kk < kPSteps; ++kk) {
      const std::uint64_t v_desc = KvTile::n_major_descriptor(v_tile(stage), kk);
      if constexpr (kHeadDim == 128) ptx::wgmma_m64n128k16_bf16_rs<1>(o_acc, p_frag[kk], v_desc, true);
      else ptx::wgmma_m64n64k16_bf16_rs<1>(o_acc, p_frag[kk], v_desc, true);
    }
    ptx::wgmma_commit();
  };

  // Masks S of key block n (from n_first_masked on, for rows my_row and my_row + 8), then the
  // online softmax: new row max, S = exp2(...) in place, row sums; `correction` is what O
  // accumulated so far must be multiplied by.
  const auto softmax = [&](int n, int n_first_masked, int my_row, float (&correction)[2]) {
    if (n >= n_first_masked) {
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        const int visible = attention_visible_keys(my_row + 8 * half, seq_q, seq_kv, shape.causal) - n * kBlockN;
#pragma unroll
        for (int c = 0; c < kBlockN / 8; ++c)
#pragma unroll
          for (int e = 0; e < 2; ++e)
            if (8 * c + col_lane + e >= visible) s_acc[4 * c + 2 * half + e] = -INFINITY;
      }
    }
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      float mx = row_max[half];
#pragma unroll
      for (int c = 0; c < kBlockN / 8; ++c) mx = fmaxf(mx, fmaxf(s_acc[4 * c + 2 * half], s_acc[4 * c + 2 * half + 1]));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
      // A row with nothing visible yet keeps max -inf: subtract 0 so that exp2(-inf) = 0, not NaN.
      const float m_scaled = mx == -INFINITY ? 0.f : mx * scale_log2;
      // A max that did not move gives exactly 1: ptxas may fuse the subtraction into an FMA whose
      // rounding leaves the exponent a few ulps off 0, a drift of ~1e-7 per block on settled rows.
      correction[half] = row_max[half] == mx ? 1.f : ptx::ex2_approx(row_max[half] * scale_log2 - m_scaled);
      row_max[half] = mx;
      float sum = 0.f;
#pragma unroll
      for (int c = 0; c < kBlockN / 8; ++c)
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          float& s = s_acc[4 * c + 2 * half + e];
          s = ptx::ex2_approx(fmaf(s, scale_log2, -m_scaled));
          sum += s;
        }
      row_sum[half] = row_sum[half] * correction[half] + sum;
    }
  };
  const auto convert_p = [&] {
#pragma unroll
    for (int kk = 0; kk < kPSteps; ++kk)
#pragma unroll
      for (int j = 0; j < 4; ++j)
        p_frag[kk][j] = ptx::pack_bf16x2(s_acc[flash_p_source_register(kk, 2 * j)],
                                         s_acc[flash_p_source_register(kk, 2 * j + 1)]);
  };

  // The ping-pong: consumer c issues its GEMMs after a sync on named barrier 1 + c, which the
  // consumer before it in the round robin arrives at once it has issued its own. In every tile
  // the last consumer gives consumer 0 its first turn and skips its final hand-over, so every
  // barrier's arrivals match its syncs tile by tile, and the turns alternate strictly across
  // tiles too (a consumer's first arrival of a tile follows its last turn of the tile before,
  // which followed the other consumer's last sync).
  constexpr int kTurnThreads = 2 * 128;
  const int my_turn = 1 + consumer, next_turn = 1 + (consumer + 1) % kConsumers;
  const bool last_consumer = consumer == kConsumers - 1;

  int g = 0, loaded_tiles = 0;  // key blocks and Q tiles consumed so far, as the producer counts them
  for (int round = 0; round * int(gridDim.x) < num_tiles; ++round) {
    const int t = attention_fwd_wgmma_walk(int(blockIdx.x), int(gridDim.x), round);
    if (t >= num_tiles) continue;
    const auto [tile, n_end] = tile_at(t);
    const int wg_row0 = tile.row0 + kWgmmaM * consumer;
    const int n_first_masked = attention_first_masked_block(wg_row0, kBlockN, seq_q, seq_kv, shape.causal);
    const int my_row = wg_row0 + row_lane;
#pragma unroll
    for (int r = 0; r < kORegs; ++r) o_acc[r] = 0.f;  // every P V accumulates; rows that see no key keep O = 0
    row_max[0] = row_max[1] = -INFINITY;
    row_sum[0] = row_sum[1] = 0.f;

    if (n_end > 0) {
      ptx::mbarrier_wait(q_full, static_cast<std::uint32_t>(loaded_tiles) & 1u);
      ++loaded_tiles;
      // Block 0: S alone (nothing to overlap with yet), outside the round robin.
      ptx::mbarrier_wait(k_full(stage_of(g)), phase_of(g));
      issue_s(stage_of(g));
      ptx::wgmma_wait<0>();
      ptx::fence_registers(s_acc);
      if (lane == 0) ptx::mbarrier_arrive(k_empty(stage_of(g)));
      // The tile's last S is done: Q's buffer may take the next tile's, under this one's softmax,
      // last P V and stores (here for a one-block tile, in the loop otherwise).
      if (n_end == 1 && lane == 0) ptx::mbarrier_arrive(q_empty);
      float correction[2];
      softmax(0, n_first_masked, my_row, correction);  // O is still 0: nothing to rescale
      convert_p();
      if (last_consumer && n_end > 1) ptx::named_barrier_arrive(1, kTurnThreads);

      for (int n = 1; n < n_end; ++n) {
        const int s = stage_of(g + n), prev = stage_of(g + n - 1);
        ptx::mbarrier_wait(k_full(s), phase_of(g + n));
        ptx::named_barrier_sync(my_turn, kTurnThreads);
        issue_s(s);
        ptx::mbarrier_wait(v_full(prev), phase_of(g + n - 1));
        issue_pv(prev);
        if (!last_consumer || n + 1 < n_end) ptx::named_barrier_arrive(next_turn, kTurnThreads);
        ptx::wgmma_wait<1>();  // S of block n is done; P V of block n - 1 may still run
        ptx::fence_registers(s_acc);
        if (lane == 0) ptx::mbarrier_arrive(k_empty(s));
        if (n + 1 == n_end && lane == 0) ptx::mbarrier_arrive(q_empty);
        softmax(n, n_first_masked, my_row, correction);
        ptx::wgmma_wait<0>();
        ptx::fence_registers(o_acc);
#pragma unroll
        for (int kk = 0; kk < kPSteps; ++kk) ptx::fence_registers(p_frag[kk]);
        if (lane == 0) ptx::mbarrier_arrive(v_empty(prev));
        convert_p();
#pragma unroll
        for (int c = 0; c < kHeadDim / 8; ++c)
#pragma unroll
          for (int half = 0; half < 2; ++half)
#pragma unroll
            for (int e = 0; e < 2; ++e) o_acc[4 * c + 2 * half + e] *= correction[half];
      }
      const int last = stage_of(g + n_end - 1);
      ptx::mbarrier_wait(v_full(last), phase_of(g + n_end - 1));
      issue_pv(last);
      ptx::wgmma_wait<0>();
      ptx::fence_registers(o_acc);
      if (lane == 0) ptx::mbarrier_arrive(v_empty(last));  // the next tile's blocks refill it
      g += n_end;
    }

    const std::size_t q_stride = std::size_t(shape.heads_q) * kHeadDim;
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      float l = row_sum[half];
      l += __shfl_xor_sync(0xffffffffu, l, 1);
      l += __shfl_xor_sync(0xffffffffu, l, 2);
      const int row = my_row + 8 * half;
      if (row >= seq_q) continue;
      const float inv = l > 0.f ? 1.f / l : 0.f;
      __nv_bfloat16* o_row =
          o + (std::size_t(tile.batch) * seq_q + row) * q_stride + std::size_t(tile.head) * kHeadDim;
#pragma unroll
      for (int c = 0; c < kHeadDim / 8; ++c)
        *reinterpret_cast<__nv_bfloat162*>(o_row + 8 * c + col_lane) =
            __floats2bfloat162_rn(o_acc[4 * c + 2 * half] * inv, o_acc[4 * c + 2 * half + 1] * inv);
      if (lane % 4 == 0)
        lse[(std::size_t(tile.batch) * shape.heads_q + tile.head) * seq_q + row] =
            l > 0.f ? row_max[half] * scale + logf(l) : -INFINITY;
    }
  }
#else
  __trap();  // sm_90a only; the registry keeps other GPUs from launching it
#endif
}

bool same_problem(const AttentionFwdArgs& a, const AttentionFwdArgs& b) {
  const AttentionShape &x = a.shape, &y = b.shape;
  return a.q == b.q && a.k == b.k && a.v == b.v && x.batch == y.batch && x.heads_q == y.heads_q &&
         x.heads_kv == y.heads_kv && x.seq_q == y.seq_q && x.seq_kv == y.seq_kv && x.head_dim == y.head_dim;
}

template <int kHeadDim, int kBlockN>
void launch(const AttentionFwdArgs& args, int ctas, cudaStream_t stream) {
  using Config = FwdWgmmaConfig<kHeadDim, kBlockN>;
  const auto kernel = attention_fwd_wgmma_sm90_kernel<kHeadDim, kBlockN>;
  static const cudaError_t opt_in =
      cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, Config::kSmemBytes);
  (void)opt_in;  // a failure surfaces at the launch, which the caller checks
  const AttentionShape& s = args.shape;
  struct Maps {
    AttentionFwdArgs args;
    CUtensorMap q, k, v;
  };
  static thread_local Maps last{};  // encoding is a driver call; the timed loop repeats one problem
  if (!same_problem(last.args, args)) {
    const auto b = std::uint64_t(s.batch), hq = std::uint64_t(s.heads_q), hkv = std::uint64_t(s.heads_kv);
    using QTile = typename Config::QTile;
    using KvTile = typename Config::KvTile;
    last.q = make_tensor_map_bf16_bshd_sw128(args.q, b, std::uint64_t(s.seq_q), hq, kHeadDim, QTile::kBoxDims,
                                             QTile::kBoxRows);
    last.k = make_tensor_map_bf16_bshd_sw128(args.k, b, std::uint64_t(s.seq_kv), hkv, kHeadDim, KvTile::kBoxDims,
                                             KvTile::kBoxRows);
    last.v = make_tensor_map_bf16_bshd_sw128(args.v, b, std::uint64_t(s.seq_kv), hkv, kHeadDim, KvTile::kBoxDims,
                                             KvTile::kBoxRows);
    last.args = args;
  }
  const int tiles = attention_fwd_wgmma_tiles(s);
  const int grid = ctas < tiles ? (ctas > 0 ? ctas : 1) : tiles;
  if (grid == 0) return;  // seq_q 0: nothing to compute
  kernel<<<grid, Config::kThreads, Config::kSmemBytes, stream>>>(last.q, last.k, last.v, args.o, args.lse, s,
                                                                 float(1.0 / std::sqrt(double(kHeadDim))));
}

void run(const AttentionFwdArgs& args, int ctas, cudaStream_t stream) {
  static_assert(attention_fwd_wgmma_block_n(64, false) == 128 && attention_fwd_wgmma_block_n(128, true) == 128 &&
                attention_fwd_wgmma_block_n(128, false) == 176);
  if (args.shape.head_dim == 64) launch<64, 128>(args, ctas, stream);
  else if (args.shape.head_dim == 128 && args.shape.causal) launch<128, 128>(args, ctas, stream);
  else if (args.shape.head_dim == 128) launch<128, 176>(args, ctas, stream);
}

}  // namespace

void attention_fwd_wgmma_sm90(const AttentionFwdArgs& args, cudaStream_t stream) {
  run(args, attention_fwd_wgmma_tiles(args.shape), stream);
}

void attention_fwd_wgmma_persistent_sm90(const AttentionFwdArgs& args, cudaStream_t stream) {
  run(args, current_device_sm_count(), stream);
}

void attention_fwd_wgmma_on_ctas_sm90(const AttentionFwdArgs& args, int ctas, cudaStream_t stream) {
  run(args, ctas, stream);
}

}  // namespace trainbench::kernels
