// attention.bwd.wgmma, version 4: the attention backward on Hopper wgmma (sm_90a only), after
// FlashAttention-3's backward.
//
// What it changes from version 2 (FlashAttention-2's backward on mma.sync):
// - Same three kernels (flash_bwd_pre_post.cu: D = rowsum(dO O) and the base-2 LSE before, dQ's
//   FP32 accumulator rounded to BF16 after) and the same transposed formulation, rows of every
//   accumulator being keys: S^T = K Q^T, P^T = exp2(S^T scale log2(e) - LSE log2(e)),
//   dV += P^T dO, dP^T = V dO^T, dS^T = P^T (dP^T - D), dK += dS^T Q, dQ += dS K. Keeping keys
//   as rows is what lets P^T and dS^T feed dV and dK straight from registers.
// - A CTA owns 128 keys of one query head (a KV head's keys appear in the CTAs of each of its
//   query heads): a producer warpgroup (setmaxnreg down to 24) and two consumer warpgroups of 64
//   keys each (240 registers: dK and dV of their keys stay in registers over the whole loop).
// - TMA: the producer loads K and V once (4-D maps over (batch, seq, heads, head_dim), rows past
//   seq_kv zero-filled) and streams, per query block, the Q and dO tiles and the block's LSE and
//   D (plain bulk copies from the padded workspace vectors) through 2 stages, Q + LSE and dO + D
//   on separate mbarriers so that S^T starts before dO has landed.
// - wgmma, per query block of kBlockM rows (64 at head_dim 128, 128 at 64) and consumer:
//   S^T (m64 x kBlockM, both operands K-major from shared memory); then dP^T (likewise) on the
//   tensor core while P^T is masked, exponentiated and rounded to BF16; dV += P^T dO behind it
//   (P^T the register A operand, dO N-major); dS^T = P^T (dP^T - D) from the BF16 P^T (the FP32
//   P^T beside dP^T, dK and dV would not fit 240 registers at head_dim 64), stored to shared
//   memory (BF16, [key][query], 128B-swizzled, double-buffered), then dK += dS^T Q (register A)
//   and dQ = dS K (dS read M-major: the same
//   tile with the transpose bit; K N-major), each consumer taking a 64 x 64 quarter or half of
//   the dQ tile over all 128 keys (head_dim 128: its 64 head dimensions of the 64 rows; 64: its
//   64 of the 128 rows), after one named barrier between the consumers.
// - dQ: each consumer's FP32 tile goes to shared memory and is added into the accumulator in
//   global memory by two TMA reductions (cp.reduce.async.bulk.tensor .add, 64 rows x 32 columns
//   each), issued by one thread and overlapped with the next block; no atomics in the consumers.
// - GQA: a CTA per query head (version 2 first looped over the group inside the CTA: at Llama
//   3's per-GPU MQA, one KV head and batch 1, that left half the SMs idle). With one query head per
//   KV head dK and dV are written in BF16 from registers; with more, each CTA adds its dK and dV
//   into FP32 accumulators (atomicAdd on float2) that the conversion kernel rounds.
// - Masks as version 2 (element masks only where the block's first query row misses a key of the
//   consumer's 64); causal blocks skipped from the keys' side; query rows that see no key and
//   padding rows carry LSE = +inf, so their P, dS and contributions are 0.
// - Order: a 1-D grid dealt as attention_work_item; causal, every head's first (longest) key
//   block before any head's second. Under GQA the query heads of a KV head then finish one key
//   block together and add into the same dK, dV rows at once (up to group-fold atomics on an
//   address, once per CTA), the price of a short last wave.
// Registers and shared memory: kernels/attention/README.md.
//
// Measured (H200, results/h200-sxm/attention.log; batch 2, 16 heads, seq 8192, head_dim 128, L2
// cold): 505.0 TFLOP/s full (0.941x attention.cudnn), 449.4 TFLOP/s causal (0.841x).
// Verified on the H200 at every shape of the attention suite and in tests/gpu_test_attention.cu's
// larger-shape cases; its float64 small-shape test failed there only at seq_q = seq_kv = 1 (dQ and
// dK error inf: their reference is zero and was measured against its own (batch, head)'s norm;
// since measured against the whole tensor's, not rerun on a GPU).
#include "kernels/attention/attention.cuh"
#include "kernels/attention/sm90_flash_tiles.cuh"
#include "kernels/common/ptx.cuh"
#include "kernels/common/sm90_layout.cuh"
#include "kernels/common/sm90_ptx.cuh"
#include "kernels/common/tensor_map.cuh"

