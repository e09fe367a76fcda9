// attention.fwd.mma, version 1: the FlashAttention-2 forward on mma.sync (sm_80 and later).
//
// What it changes from the unfused reference (S, P in memory, three kernels and two GEMMs):
// - One kernel; scores never leave registers. A CTA owns 128 query rows of one (batch, head),
//   8 warps of 16 rows each; each warp keeps its Q rows as mma A-fragments in registers
//   (loaded once through ldmatrix) and its O accumulator (16 x D, FP32) in registers.
// - K and V stream through shared memory in blocks of 64 keys, a 2-stage cp.async pipeline:
//   block n + 1 is in flight while the tensor cores work on block n. Rows are XOR-swizzled per
//   16-byte chunk (kernels/common/swizzle.cuh): conflict-free for the cp.async writes and for
//   ldmatrix (K, and V with .trans for the P V product).
// - Online softmax in registers (FlashAttention-2): a running row max and row sum per thread
//   (each thread holds 2 rows, reduced across the 4 lanes of a quad with two shuffles), scores
//   exponentiated as exp2(s * scale log2(e) - m scale log2(e)) with one FFMA and one MUFU.EX2;
//   the row sum stays a per-thread partial until the end. P is rounded to BF16 and reused as the
//   A-fragment of P V straight from the S accumulators (their layouts coincide), no shared memory.
// - Causal block skipping: key blocks past the diagonal of the CTA's last row are never loaded;
//   only blocks that hold the diagonal or the seq_kv tail are masked element by element. The
//   1-D grid deals blocks in attention_work_item's order: causal, every head's longest query
//   block before any head's shorter ones, so the grid's last wave is short.
// - GQA: the CTA reads KV head h / (Hq / Hkv); tails in seq_q and seq_kv are zero-filled by
//   cp.async (src-size 0) and masked; rows that see no key write O = 0, LSE = -inf.
// Output: O (BF16) written from the accumulators, 4-byte stores; LSE (FP32, natural log).
// - Since the H200 run: the O rescale is skipped by a warp whose rows' maxima all stayed put
//   (after the first blocks of a long row, most blocks).
// Registers (ptxas, nvcc 13.0): 226 (D = 128) and 156 (D = 64) on sm_80, 241 and 171 on sm_90a
// (205 and 212 at D = 128 when it was measured, before the 1-D grid, the shared template and the
// skipped rescale),
// no spills: one 256-thread CTA per SM by registers, 8 warps. Shared memory 96 KiB (D = 128),
// 48 KiB (D = 64).
//
// Measured (H200, results/h200-sxm/attention.log; batch 2, 16 heads, seq 8192, head_dim 128, L2
// cold): 299.0 TFLOP/s full (0.441x attention.cudnn), 279.8 TFLOP/s causal (0.448x).
//
// attention.fwd.mma_256, version 1b: the same kernel (FwdShape1b) on 256-row CTAs, 8 warps of
// 32 rows. Why: with 16 rows a warp reads every K and V fragment for one m16n8k16 each; at the
// H200's 299 TFLOP/s that is 63% of the SMs' 128 bytes per clock of shared memory, beside the
// softmax's MUFU work, with only two warps per scheduler to overlap them. With 32 rows each K and
// V fragment feeds two mma.sync, and Q (whose 32 rows of fragments no longer fit in registers) is
// re-read per k16 step: 40% fewer shared-memory bytes per FLOP, and two independent mma chains
// per fragment. FlashAttention-2's forward uses 32 rows per warp. At head_dim 128 the K/V blocks
// are 32 keys: O (128 FP32) and S (64 at 64 keys) spilled 64 bytes at 255 registers; with 32 keys
// it fits at 255 and 254 (sm_80, sm_90a), 240 and 242 at head_dim 64 (64-key blocks). Shared
// memory 96 KiB (D = 128) and 64 KiB (D = 64), one CTA per SM. Not yet run on a GPU; the target is
// FlashAttention-2's 330 TFLOP/s.
#include "kernels/attention/attention.cuh"
#include "kernels/common/ptx.cuh"
#include "kernels/common/swizzle.cuh"

#include <cmath>
#include <cstddef>
#include <cstdint>

