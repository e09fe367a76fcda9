// attention.bwd.mma, version 2: the FlashAttention-2 backward on mma.sync (sm_80 and later).
//
// What it changes from the unfused reference backward (S, P, dP, dS in memory, five GEMMs):
// - Three kernels, no score matrix in memory. (1) Preprocessing: D = rowsum(dO * O) in FP32 per
//   (batch, head, row), the forward's LSE (natural log) times log2(e), and dQ's FP32 accumulator
//   zeroed. (2) The main kernel, in this file. (3) The FP32 accumulators rounded to BF16.
//   (1) and (3) are in flash_bwd_pre_post.cu, shared with version 4.
// - Main kernel: a CTA owns 64 keys of one (query head, batch), 4 warps of 16 keys each. K and V
//   (of the query head's KV head) sit in shared memory for the whole CTA; each warp keeps the dK
//   and dV rows of its 16 keys (16 x D each, FP32) in registers. It loops over the 64-row query
//   blocks that see any of its keys (causal: from the block holding the first row that sees
//   them, bottom-right aligned; attention_first_row_seeing). Q, dO and
//   the per-row LSE and D of the next step arrive by cp.async (2 stages) while the tensor cores
//   work on the current one.
// - Per step, with transposed scores so that each warp's rows are its keys: S^T = K Q^T;
//   P^T = exp2(S^T scale log2(e) - LSE log2(e)) (one FFMA and one MUFU.EX2, as the forward);
//   dV += P^T dO, with P^T reused from the S^T accumulators as the A operand (BF16);
//   dP^T = V dO^T; dS^T = P^T (dP^T - D); dK += dS^T Q. dS^T goes to shared memory once (BF16,
//   swizzled) and each warp then computes dQ for 16 query rows, dQ += dS K, added into the FP32
//   accumulator with atomicAdd (RED.ADD.F32): other CTAs (other key blocks) add to the same rows.
//   The softmax scale is applied once at the end (to dK when it is written, to dQ when it is
//   converted).
// - GQA: dK and dV of a KV head are sums over its query heads. With one query head per KV head
//   they are written in BF16 from registers; with more, each CTA adds its dK and dV into FP32
//   accumulators (RED.ADD.F32 once per CTA) that the last kernel rounds, as version 4. Until the
//   H200 run the CTA looped over the group itself (no FP32 scratch), which left Llama 3's
//   per-GPU MQA (one KV head, batch 1, seq 8192) 128 CTAs: 76.1 TFLOP/s there.
// - Order: a 1-D grid dealt as attention_work_item; causal, every head's first (longest) key
//   block before any head's second, so the grid's last wave is short.
// - Masks: rows that see no key carry LSE = -inf from the forward; the preprocessing stores
//   +inf for them (and for the padding rows past seq_q) so that exp2(s - inf) = 0: their P, dS
//   and every contribution are 0, not NaN. Keys past seq_kv and keys a row does not see (the
//   causal diagonal) are masked element by element, only in the steps whose first row does not
//   see every key of the block. Tails of Q, dO, K, V are zero-filled by cp.async (src-size 0).
// Registers (ptxas, nvcc 13.0): see kernels/attention/README.md; no spills.
//
// Measured (H200, results/h200-sxm/attention.log; batch 2, 16 heads, seq 8192, head_dim 128, L2
// cold): 159.4 TFLOP/s full (0.297x attention.cudnn), 156.7 TFLOP/s causal (0.293x).
// Verified on the H200 at every shape of the attention suite and in tests/gpu_test_attention.cu's
// larger-shape cases; its float64 small-shape test failed there only at seq_q = seq_kv = 1 (dQ and
// dK error inf: their reference is zero and was measured against its own (batch, head)'s norm;
// since measured against the whole tensor's, not rerun on a GPU).
//
// attention.bwd.mma_128, version 2b: the same kernel on 128 keys per CTA, 8 warps. Why: each CTA
// adds its dQ for every query block it visits (RED.ADD.F32, one per dQ element and CTA) and
// loads every Q and dO block once; at 64 keys that is, per key, twice the dQ atomics and the
// Q/dO traffic of FlashAttention-2's 128-key CTAs. At 159.4 TFLOP/s on the H200 the 64-key kernel
// sent about 1 TB/s of FP32 reductions to L2. With 128 keys the dQ product is split between two
// warps per 16 query rows by head dimension, so every dQ element is still added once per CTA.
// 247 registers at head_dim 128 (no spills), 145 KiB of shared memory (81 KiB at head_dim 64):
// one 256-thread CTA per SM, as the 64-key kernel's two 128-thread CTAs; GPUs with 99 KiB per
// block (sm_86, sm_89) can run it at head_dim 64 only. Not yet run on a GPU.
#include "kernels/attention/attention.cuh"
#include "kernels/common/ptx.cuh"
#include "kernels/common/swizzle.cuh"