#include <cmath>
#include <cstddef>
#include <cstdint>

namespace trainbench::kernels {
namespace {

template <int kHeadDim>
struct BwdWgmmaConfig {
  static constexpr int kBlockM = attention_bwd_wgmma_block_m(kHeadDim);  // query rows per step
  static constexpr int kBlockN = kAttentionBwdWgmmaBlockN;               // keys per CTA
  static constexpr int kConsumers = 2;                                   // 64 keys each
  static constexpr int kStages = 2;
  static constexpr int kThreads = 128 * (1 + kConsumers);
  static constexpr int kProducerRegisters = 24;
  static constexpr int kConsumerRegisters = 240;
  using KvTile = FlashHeadTile<kBlockN, kHeadDim>;  // K, V
  using QTile = FlashHeadTile<kBlockM, kHeadDim>;   // Q, dO of one step
  using DsTile = FlashHeadTile<kBlockN, kBlockM>;   // dS^T: keys x queries
  // This consumer's dQ quarter (head_dim 128) or half (64): query box and head-dimension box.
  static constexpr int dq_query_box(int consumer) { return kHeadDim == 128 ? 0 : consumer; }
  static constexpr int dq_dim_box(int consumer) { return kHeadDim == 128 ? consumer : 0; }
  static constexpr std::uint32_t kRowVecBytes = kBlockM * 4;  // the LSE or D of one query block

  // Shared memory from a 1024-aligned base: K, V, the Q and dO stages, two dS^T buffers, the
  // consumers' dQ staging, the LSE and D stages, the barriers.
  static constexpr std::uint32_t kKAt = 0;
  static constexpr std::uint32_t kVAt = kKAt + KvTile::kBytes;
  static constexpr std::uint32_t kQAt = kVAt + KvTile::kBytes;
  static constexpr std::uint32_t kDoAt = kQAt + kStages * QTile::kBytes;
  static constexpr std::uint32_t kDsAt = kDoAt + kStages * QTile::kBytes;
  static constexpr std::uint32_t kDqAt = kDsAt + 2 * DsTile::kBytes;
  static constexpr std::uint32_t kLseAt = kDqAt + kConsumers * FlashDqStaging::kBytes;
  static constexpr std::uint32_t kDAt = kLseAt + kStages * kRowVecBytes;
  static constexpr std::uint32_t kBarAt = kDAt + kStages * kRowVecBytes;
  static constexpr int kBarriers = 1 + 3 * kStages;  // K/V full; Q full, dO full, stage empty
  static constexpr int kSmemBytes = int(kBarAt) + 8 * kBarriers + 1024;