namespace trainbench::kernels {
namespace {

// A kernel's shape: kWarps warps of kRowTiles m16 tiles of query rows each (version 1: 8 x 1,
// Q in registers; version 1b: 8 x 2, Q re-read from shared memory per k16 step), and the keys
// per pipeline stage. Version 1b at head_dim 128 takes 32 keys: its O (128 FP32 registers) and
// S (64 at 64 keys) spilled 64 bytes at 255 registers.
template <int kRowTiles_, int kWarps_>
struct FwdShape {
  static constexpr int kRowTiles = kRowTiles_, kWarps = kWarps_;
  static constexpr int kBlockM = 16 * kRowTiles * kWarps;  // query rows per CTA
  static constexpr int kThreads = kWarps * 32;
  static constexpr bool kQInRegisters = kRowTiles == 1;
  template <int kHeadDim>
  static constexpr int kBlockN = kRowTiles == 2 && kHeadDim == 128 ? 32 : kAttentionFwdMmaBlockN;
};
using FwdShape1 = FwdShape<1, kAttentionFwdMmaBlockM / 16>;
using FwdShape1b = FwdShape<2, 8>;
static_assert(FwdShape1::kBlockM == kAttentionFwdMmaBlockM && FwdShape1b::kBlockM == kAttentionFwdMma256BlockM);

constexpr int kStages = 2;

template <int kHeadDim, int kBlockM, int kBlockN>
struct FwdTiles {
  static constexpr int kChunks = kHeadDim / 8;                  // 16-byte chunks per row
  static constexpr int kQBytes = kBlockM * kHeadDim * 2;
  static constexpr int kKvBytes = kBlockN * kHeadDim * 2;       // K or V, one stage
  // 96 KiB at D = 128, 48 KiB at 64 (version 1); 96 and 64 KiB (version 1b).
  static constexpr int kSmemBytes = kQBytes + kStages * 2 * kKvBytes;
};

// kRows rows of a (row-major, `stride` elements apart) BF16 matrix into a swizzled tile; rows
// from valid_rows on are zero-filled. Consecutive threads take consecutive chunks of a row.
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

template <int kHeadDim, typename Shape>
__global__ void __launch_bounds__(Shape::kThreads, 1)
attention_fwd_mma_sm80_kernel(const __nv_bfloat16* __restrict__ q, const __nv_bfloat16* __restrict__ k,
                              const __nv_bfloat16* __restrict__ v, __nv_bfloat16* __restrict__ o,
                              float* __restrict__ lse, AttentionShape shape, float scale) {
  constexpr int kRowTiles = Shape::kRowTiles, kBlockM = Shape::kBlockM, kThreads = Shape::kThreads;
  constexpr int kBlockN = Shape::template kBlockN<kHeadDim>;
  static_assert(kBlockN % 16 == 0);
  using Tiles = FwdTiles<kHeadDim, kBlockM, kBlockN>;
  constexpr int kChunks = Tiles::kChunks;
  constexpr int kDSteps = kHeadDim / 16;  // k16 steps of Q K^T
  constexpr int kDTiles = kHeadDim / 8;   // n8 tiles of O
  constexpr int kNTiles = kBlockN / 8;    // n8 tiles of S
  constexpr int kNSteps = kBlockN / 16;   // k16 steps of P V

  extern __shared__ __align__(128) unsigned char smem[];
  const std::uint32_t q_tile = ptx::smem_addr(smem);
  const auto k_tile = [&](int stage) { return q_tile + std::uint32_t(Tiles::kQBytes + stage * 2 * Tiles::kKvBytes); };
  const auto v_tile = [&](int stage) { return k_tile(stage) + std::uint32_t(Tiles::kKvBytes); };

  const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32;
  const int m_blocks = attention_ceil_div(shape.seq_q, kBlockM);
  const AttentionWorkItem item = attention_work_item(int(blockIdx.x), m_blocks, shape.heads_q, shape.batch,
                                                     shape.causal);
  const int m_block = m_blocks - 1 - item.rank;
  const int h = item.head, b = item.batch;
  const int hk = h / (shape.heads_q / shape.heads_kv);
  const int row0 = m_block * kBlockM;
  const int seq_q = shape.seq_q, seq_kv = shape.seq_kv;
  const std::size_t q_stride = std::size_t(shape.heads_q) * kHeadDim;
  const std::size_t kv_stride = std::size_t(shape.heads_kv) * kHeadDim;
  const __nv_bfloat16* q_base = q + (std::size_t(b) * seq_q + row0) * q_stride + std::size_t(h) * kHeadDim;
  const std::size_t kv_head = std::size_t(b) * seq_kv * kv_stride + std::size_t(hk) * kHeadDim;

  const int n_end = attention_kv_block_end(row0, kBlockM, kBlockN, seq_q, seq_kv, shape.causal);
  const int n_first_masked = attention_first_masked_block(row0, kBlockN, seq_q, seq_kv, shape.causal);
  const float scale_log2 = scale * 1.4426950408889634f;  // log2(e): exp(x) = exp2(x log2(e))

  const auto load_kv = [&](int n) {
    const int stage = n % kStages;
    const std::size_t at = kv_head + std::size_t(n) * kBlockN * kv_stride;
    load_rows<kBlockN, kChunks, kThreads>(k_tile(stage), k + at, kv_stride, seq_kv - n * kBlockN, tid);
    load_rows<kBlockN, kChunks, kThreads>(v_tile(stage), v + at, kv_stride, seq_kv - n * kBlockN, tid);
  };

  load_rows<kBlockM, kChunks, kThreads>(q_tile, q_base, q_stride, seq_q - row0, tid);
  if (n_end > 0) load_kv(0);
  ptx::cp_async_commit();
  ptx::cp_async_wait<0>();
  __syncthreads();

  // This warp's query rows: m16 tile mt is rows warp_row0 + 16 mt .. + 15. Its A-fragment for k16
  // step ks: kept in registers in version 1 (16 rows), read again from the Q tile (which stays in
  // shared memory, never overwritten) in version 1b, where 32 rows' fragments would not fit.
  const int warp_row0 = warp * 16 * kRowTiles;
  const auto q_fragment = [&](std::uint32_t (&frag)[4], int mt, int ks) {
    ptx::ldmatrix_x4(frag, q_tile + swizzle_xor_chunk<kChunks>(warp_row0 + 16 * mt + (lane & 15), 2 * ks + (lane >> 4)));
  };
  std::uint32_t q_frag[Shape::kQInRegisters ? kDSteps : 1][4];
  if constexpr (Shape::kQInRegisters) {
#pragma unroll
    for (int ks = 0; ks < kDSteps; ++ks) q_fragment(q_frag[ks], 0, ks);
  }

  // Accumulator element e of an m16n8 tile sits at row lane/4 + 8 (e / 2), column 2 (lane % 4) + e % 2:
  // this thread's two rows ("halves") of m16 tile mt are lane/4 and lane/4 + 8 of its 16.
  float o_acc[kRowTiles][kDTiles][4] = {};
  float row_max[kRowTiles][2];  // raw scores (unscaled)
  float row_sum[kRowTiles][2];  // this thread's partial sums
#pragma unroll
  for (int mt = 0; mt < kRowTiles; ++mt)
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      row_max[mt][half] = -INFINITY;
      row_sum[mt][half] = 0.f;
    }
  const int my_row = row0 + warp_row0 + lane / 4;  // + 16 mt + 8 half