#include <cmath>
#include <cstddef>
#include <cstdint>

namespace trainbench::kernels {
namespace {

constexpr int kBlockM = kAttentionBwdMmaBlockM;  // query rows per step
constexpr int kStages = 2;
constexpr float kLog2e = 1.4426950408889634f;
static_assert(kBlockM == 64, "dS^T tiles have 64 queries: 128-byte BF16 rows, swizzle_xor_chunk<8>");
static_assert(kAttentionBwdRowPadding % kBlockM == 0, "a query block's LSE and D lie inside the padded vectors");

// kBlockN keys per CTA, 16 per warp: 64 (version 2) or 128 (version 2b).
template <int kHeadDim, int kBlockN>
struct BwdTiles {
  static constexpr int kWarps = kBlockN / 16;
  static constexpr int kThreads = kWarps * 32;
  static constexpr int kChunks = kHeadDim / 8;                // 16-byte chunks per row
  static constexpr int kKvTileBytes = kBlockN * kHeadDim * 2;  // K or V
  static constexpr int kQTileBytes = kBlockM * kHeadDim * 2;   // Q or dO
  static constexpr int kRowVecBytes = kBlockM * 4;            // LSE or D of one query block
  static constexpr int kStageBytes = 2 * kQTileBytes + 2 * kRowVecBytes;  // Q, dO, LSE, D
  static constexpr int kDsBytes = kBlockN * kBlockM * 2;
  static constexpr int kStagesAt = 2 * kKvTileBytes;          // after K and V
  static constexpr int kDsAt = kStagesAt + kStages * kStageBytes;
  // 105 KiB at D = 128, 57 KiB at 64 (64 keys); 145 and 81 KiB (128 keys).
  static constexpr int kSmemBytes = kDsAt + kDsBytes;
};

// kRows rows of a (row-major, `stride` elements apart) BF16 matrix into a swizzled tile; rows
// from valid_rows on are zero-filled.
template <int kRows, int kChunks, int kThreads>
__device__ __forceinline__ void load_rows(std::uint32_t tile, const __nv_bfloat16* g, std::size_t stride,
                                          int valid_rows, int tid) {
  static_assert(kRows * kChunks % kThreads == 0);
#pragma unroll
  for (int it = 0; it < kRows * kChunks / kThreads; ++it) {
    const int c = tid + it * kThreads;
    const int r = c / kChunks, ch = c % kChunks;
    const bool valid = r < valid_rows;
    ptx::cp_async_16(tile + swizzle_xor_chunk<kChunks>(r, ch), valid ? g + r * stride + ch * 8 : g, valid);
  }
}

// The A operand of k16 step kk, from the FP32 accumulators of n8 tiles 2kk and 2kk + 1 (an
// m16n8 accumulator and an m16k16 A fragment share their element layout), rounded to BF16.
__device__ __forceinline__ void accumulators_to_a(std::uint32_t (&a)[4], const float (&lo)[4], const float (&hi)[4]) {
  a[0] = ptx::pack_bf16x2(lo[0], lo[1]);
  a[1] = ptx::pack_bf16x2(lo[2], lo[3]);
  a[2] = ptx::pack_bf16x2(hi[0], hi[1]);
  a[3] = ptx::pack_bf16x2(hi[2], hi[3]);
}

template <int kHeadDim, int kBlockN>
__global__ void __launch_bounds__(BwdTiles<kHeadDim, kBlockN>::kThreads, 1)
attention_bwd_mma_sm80_kernel(const __nv_bfloat16* __restrict__ q, const __nv_bfloat16* __restrict__ k,
                              const __nv_bfloat16* __restrict__ v, const __nv_bfloat16* __restrict__ d_o,
                              const float* __restrict__ lse_log2, const float* __restrict__ d_rows,
                              float* __restrict__ dq_accum, __nv_bfloat16* __restrict__ dk,
                              __nv_bfloat16* __restrict__ dv, float* __restrict__ dk_accum,
                              float* __restrict__ dv_accum, AttentionShape shape, int seq_q_padded, float scale) {
  using Tiles = BwdTiles<kHeadDim, kBlockN>;
  constexpr int kThreads = Tiles::kThreads;
  constexpr int kChunks = Tiles::kChunks;
  constexpr int kDSteps = kHeadDim / 16;  // k16 steps over the head dimension
  constexpr int kDTiles = kHeadDim / 8;   // n8 tiles over the head dimension
  constexpr int kSubM = 32;               // queries per sub-step
  constexpr int kSubTiles = kSubM / 8;    // n8 tiles of S^T (queries)
  constexpr int kSubSteps = kSubM / 16;   // k16 steps over queries (dV, dK)
  constexpr int kNSteps = kBlockN / 16;   // k16 steps over keys (dQ)

  extern __shared__ __align__(128) unsigned char smem[];
  const std::uint32_t k_tile = ptx::smem_addr(smem);
  const std::uint32_t v_tile = k_tile + std::uint32_t(Tiles::kKvTileBytes);
  const auto q_tile = [&](int stage) { return k_tile + std::uint32_t(Tiles::kStagesAt + stage * Tiles::kStageBytes); };
  const auto do_tile = [&](int stage) { return q_tile(stage) + std::uint32_t(Tiles::kQTileBytes); };
  const auto row_vec = [&](int stage, int which) {  // 0: LSE log2(e), 1: D
    return reinterpret_cast<const float*>(smem + Tiles::kStagesAt + stage * Tiles::kStageBytes +
                                          2 * Tiles::kQTileBytes + which * Tiles::kRowVecBytes);
  };
  const std::uint32_t ds_tile = k_tile + std::uint32_t(Tiles::kDsAt);

  const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32;
  const AttentionWorkItem item = attention_work_item(int(blockIdx.x), attention_ceil_div(shape.seq_kv, kBlockN),
                                                     shape.heads_q, shape.batch, shape.causal);
  const int h = item.head, b = item.batch;
  const int n0 = item.rank * kBlockN;
  const int seq_q = shape.seq_q, seq_kv = shape.seq_kv;
  const std::size_t q_stride = std::size_t(shape.heads_q) * kHeadDim;
  const std::size_t kv_stride = std::size_t(shape.heads_kv) * kHeadDim;
  // The KV head's offset, recomputed where it is needed (at 255 registers a value kept live
  // through the loop spills).
  const auto kv_head_at = [&] { return std::size_t(h / (shape.heads_q / shape.heads_kv)) * kHeadDim; };
  const std::size_t kv_at = (std::size_t(b) * seq_kv + n0) * kv_stride + kv_head_at();
  // Row 0 of this (batch, head) in Q, dO and dQ, and its LSE and D.
  const std::size_t head_at = std::size_t(b) * seq_q * q_stride + std::size_t(h) * kHeadDim;
  const std::size_t rows_at = (std::size_t(b) * shape.heads_q + h) * seq_q_padded;

  const int m_begin = attention_first_row_seeing(n0, seq_q, seq_kv, shape.causal) / kBlockM;
  const int steps = attention_ceil_div(seq_q, kBlockM) - m_begin;  // <= 0: no row sees a key
  const float scale_log2 = scale * kLog2e;

  const auto load_step = [&](int step) {
    const int stage = step % kStages;
    const int m0 = (m_begin + step) * kBlockM;
    const std::size_t at = head_at + std::size_t(m0) * q_stride;
    load_rows<kBlockM, kChunks, kThreads>(q_tile(stage), q + at, q_stride, seq_q - m0, tid);
    load_rows<kBlockM, kChunks, kThreads>(do_tile(stage), d_o + at, q_stride, seq_q - m0, tid);
    if (tid < 2 * kBlockM / 4) {  // 16 chunks of LSE, then 16 of D: padded, never out of bounds
      const int which = tid / (kBlockM / 4), ch = tid % (kBlockM / 4);
      const float* src =
          (which ? d_rows : lse_log2) + rows_at + m0 + 4 * ch;
      ptx::cp_async_16(ptx::smem_addr(row_vec(stage, which) + 4 * ch), src, true);
    }
  };

  load_rows<kBlockN, kChunks, kThreads>(k_tile, k + kv_at, kv_stride, seq_kv - n0, tid);
  load_rows<kBlockN, kChunks, kThreads>(v_tile, v + kv_at, kv_stride, seq_kv - n0, tid);
  if (steps > 0) load_step(0);
  ptx::cp_async_commit();

  // Accumulator element e of an m16n8 tile sits at row lane/4 + 8 (e / 2), column 2 (lane % 4) + e % 2.
  // Rows of dK, dV and S^T are this warp's 16 keys.
  float dk_acc[kDTiles][4] = {};
  float dv_acc[kDTiles][4] = {};
  const int my_key = n0 + warp * 16 + lane / 4;  // and my_key + 8

  for (int step = 0; step < steps; ++step) {
    ptx::cp_async_wait<0>();
    __syncthreads();  // step's tiles visible; every warp done with step - 1 (its stage and dS)
    if (step + 1 < steps) load_step(step + 1);
    ptx::cp_async_commit();
    const int stage = step % kStages;
    const int m0 = (m_begin + step) * kBlockM;
    const float* lse_s = row_vec(stage, 0);
    const float* d_s = row_vec(stage, 1);

    // Two halves of kSubM queries, one after the other (not unrolled): with the S^T and dP^T
    // accumulators of 32 queries instead of 64, D = 128 fits 255 registers without spilling.
#pragma unroll 1
    for (int q0 = 0; q0 < kBlockM; q0 += kSubM) {
      // S^T = K Q^T: 16 keys x kSubM queries per warp.
      float s_acc[kSubTiles][4] = {};
#pragma unroll
      for (int ks = 0; ks < kDSteps; ++ks) {
        std::uint32_t kf[4];
        ptx::ldmatrix_x4(kf, k_tile + swizzle_xor_chunk<kChunks>(warp * 16 + (lane & 15), 2 * ks + (lane >> 4)));
#pragma unroll
        for (int mt = 0; mt < kSubTiles; mt += 2) {
          // matrix j: queries +8 (j >> 1), head dims +8 (j & 1); regs 0-1 the first n8 tile, 2-3 the second
          std::uint32_t qf[4];
          ptx::ldmatrix_x4(qf, q_tile(stage) + swizzle_xor_chunk<kChunks>(q0 + 8 * mt + (lane & 7) + 8 * (lane >> 4),
                                                                         2 * ks + ((lane >> 3) & 1)));
          ptx::mma_m16n8k16_bf16(s_acc[mt], kf, {qf[0], qf[1]});
          ptx::mma_m16n8k16_bf16(s_acc[mt + 1], kf, {qf[2], qf[3]});
        }
      }

      // Keys a query does not see (causal diagonal, past seq_kv): only where the half's first row
      // misses some key of the block; every later row sees at least as many.
      if (attention_bwd_tile_needs_mask(m0 + q0, n0, kBlockN, seq_q, seq_kv, shape.causal)) {
#pragma unroll
        for (int mt = 0; mt < kSubTiles; ++mt)
#pragma unroll
          for (int e = 0; e < 2; ++e) {
            const int query = m0 + q0 + 8 * mt + 2 * (lane % 4) + e;
            const int visible = attention_visible_keys(query, seq_q, seq_kv, shape.causal);
#pragma unroll
            for (int half = 0; half < 2; ++half)
              if (my_key + 8 * half >= visible) s_acc[mt][2 * half + e] = -INFINITY;
          }
      }

      // P^T = exp2(S^T scale log2(e) - LSE log2(e)); the LSE is +inf for rows that see no key and
      // for padding rows, so masked or not their P is exp2(-inf) = 0.
#pragma unroll
      for (int mt = 0; mt < kSubTiles; ++mt) {
        const float2 l = *reinterpret_cast<const float2*>(lse_s + q0 + 8 * mt + 2 * (lane % 4));
#pragma unroll
        for (int half = 0; half < 2; ++half) {
          s_acc[mt][2 * half] = ptx::ex2_approx(fmaf(s_acc[mt][2 * half], scale_log2, -l.x));
          s_acc[mt][2 * half + 1] = ptx::ex2_approx(fmaf(s_acc[mt][2 * half + 1], scale_log2, -l.y));
        }
      }

      // dV += P^T dO: P^T from the accumulators, dO [query][d] read transposed.
#pragma unroll
      for (int kk = 0; kk < kSubSteps; ++kk) {
        std::uint32_t pf[4];
        accumulators_to_a(pf, s_acc[2 * kk], s_acc[2 * kk + 1]);
#pragma unroll
        for (int dt = 0; dt < kDTiles; dt += 2) {
          // matrix j: queries +8 (j & 1), head dims +8 (j >> 1)
          std::uint32_t f[4];
          const int row = q0 + 16 * kk + (lane & 7) + 8 * ((lane >> 3) & 1);
          ptx::ldmatrix_x4_trans(f, do_tile(stage) + swizzle_xor_chunk<kChunks>(row, dt + (lane >> 4)));
          ptx::mma_m16n8k16_bf16(dv_acc[dt], pf, {f[0], f[1]});
          ptx::mma_m16n8k16_bf16(dv_acc[dt + 1], pf, {f[2], f[3]});
        }
      }

      // dP^T = V dO^T.
      float dp_acc[kSubTiles][4] = {};
#pragma unroll
      for (int ks = 0; ks < kDSteps; ++ks) {
        std::uint32_t vf[4];
        ptx::ldmatrix_x4(vf, v_tile + swizzle_xor_chunk<kChunks>(warp * 16 + (lane & 15), 2 * ks + (lane >> 4)));
#pragma unroll
        for (int mt = 0; mt < kSubTiles; mt += 2) {
          std::uint32_t df[4];
          ptx::ldmatrix_x4(df, do_tile(stage) + swizzle_xor_chunk<kChunks>(q0 + 8 * mt + (lane & 7) + 8 * (lane >> 4),
                                                                          2 * ks + ((lane >> 3) & 1)));
          ptx::mma_m16n8k16_bf16(dp_acc[mt], vf, {df[0], df[1]});
          ptx::mma_m16n8k16_bf16(dp_acc[mt + 1], vf, {df[2], df[3]});
        }
      }

      // dS^T = P^T (dP^T - D), in place of dP^T (unscaled: the scale goes on dK and dQ at the end).
#pragma unroll
      for (int mt = 0; mt < kSubTiles; ++mt) {
        const float2 d = *reinterpret_cast<const float2*>(d_s + q0 + 8 * mt + 2 * (lane % 4));
#pragma unroll
        for (int half = 0; half < 2; ++half) {
          dp_acc[mt][2 * half] = s_acc[mt][2 * half] * (dp_acc[mt][2 * half] - d.x);
          dp_acc[mt][2 * half + 1] = s_acc[mt][2 * half + 1] * (dp_acc[mt][2 * half + 1] - d.y);
        }
      }

      // dK += dS^T Q, and dS^T to shared memory (BF16, [key][query], 128-byte rows) for dQ.
#pragma unroll
      for (int kk = 0; kk < kSubSteps; ++kk) {
        std::uint32_t sf[4];
        accumulators_to_a(sf, dp_acc[2 * kk], dp_acc[2 * kk + 1]);
#pragma unroll
        for (int dt = 0; dt < kDTiles; dt += 2) {
          std::uint32_t f[4];
          const int row = q0 + 16 * kk + (lane & 7) + 8 * ((lane >> 3) & 1);
          ptx::ldmatrix_x4_trans(f, q_tile(stage) + swizzle_xor_chunk<kChunks>(row, dt + (lane >> 4)));
          ptx::mma_m16n8k16_bf16(dk_acc[dt], sf, {f[0], f[1]});
          ptx::mma_m16n8k16_bf16(dk_acc[dt + 1], sf, {f[2], f[3]});
        }
        // sf[2 t + half]: query tile 2 kk + t, key row lane/4 + 8 half, queries 2 (lane % 4), +1.
#pragma unroll
        for (int t = 0; t < 2; ++t)
#pragma unroll
          for (int half = 0; half < 2; ++half)
            *reinterpret_cast<std::uint32_t*>(
                smem + Tiles::kDsAt + swizzle_xor_chunk<8>(warp * 16 + lane / 4 + 8 * half, q0 / 8 + 2 * kk + t) +
                4 * (lane % 4)) = sf[2 * t + half];
      }
    }
    __syncthreads();  // all of dS^T written

    // dQ += dS K over the CTA's kBlockN keys, each warp 16 query rows (warp % 4) and, with 128
    // keys (8 warps), half of the head dimensions (warp / 4): every dQ element is added once per
    // CTA. dS read transposed from [key][query] (matrix j: keys +8 (j >> 1), queries +8 (j & 1)),
    // K [key][d] read transposed.
    constexpr int kRowWarps = kBlockM / 16, kDqDTiles = kDTiles / (Tiles::kWarps / kRowWarps);
    static_assert(Tiles::kWarps % kRowWarps == 0 && kDqDTiles % 2 == 0);
    const int row_warp = warp % kRowWarps, dt0 = warp / kRowWarps * kDqDTiles;
    const int my_row = m0 + row_warp * 16 + lane / 4;  // and my_row + 8
    if (m0 + row_warp * 16 < seq_q) {
      std::uint32_t ds_frag[kNSteps][4];
#pragma unroll
      for (int kk = 0; kk < kNSteps; ++kk)
        ptx::ldmatrix_x4_trans(ds_frag[kk], ds_tile + swizzle_xor_chunk<8>(16 * kk + (lane & 7) + 8 * (lane >> 4),
                                                                             2 * row_warp + ((lane >> 3) & 1)));
      float* dq_row = dq_accum + head_at + std::size_t(my_row) * q_stride + 2 * (lane % 4);
#pragma unroll
      for (int dt = dt0; dt < dt0 + kDqDTiles; dt += 2) {
        float acc[2][4] = {};
#pragma unroll
        for (int kk = 0; kk < kNSteps; ++kk) {
          std::uint32_t f[4];
          ptx::ldmatrix_x4_trans(f, k_tile + swizzle_xor_chunk<kChunks>(16 * kk + (lane & 7) + 8 * ((lane >> 3) & 1),
                                                                        dt + (lane >> 4)));
          ptx::mma_m16n8k16_bf16(acc[0], ds_frag[kk], {f[0], f[1]});
          ptx::mma_m16n8k16_bf16(acc[1], ds_frag[kk], {f[2], f[3]});
        }
#pragma unroll
        for (int half = 0; half < 2; ++half) {
          if (my_row + 8 * half >= seq_q) continue;
#pragma unroll
          for (int t = 0; t < 2; ++t) {
            atomicAdd(dq_row + 8 * half * q_stride + 8 * (dt + t), acc[t][2 * half]);
            atomicAdd(dq_row + 8 * half * q_stride + 8 * (dt + t) + 1, acc[t][2 * half + 1]);
          }
        }
      }
    }
  }
  ptx::cp_async_wait<0>();

  // dK (scaled) and dV: in BF16 where the KV head has one query head (keys no row sees get
  // zeros); under GQA added, unscaled, into the FP32 accumulators that the last kernel rounds.
#pragma unroll
  for (int half = 0; half < 2; ++half) {
    const int key = my_key + 8 * half;
    if (key >= seq_kv) continue;
    const std::size_t at = (std::size_t(b) * seq_kv + key) * kv_stride + kv_head_at() + 2 * (lane % 4);
#pragma unroll
    for (int dt = 0; dt < kDTiles; ++dt) {
      if (shape.heads_q == shape.heads_kv) {
        *reinterpret_cast<__nv_bfloat162*>(dk + at + 8 * dt) =
            __floats2bfloat162_rn(dk_acc[dt][2 * half] * scale, dk_acc[dt][2 * half + 1] * scale);
        *reinterpret_cast<__nv_bfloat162*>(dv + at + 8 * dt) =
            __floats2bfloat162_rn(dv_acc[dt][2 * half], dv_acc[dt][2 * half + 1]);
      } else {
        atomicAdd(dk_accum + at + 8 * dt, dk_acc[dt][2 * half]);
        atomicAdd(dk_accum + at + 8 * dt + 1, dk_acc[dt][2 * half + 1]);
        atomicAdd(dv_accum + at + 8 * dt, dv_acc[dt][2 * half]);
        atomicAdd(dv_accum + at + 8 * dt + 1, dv_acc[dt][2 * half + 1]);
      }
    }
  }
}

template <int kHeadDim, int kBlockN>
void launch(const AttentionBwdArgs& args, cudaStream_t stream) {
  using Tiles = BwdTiles<kHeadDim, kBlockN>;
  const AttentionShape& s = args.shape;
  const AttentionBwdWorkspace w = attention_bwd_workspace(s);
  auto* base = static_cast<unsigned char*>(args.workspace);
  const auto at = [&](std::size_t offset) { return reinterpret_cast<float*>(base + offset); };
  const bool gqa = s.heads_q != s.heads_kv;

  attention_bwd_preprocess(args, stream);

  const auto kernel = attention_bwd_mma_sm80_kernel<kHeadDim, kBlockN>;
  // Above 48 KiB of dynamic shared memory needs an opt-in, once per kernel (errors surface at the
  // launch, which the caller checks).
  static const cudaError_t opt_in =
      cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, Tiles::kSmemBytes);
  (void)opt_in;
  const unsigned grid = unsigned(attention_ceil_div(s.seq_kv, kBlockN) * s.heads_q * s.batch);
  kernel<<<grid, Tiles::kThreads, Tiles::kSmemBytes, stream>>>(
      args.q, args.k, args.v, args.d_o, at(w.lse_log2_offset), at(w.d_offset), at(0), args.dk, args.dv,
      gqa ? at(w.dk_offset) : nullptr, gqa ? at(w.dv_offset) : nullptr, s, int(w.seq_q_padded),
      float(1.0 / std::sqrt(double(kHeadDim))));

  attention_bwd_finish(args, stream);
}

static_assert(BwdTiles<128, kAttentionBwdMma128BlockN>::kSmemBytes == attention_bwd_mma_128_smem_bytes(128));
static_assert(BwdTiles<64, kAttentionBwdMma128BlockN>::kSmemBytes == attention_bwd_mma_128_smem_bytes(64));

template <int kBlockN>
void launch_for_head_dim(const AttentionBwdArgs& args, cudaStream_t stream) {
  if (args.shape.head_dim == 64) launch<64, kBlockN>(args, stream);
  else if (args.shape.head_dim == 128) launch<128, kBlockN>(args, stream);
}

}  // namespace

void attention_bwd_mma_sm80(const AttentionBwdArgs& args, cudaStream_t stream) {
  launch_for_head_dim<kAttentionBwdMmaBlockN>(args, stream);
}
void attention_bwd_mma_128_sm80(const AttentionBwdArgs& args, cudaStream_t stream) {
  launch_for_head_dim<kAttentionBwdMma128BlockN>(args, stream);
}

}  // namespace trainbench::kernels