  static_assert(kBlockM % 64 == 0 && kBlockN == 64 * kConsumers);
  static_assert(kAttentionBwdRowPadding % kBlockM == 0, "a query block's LSE and D lie inside the padded vectors");
  static_assert(is_wgmma_bf16_shape(kWgmmaM, kBlockM, kWgmmaK) && is_wgmma_bf16_shape(kWgmmaM, kHeadDim, kWgmmaK));
  static_assert(FlashDqStaging::kRows == kWgmmaM && FlashDqStaging::kCols == 64);
  static_assert(kHeadDim * kBlockM == 2 * 64 * 64, "the dQ tile splits into one 64 x 64 part per consumer");
  // As in the forward: the launch gives every thread 65536 / kThreads registers (in steps of 8),
  // and what the producer gives back pays exactly for what the consumers take.
  static constexpr int kLaunchRegisters = 65536 / kThreads / 8 * 8;
  static_assert((kLaunchRegisters - kProducerRegisters) * 128 ==
                (kConsumerRegisters - kLaunchRegisters) * 128 * kConsumers);
  static_assert(kSmemBytes <= 227 * 1024);
};

#if TRAINBENCH_SM90A
// m64 x kN x k16 with both operands from shared memory, K-major (S^T, dP^T); the first k16 step
// overwrites d.
template <int kN>
__device__ __forceinline__ void wgmma_ss(float (&d)[kN / 2], std::uint64_t a, std::uint64_t b, bool accumulate) {
  if constexpr (kN == 64) {
    if (accumulate) ptx::wgmma_m64n64k16_bf16<0, 0>(d, a, b, true);
    else ptx::wgmma_m64n64k16_bf16_overwrite<0, 0>(d, a, b);
  } else {
    if (accumulate) ptx::wgmma_m64n128k16_bf16<0, 0>(d, a, b, true);
    else ptx::wgmma_m64n128k16_bf16_overwrite<0, 0>(d, a, b);
  }
}
// m64 x kN x k16 with A in registers and B N-major from shared memory (dV, dK).
template <int kN>
__device__ __forceinline__ void wgmma_rs(float (&d)[kN / 2], const std::uint32_t (&a)[4], std::uint64_t b,
                                         bool accumulate) {
  if constexpr (kN == 64) ptx::wgmma_m64n64k16_bf16_rs<1>(d, a, b, accumulate);
  else ptx::wgmma_m64n128k16_bf16_rs<1>(d, a, b, accumulate);
}
#endif

template <int kHeadDim>
__global__ void __launch_bounds__(BwdWgmmaConfig<kHeadDim>::kThreads, 1)
attention_bwd_wgmma_sm90_kernel(const __grid_constant__ CUtensorMap q_map, const __grid_constant__ CUtensorMap k_map,
                                const __grid_constant__ CUtensorMap v_map, const __grid_constant__ CUtensorMap do_map,
                                const __grid_constant__ CUtensorMap dq_map, const float* __restrict__ lse_log2,
                                const float* __restrict__ d_rows, __nv_bfloat16* __restrict__ dk,
                                __nv_bfloat16* __restrict__ dv, float* __restrict__ dk_accum,
                                float* __restrict__ dv_accum, AttentionShape shape, int seq_q_padded, float scale) {
#if TRAINBENCH_SM90A
  using Config = BwdWgmmaConfig<kHeadDim>;
  using KvTile = typename Config::KvTile;
  using QTile = typename Config::QTile;
  using DsTile = typename Config::DsTile;
  constexpr int kBlockM = Config::kBlockM, kBlockN = Config::kBlockN, kStages = Config::kStages;

  extern __shared__ unsigned char smem[];
  // Not const: the consumers re-read it through ptx::opaque every step (see there).
  std::uint32_t base = (ptx::smem_addr(smem) + 1023u) & ~1023u;
  const unsigned char* base_ptr = smem + (base - ptx::smem_addr(smem));
  const auto k_tile = [&] { return base + Config::kKAt; };
  const auto v_tile = [&] { return base + Config::kVAt; };
  const auto q_tile = [&](int s) { return base + Config::kQAt + static_cast<std::uint32_t>(s) * QTile::kBytes; };
  const auto do_tile = [&](int s) { return base + Config::kDoAt + static_cast<std::uint32_t>(s) * QTile::kBytes; };
  const auto ds_tile = [&](int buffer) {
    return base + Config::kDsAt + static_cast<std::uint32_t>(buffer) * DsTile::kBytes;
  };
  const auto lse_at = [&](int s) { return Config::kLseAt + static_cast<std::uint32_t>(s) * Config::kRowVecBytes; };
  const auto d_at = [&](int s) { return Config::kDAt + static_cast<std::uint32_t>(s) * Config::kRowVecBytes; };
  const std::uint32_t kv_full = base + Config::kBarAt;
  const auto q_full = [&](int s) { return kv_full + 8u * static_cast<std::uint32_t>(1 + s); };
  const auto do_full = [&](int s) { return q_full(kStages) + 8u * static_cast<std::uint32_t>(s); };
  const auto empty = [&](int s) { return do_full(kStages) + 8u * static_cast<std::uint32_t>(s); };
  // Step t (a query block) sits in stage t % kStages; its phase flips every time the ring wraps.
  const auto phase_of = [](int t) { return static_cast<std::uint32_t>(t / kStages) & 1u; };

  const int tid = threadIdx.x, wg = tid / 128;
  const AttentionWorkItem item = attention_work_item(int(blockIdx.x), attention_ceil_div(shape.seq_kv, kBlockN),
                                                     shape.heads_q, shape.batch, shape.causal);
  const int n0 = item.rank * kBlockN, head = item.head, batch = item.batch;
  const int group = shape.heads_q / shape.heads_kv, head_kv = head / group;
  const int seq_q = shape.seq_q, seq_kv = shape.seq_kv;
  // The query blocks that see any of the CTA's keys (causal: from the first row that sees key n0).
  const int m_begin = attention_first_row_seeing(n0, seq_q, seq_kv, shape.causal) / kBlockM;
  const int m_end = attention_ceil_div(seq_q, kBlockM);
  const int steps = m_end > m_begin ? m_end - m_begin : 0;

  if (tid == 0) {
    ptx::mbarrier_init(kv_full, 1);  // the producer's arrive_expect_tx
    for (int s = 0; s < kStages; ++s) {
      ptx::mbarrier_init(q_full(s), 1);
      ptx::mbarrier_init(do_full(s), 1);
      ptx::mbarrier_init(empty(s), Config::kConsumers * 4);  // one arrival per consumer warp
    }
    ptx::fence_mbarrier_init();
  }
  __syncthreads();

  if (wg == 0) {
    // Producer: K and V once, then Q + LSE and dO + D of each step; it waits "empty" with the
    // flipped parity, which passes at once on fresh barriers (the first kStages steps).
    ptx::setmaxnreg_dec<Config::kProducerRegisters>();
    if (tid / 32 == 0 && steps > 0 && ptx::elect_one()) {
      ptx::prefetch_tensor_map(&q_map);
      ptx::prefetch_tensor_map(&k_map);
      ptx::prefetch_tensor_map(&v_map);
      ptx::prefetch_tensor_map(&do_map);
      ptx::mbarrier_arrive_expect_tx(kv_full, 2 * KvTile::kBytes);
#pragma unroll
      for (int box = 0; box < KvTile::kBoxes; ++box) {
        ptx::tma_load_4d(k_tile() + KvTile::box_offset(box), &k_map, kv_full, KvTile::box_first_dim(box), head_kv, n0,
                         batch);
        ptx::tma_load_4d(v_tile() + KvTile::box_offset(box), &v_map, kv_full, KvTile::box_first_dim(box), head_kv, n0,
                         batch);
      }
      const std::size_t rows_at = (std::size_t(batch) * shape.heads_q + head) * std::size_t(seq_q_padded);
      for (int t = 0; t < steps; ++t) {
        const int s = t % kStages, m0 = (m_begin + t) * kBlockM;
        ptx::mbarrier_wait(empty(s), phase_of(t) ^ 1u);
        ptx::mbarrier_arrive_expect_tx(q_full(s), QTile::kBytes + Config::kRowVecBytes);
#pragma unroll
        for (int box = 0; box < QTile::kBoxes; ++box)
          ptx::tma_load_4d(q_tile(s) + QTile::box_offset(box), &q_map, q_full(s), QTile::box_first_dim(box), head, m0,
                           batch);
        ptx::bulk_load(base + lse_at(s), lse_log2 + rows_at + m0, Config::kRowVecBytes, q_full(s));
        ptx::mbarrier_arrive_expect_tx(do_full(s), QTile::kBytes + Config::kRowVecBytes);
#pragma unroll
        for (int box = 0; box < QTile::kBoxes; ++box)
          ptx::tma_load_4d(do_tile(s) + QTile::box_offset(box), &do_map, do_full(s), QTile::box_first_dim(box), head,
                           m0, batch);
        ptx::bulk_load(base + d_at(s), d_rows + rows_at + m0, Config::kRowVecBytes, do_full(s));
      }
    }
    return;
  }

  // Consumer warpgroup `consumer`: keys n0 + 64 consumer .. + 63 of the block.
  ptx::setmaxnreg_inc<Config::kConsumerRegisters>();
  constexpr int kSRegs = kBlockM / 2, kKvRegs = kHeadDim / 2;  // FP32 accumulators per thread
  constexpr int kMSteps = kBlockM / kWgmmaK, kDSteps = kHeadDim / kWgmmaK, kNSteps = kBlockN / kWgmmaK;
  const int consumer = wg - 1, thread = tid % 128, lane = tid % 32;
  const int wg_key0 = kWgmmaM * consumer;  // within the CTA's block
  // This thread's place in the accumulator tiles (wgmma_accumulator_coord): register 4c + 2 half
  // + e is row acc_row + 8 half (a key of S^T, dP^T, dK, dV; a query of dQ), column 8c + col_lane
  // + e (a query of S^T and dP^T; a head dimension of dK, dV, dQ).
  int acc_row = wgmma_accumulator_coord(thread, 0).row;   // re-read every step through ptx::opaque
  int col_lane = wgmma_accumulator_coord(thread, 0).col;
  const int my_key = n0 + wg_key0 + acc_row;
  const float scale_log2 = scale * 1.4426950408889634f;  // log2(e): exp(x) = exp2(x log2(e))
  const int dq_query_box = Config::dq_query_box(consumer), dq_dim_box = Config::dq_dim_box(consumer);
  const auto dq_stage = [&] {
    return base + Config::kDqAt + static_cast<std::uint32_t>(consumer) * FlashDqStaging::kBytes;
  };
  // Named barriers: 1 between the consumers (dS^T written), 2 and 3 within consumer 0 and 1 (dQ
  // staged).
  constexpr int kDsReady = 1, kBothConsumers = 2 * 128;

  float dk_acc[kKvRegs] = {};
  float dv_acc[kKvRegs] = {};
  std::uint32_t p_frag[kMSteps][4];
  std::uint32_t ds_frag[kMSteps][4];

  if (steps > 0) ptx::mbarrier_wait(kv_full, 0);
  // Over query blocks m_begin .. m_end - 1; t counts the steps (the loop bound is m_end, which the
  // compiler can re-read from the kernel parameters: `steps` would hold a register all along).
  int t = 0;
  for (int m = m_begin; m < m_end; ++m, ++t) {
    const int s = t % kStages, m0 = m * kBlockM;
    base = ptx::opaque(base);
    acc_row = int(ptx::opaque(std::uint32_t(acc_row)));
    col_lane = int(ptx::opaque(std::uint32_t(col_lane)));
    const std::uint32_t phase = phase_of(t), ds = ds_tile(t % 2);
    // Declared per step so that none is live across steps (dK, dV and these would not fit 240
    // registers together); each tile's first wgmma writes them without reading.
    float s_acc[kSRegs];
    float dp_acc[kSRegs];
    float dq_acc[32];

    // S^T = K Q^T.
    ptx::mbarrier_wait(q_full(s), phase);
    ptx::wgmma_fence();
#pragma unroll
    for (int ks = 0; ks < kDSteps; ++ks)
      wgmma_ss<kBlockM>(s_acc, KvTile::k_major_descriptor(k_tile(), wg_key0, ks),
                        QTile::k_major_descriptor(q_tile(s), 0, ks), ks > 0);
    ptx::wgmma_commit();
    ptx::wgmma_wait<0>();
    ptx::fence_registers(s_acc);

    // dP^T = V dO^T, on the tensor core while P^T is computed.
    ptx::mbarrier_wait(do_full(s), phase);
    ptx::wgmma_fence();
#pragma unroll
    for (int ks = 0; ks < kDSteps; ++ks)
      wgmma_ss<kBlockM>(dp_acc, KvTile::k_major_descriptor(v_tile(), wg_key0, ks),
                        QTile::k_major_descriptor(do_tile(s), 0, ks), ks > 0);
    ptx::wgmma_commit();

    // Keys a query does not see (causal diagonal, past seq_kv): only where the block's first row
    // misses one of this consumer's keys; every later row sees at least as many.
    if (attention_bwd_tile_needs_mask(m0, n0 + wg_key0, kWgmmaM, seq_q, seq_kv, shape.causal)) {
#pragma unroll
      for (int c = 0; c < kBlockM / 8; ++c)
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          const int visible = attention_visible_keys(m0 + 8 * c + col_lane + e, seq_q, seq_kv, shape.causal);
#pragma unroll
          for (int half = 0; half < 2; ++half)
            if (my_key + 8 * half >= visible) s_acc[4 * c + 2 * half + e] = -INFINITY;
        }
    }
    // P^T = exp2(S^T scale log2(e) - LSE log2(e)), the LSE per column (query), rounded to BF16 as
    // the register A operand of dV += P^T dO (and read back from there for dS^T: holding the FP32
    // P^T beside dP^T would not fit the registers at head_dim 64).
    const float* lse = reinterpret_cast<const float*>(base_ptr + lse_at(s));
#pragma unroll
    for (int c = 0; c < kBlockM / 8; ++c) {
      const float2 l = *reinterpret_cast<const float2*>(lse + 8 * c + col_lane);
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        float& x = s_acc[4 * c + 2 * half];
        float& y = s_acc[4 * c + 2 * half + 1];
        x = ptx::ex2_approx(fmaf(x, scale_log2, -l.x));
        y = ptx::ex2_approx(fmaf(y, scale_log2, -l.y));
      }
    }
#pragma unroll
    for (int kk = 0; kk < kMSteps; ++kk)
#pragma unroll
      for (int j = 0; j < 4; ++j)
        p_frag[kk][j] = ptx::pack_bf16x2(s_acc[flash_p_source_register(kk, 2 * j)],
                                         s_acc[flash_p_source_register(kk, 2 * j + 1)]);