  for (int n = 0; n < n_end; ++n) {
    ptx::cp_async_wait<0>();
    __syncthreads();  // block n visible to all; every warp is done with block n - 1's stage
    if (n + 1 < n_end) load_kv(n + 1);
    ptx::cp_async_commit();
    const int stage = n % kStages;

    // S = Q K^T for the warp's rows x kBlockN keys; each K fragment serves every m16 tile.
    float s_acc[kRowTiles][kNTiles][4] = {};
#pragma unroll
    for (int ks = 0; ks < kDSteps; ++ks) {
      std::uint32_t qf[kRowTiles][4];
#pragma unroll
      for (int mt = 0; mt < kRowTiles; ++mt) {
        if constexpr (Shape::kQInRegisters) {
#pragma unroll
          for (int r = 0; r < 4; ++r) qf[mt][r] = q_frag[ks][r];
        } else {
          q_fragment(qf[mt], mt, ks);
        }
      }
#pragma unroll
      for (int nt = 0; nt < kNTiles; nt += 2) {
        // matrix j: keys +8 (j >> 1), head dims +8 (j & 1); regs 0-1 the first n8 tile, 2-3 the second
        std::uint32_t kf[4];
        ptx::ldmatrix_x4(kf, k_tile(stage) + swizzle_xor_chunk<kChunks>(8 * nt + (lane & 7) + 8 * (lane >> 4),
                                                                        2 * ks + ((lane >> 3) & 1)));
#pragma unroll
        for (int mt = 0; mt < kRowTiles; ++mt) {
          ptx::mma_m16n8k16_bf16(s_acc[mt][nt], qf[mt], {kf[0], kf[1]});
          ptx::mma_m16n8k16_bf16(s_acc[mt][nt + 1], qf[mt], {kf[2], kf[3]});
        }
      }
    }

    if (n >= n_first_masked) {
#pragma unroll
      for (int mt = 0; mt < kRowTiles; ++mt)
#pragma unroll
        for (int half = 0; half < 2; ++half) {
          const int visible = attention_visible_keys(my_row + 16 * mt + 8 * half, seq_q, seq_kv, shape.causal);
#pragma unroll
          for (int nt = 0; nt < kNTiles; ++nt)
#pragma unroll
            for (int e = 0; e < 2; ++e)
              if (n * kBlockN + 8 * nt + 2 * (lane % 4) + e >= visible) s_acc[mt][nt][2 * half + e] = -INFINITY;
        }
    }

    // Online softmax: new row max, P = exp2(...) in place, then rescale what was accumulated.
    float correction[kRowTiles][2];
#pragma unroll
    for (int mt = 0; mt < kRowTiles; ++mt)
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        float mx = row_max[mt][half];
#pragma unroll
        for (int nt = 0; nt < kNTiles; ++nt)
          mx = fmaxf(mx, fmaxf(s_acc[mt][nt][2 * half], s_acc[mt][nt][2 * half + 1]));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
        // A row with nothing visible yet keeps max -inf: subtract 0 so that exp2(-inf) = 0, not NaN.
        const float m_scaled = mx == -INFINITY ? 0.f : mx * scale_log2;
        // A max that did not move gives exactly 1: computed, the exponent would be the rounding
        // error of the fused multiply-add (ptxas fuses it), not 0, and a settled row's sum and O
        // would be scaled by a factor a few ulps from 1 at every block.
        correction[mt][half] =
            row_max[mt][half] == mx ? 1.f : ptx::ex2_approx(row_max[mt][half] * scale_log2 - m_scaled);
        row_max[mt][half] = mx;
        float sum = 0.f;
#pragma unroll
        for (int nt = 0; nt < kNTiles; ++nt)
#pragma unroll
          for (int e = 0; e < 2; ++e) {
            float& x = s_acc[mt][nt][2 * half + e];
            x = ptx::ex2_approx(fmaf(x, scale_log2, -m_scaled));
            sum += x;
          }
        row_sum[mt][half] = row_sum[mt][half] * correction[mt][half] + sum;
      }
    // Once a row's max has settled (after the first few blocks of a long row) its correction is
    // exactly 1: the warp skips the O rescale (kRowTiles x kDTiles x 4 FMULs a thread) unless one
    // of its rows' max moved. Exact: only factors of exactly 1 are skipped.
    bool moved = false;
#pragma unroll
    for (int mt = 0; mt < kRowTiles; ++mt) moved |= correction[mt][0] != 1.f || correction[mt][1] != 1.f;
    if (__any_sync(0xffffffffu, moved)) {
#pragma unroll
      for (int mt = 0; mt < kRowTiles; ++mt)
#pragma unroll
        for (int dt = 0; dt < kDTiles; ++dt)
#pragma unroll
          for (int e = 0; e < 4; ++e) o_acc[mt][dt][e] *= correction[mt][e / 2];
    }