    // dV += P^T dO, behind dP^T.
    ptx::fence_registers(dv_acc);
#pragma unroll
    for (int kk = 0; kk < kMSteps; ++kk) ptx::fence_registers(p_frag[kk]);
    ptx::wgmma_fence();
#pragma unroll
    for (int kk = 0; kk < kMSteps; ++kk)
      wgmma_rs<kHeadDim>(dv_acc, p_frag[kk], QTile::n_major_descriptor(do_tile(s), kk), true);
    ptx::wgmma_commit();
    ptx::wgmma_wait<0>();  // dP^T and dV: P^T's registers may be read again
    ptx::fence_registers(dp_acc);
    ptx::fence_registers(dv_acc);
#pragma unroll
    for (int kk = 0; kk < kMSteps; ++kk) ptx::fence_registers(p_frag[kk]);

    // dS^T = P^T (dP^T - D), unscaled (the scale goes on dK and dQ at the end), in place of dP^T;
    // P^T from its BF16 pairs (register j of step kk: accumulators flash_p_source_register(kk,
    // 2j) and + 1).
    const float* d_vec = reinterpret_cast<const float*>(base_ptr + d_at(s));
#pragma unroll
    for (int kk = 0; kk < kMSteps; ++kk)
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const int r = flash_p_source_register(kk, 2 * j);  // 4c + 2 half, e = 0
        const float2 p = ptx::unpack_bf16x2(p_frag[kk][j]);
        const float2 d = *reinterpret_cast<const float2*>(d_vec + 8 * (r / 4) + col_lane);
        dp_acc[r] = p.x * (dp_acc[r] - d.x);
        dp_acc[r + 1] = p.y * (dp_acc[r + 1] - d.y);
      }

    // dS^T in BF16, as dK's register operand and, stored before any wgmma reads the registers, as
    // dQ's shared-memory one: register j of step kk packs accumulator chunk c = 2 kk + j / 2, row
    // half j % 2 (flash_p_source_register).
#pragma unroll
    for (int kk = 0; kk < kMSteps; ++kk)
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        ds_frag[kk][j] = ptx::pack_bf16x2(dp_acc[flash_p_source_register(kk, 2 * j)],
                                          dp_acc[flash_p_source_register(kk, 2 * j + 1)]);
        ptx::st_shared_b32(ds + DsTile::element_offset(wg_key0 + acc_row + 8 * (j % 2), 8 * (2 * kk + j / 2) + col_lane),
                           ds_frag[kk][j]);
      }

    // dK += dS^T Q.
    ptx::fence_registers(dk_acc);
#pragma unroll
    for (int kk = 0; kk < kMSteps; ++kk) ptx::fence_registers(ds_frag[kk]);
    ptx::wgmma_fence();
#pragma unroll
    for (int kk = 0; kk < kMSteps; ++kk)
      wgmma_rs<kHeadDim>(dk_acc, ds_frag[kk], QTile::n_major_descriptor(q_tile(s), kk), true);
    ptx::wgmma_commit();

    // dQ = dS K over all 128 keys, once both consumers' dS^T is in shared memory (visible to the
    // async proxy) and this consumer's staging has been read by its last reduction.
    ptx::fence_proxy_async_shared();
    if (thread == 0) ptx::bulk_wait_group_read<0>();
    ptx::named_barrier_sync(kDsReady, kBothConsumers);
    ptx::wgmma_fence();