    // O += P V. The S accumulators of n8 tiles 2kk and 2kk+1 are the A-fragment of k16 step kk;
    // each V fragment serves every m16 tile.
#pragma unroll
    for (int kk = 0; kk < kNSteps; ++kk) {
      std::uint32_t p_frag[kRowTiles][4];
#pragma unroll
      for (int mt = 0; mt < kRowTiles; ++mt) {
        const float(&lo)[4] = s_acc[mt][2 * kk];
        const float(&hi)[4] = s_acc[mt][2 * kk + 1];
        p_frag[mt][0] = ptx::pack_bf16x2(lo[0], lo[1]);
        p_frag[mt][1] = ptx::pack_bf16x2(lo[2], lo[3]);
        p_frag[mt][2] = ptx::pack_bf16x2(hi[0], hi[1]);
        p_frag[mt][3] = ptx::pack_bf16x2(hi[2], hi[3]);
      }
#pragma unroll
      for (int dt = 0; dt < kDTiles; dt += 2) {
        // V stored [key][d]: transposed on the way in. matrix j: keys +8 (j & 1), head dims +8 (j >> 1).
        std::uint32_t vf[4];
        ptx::ldmatrix_x4_trans(vf, v_tile(stage) + swizzle_xor_chunk<kChunks>(
                                                       16 * kk + (lane & 7) + 8 * ((lane >> 3) & 1), dt + (lane >> 4)));
#pragma unroll
        for (int mt = 0; mt < kRowTiles; ++mt) {
          ptx::mma_m16n8k16_bf16(o_acc[mt][dt], p_frag[mt], {vf[0], vf[1]});
          ptx::mma_m16n8k16_bf16(o_acc[mt][dt + 1], p_frag[mt], {vf[2], vf[3]});
        }
      }
    }
  }
  ptx::cp_async_wait<0>();

#pragma unroll
  for (int mt = 0; mt < kRowTiles; ++mt)
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      float l = row_sum[mt][half];
      l += __shfl_xor_sync(0xffffffffu, l, 1);
      l += __shfl_xor_sync(0xffffffffu, l, 2);
      const int row = my_row + 16 * mt + 8 * half;
      if (row >= seq_q) continue;
      const float inv = l > 0.f ? 1.f / l : 0.f;
      __nv_bfloat16* o_row = o + (std::size_t(b) * seq_q + row) * q_stride + std::size_t(h) * kHeadDim;
#pragma unroll
      for (int dt = 0; dt < kDTiles; ++dt)
        *reinterpret_cast<__nv_bfloat162*>(o_row + 8 * dt + 2 * (lane % 4)) =
            __floats2bfloat162_rn(o_acc[mt][dt][2 * half] * inv, o_acc[mt][dt][2 * half + 1] * inv);
      if (lane % 4 == 0)
        lse[(std::size_t(b) * shape.heads_q + h) * seq_q + row] =
            l > 0.f ? row_max[mt][half] * scale + logf(l) : -INFINITY;
    }
}