#pragma unroll
    for (int kk = 0; kk < kNSteps; ++kk) {
      const std::uint64_t a = DsTile::n_major_descriptor(ds + DsTile::box_offset(dq_query_box), kk);
      const std::uint64_t b = KvTile::n_major_descriptor(k_tile() + KvTile::box_offset(dq_dim_box), kk);
      if (kk == 0) ptx::wgmma_m64n64k16_bf16_overwrite<1, 1>(dq_acc, a, b);
      else ptx::wgmma_m64n64k16_bf16<1, 1>(dq_acc, a, b, true);
    }
    ptx::wgmma_commit();
    ptx::wgmma_wait<1>();  // dK done (dV was before): the stage's Q and dO are free
    ptx::fence_registers(dk_acc);
#pragma unroll
    for (int kk = 0; kk < kMSteps; ++kk) ptx::fence_registers(ds_frag[kk]);
    if (lane == 0) ptx::mbarrier_arrive(empty(s));
    ptx::wgmma_wait<0>();
    ptx::fence_registers(dq_acc);

    // dQ to the staging, then one TMA reduction per 32-column box into the FP32 accumulator
    // (rows past seq_q are skipped by TMA; the padding rows' dQ is 0 anyway).
#pragma unroll
    for (int c = 0; c < 8; ++c)
#pragma unroll
      for (int half = 0; half < 2; ++half)
        ptx::st_shared_v2_f32(dq_stage() + FlashDqStaging::offset(acc_row + 8 * half, 8 * c + col_lane),
                              dq_acc[4 * c + 2 * half], dq_acc[4 * c + 2 * half + 1]);
    ptx::fence_proxy_async_shared();
    if (consumer == 0) ptx::named_barrier_sync(2, 128);
    else ptx::named_barrier_sync(3, 128);
    // (At head_dim 64 the second consumer's 64 rows may lie wholly past seq_q in the last block.)
    if (thread == 0 && m0 + 64 * dq_query_box < seq_q) {
#pragma unroll
      for (int box = 0; box < 2; ++box)
        ptx::tma_reduce_add_4d(&dq_map, dq_stage() + static_cast<std::uint32_t>(box) * FlashDqStaging::kBoxBytes,
                               64 * dq_dim_box + FlashDqStaging::kBoxCols * box, head, m0 + 64 * dq_query_box,
                               batch);
      ptx::bulk_commit_group();
    }
  }
  // The reductions must have read the staging before the CTA's shared memory goes, and be
  // complete before the conversion kernel reads the accumulator.
  if (thread == 0) ptx::bulk_wait_group<0>();

  // dK (scaled) and dV: BF16 from registers when the KV head has this one query head; otherwise
  // added into the FP32 accumulators (nothing to add when no query block saw these keys). The
  // group is worked out again here rather than kept in a register through the loop.
  const int kv_group = int(ptx::opaque(std::uint32_t(shape.heads_q))) / shape.heads_kv;
  const int kv_head = head / kv_group;
  const std::size_t kv_stride = std::size_t(shape.heads_kv) * kHeadDim;
  if (kv_group > 1 && t == 0) return;
#pragma unroll
  for (int half = 0; half < 2; ++half) {
    const int key = my_key + 8 * half;
    if (key >= seq_kv) continue;
    const std::size_t at = (std::size_t(batch) * seq_kv + key) * kv_stride + std::size_t(kv_head) * kHeadDim + col_lane;
#pragma unroll
    for (int c = 0; c < kHeadDim / 8; ++c) {
      const float k0 = dk_acc[4 * c + 2 * half], k1 = dk_acc[4 * c + 2 * half + 1];
      const float v0 = dv_acc[4 * c + 2 * half], v1 = dv_acc[4 * c + 2 * half + 1];
      if (kv_group == 1) {
        *reinterpret_cast<__nv_bfloat162*>(dk + at + 8 * c) = __floats2bfloat162_rn(k0 * scale, k1 * scale);
        *reinterpret_cast<__nv_bfloat162*>(dv + at + 8 * c) = __floats2bfloat162_rn(v0, v1);
      } else {
        atomicAdd(reinterpret_cast<float2*>(dk_accum + at + 8 * c), make_float2(k0, k1));
        atomicAdd(reinterpret_cast<float2*>(dv_accum + at + 8 * c), make_float2(v0, v1));
      }
    }
  }