template <int kHeadDim, typename Shape>
void launch(const AttentionFwdArgs& args, cudaStream_t stream) {
  const auto kernel = attention_fwd_mma_sm80_kernel<kHeadDim, Shape>;
  constexpr int kSmemBytes = FwdTiles<kHeadDim, Shape::kBlockM, Shape::template kBlockN<kHeadDim>>::kSmemBytes;
  // Above 48 KiB of dynamic shared memory needs an opt-in, once per kernel (errors surface at the
  // launch, which the caller checks).
  static const cudaError_t opt_in =
      cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kSmemBytes);
  (void)opt_in;
  const AttentionShape& s = args.shape;
  const unsigned grid = unsigned(attention_ceil_div(s.seq_q, Shape::kBlockM) * s.heads_q * s.batch);
  kernel<<<grid, Shape::kThreads, kSmemBytes, stream>>>(args.q, args.k, args.v, args.o, args.lse, s,
                                                        float(1.0 / std::sqrt(double(kHeadDim))));
}

template <typename Shape>
void launch_for_head_dim(const AttentionFwdArgs& args, cudaStream_t stream) {
  if (args.shape.head_dim == 64) launch<64, Shape>(args, stream);
  else if (args.shape.head_dim == 128) launch<128, Shape>(args, stream);
}

}  // namespace

void attention_fwd_mma_sm80(const AttentionFwdArgs& args, cudaStream_t stream) {
  launch_for_head_dim<FwdShape1>(args, stream);
}
void attention_fwd_mma_256_sm80(const AttentionFwdArgs& args, cudaStream_t stream) {
  launch_for_head_dim<FwdShape1b>(args, stream);
}

}  // namespace trainbench::kernels