#else
  __trap();  // sm_90a only; the registry keeps other GPUs from launching it
#endif
}

bool same_problem(const AttentionBwdArgs& a, const AttentionBwdArgs& b) {
  const AttentionShape &x = a.shape, &y = b.shape;
  return a.q == b.q && a.k == b.k && a.v == b.v && a.d_o == b.d_o && a.workspace == b.workspace &&
         x.batch == y.batch && x.heads_q == y.heads_q && x.heads_kv == y.heads_kv && x.seq_q == y.seq_q &&
         x.seq_kv == y.seq_kv && x.head_dim == y.head_dim;
}

template <int kHeadDim>
void launch(const AttentionBwdArgs& args, cudaStream_t stream) {
  using Config = BwdWgmmaConfig<kHeadDim>;
  const AttentionShape& s = args.shape;
  const AttentionBwdWorkspace w = attention_bwd_workspace(s);
  auto* ws = static_cast<unsigned char*>(args.workspace);
  float* dq_accum = reinterpret_cast<float*>(ws);
  const bool gqa = s.heads_q != s.heads_kv;
  float* dk_accum = gqa ? reinterpret_cast<float*>(ws + w.dk_offset) : nullptr;
  float* dv_accum = gqa ? reinterpret_cast<float*>(ws + w.dv_offset) : nullptr;
  const float scale = float(1.0 / std::sqrt(double(kHeadDim)));

  attention_bwd_preprocess(args, stream);

  const auto kernel = attention_bwd_wgmma_sm90_kernel<kHeadDim>;
  static const cudaError_t opt_in =
      cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, Config::kSmemBytes);
  (void)opt_in;  // a failure surfaces at the launch, which the caller checks
  struct Maps {
    AttentionBwdArgs args;
    CUtensorMap q, k, v, d_o, dq;
  };
  static thread_local Maps last{};  // encoding is a driver call; the timed loop repeats one problem
  if (!same_problem(last.args, args)) {
    const auto b = std::uint64_t(s.batch), hq = std::uint64_t(s.heads_q), hkv = std::uint64_t(s.heads_kv);
    const auto sq = std::uint64_t(s.seq_q), skv = std::uint64_t(s.seq_kv);
    using QTile = typename Config::QTile;
    using KvTile = typename Config::KvTile;
    last.q = make_tensor_map_bf16_bshd_sw128(args.q, b, sq, hq, kHeadDim, QTile::kBoxDims, QTile::kBoxRows);
    last.d_o = make_tensor_map_bf16_bshd_sw128(args.d_o, b, sq, hq, kHeadDim, QTile::kBoxDims, QTile::kBoxRows);
    last.k = make_tensor_map_bf16_bshd_sw128(args.k, b, skv, hkv, kHeadDim, KvTile::kBoxDims, KvTile::kBoxRows);
    last.v = make_tensor_map_bf16_bshd_sw128(args.v, b, skv, hkv, kHeadDim, KvTile::kBoxDims, KvTile::kBoxRows);
    last.dq = make_tensor_map_f32_bshd_sw128(dq_accum, b, sq, hq, kHeadDim, FlashDqStaging::kBoxCols,
                                             FlashDqStaging::kRows);
    last.args = args;
  }
  const unsigned grid = unsigned(attention_ceil_div(s.seq_kv, Config::kBlockN) * s.heads_q * s.batch);
  kernel<<<grid, Config::kThreads, Config::kSmemBytes, stream>>>(
      last.q, last.k, last.v, last.d_o, last.dq, reinterpret_cast<const float*>(ws + w.lse_log2_offset),
      reinterpret_cast<const float*>(ws + w.d_offset), args.dk, args.dv, dk_accum, dv_accum, s, int(w.seq_q_padded),
      scale);

  attention_bwd_finish(args, stream);
}

}  // namespace

void attention_bwd_wgmma_sm90(const AttentionBwdArgs& args, cudaStream_t stream) {
  if (args.shape.head_dim == 64) launch<64>(args, stream);
  else if (args.shape.head_dim == 128) launch<128>(args, stream);
}

}  // namespace trainbench::kernels
