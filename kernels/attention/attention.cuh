// Scaled dot-product attention: the problem every kernel in kernels/attention/ solves, the
// block arithmetic they share (host and device, so the CPU tests check it), and their entry
// points, simplest first (kernels/attention/README.md lists what each version changes).
//
// BF16 tensors in layout (batch, seq, heads, head_dim), row-major: q is (B, Sq, Hq, D), k and v
// are (B, Sk, Hkv, D), o and do like q. heads_kv divides heads_q; query head h reads KV head
// h / (heads_q / heads_kv) (GQA; heads_kv = 1 is MQA). Softmax scale 1 / sqrt(D). The
// log-sum-exp of each row's scaled scores (natural log, FP32) is (B, Hq, Sq).
// Causal masks are aligned to the bottom right, as FlashAttention's: query i sees keys
// j <= i + (Sk - Sq). A row that sees no key (Sq > Sk) has O = 0 and LSE = -inf.
#pragma once
#include <cstddef>

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

namespace trainbench::kernels {

struct AttentionShape {
  int batch = 1, heads_q = 1, heads_kv = 1, seq_q = 0, seq_kv = 0, head_dim = 128;
  bool causal = false;
};

__host__ __device__ constexpr int attention_ceil_div(int a, int b) { return (a + b - 1) / b; }

// Keys [0, n) that query row i sees.
__host__ __device__ constexpr int attention_visible_keys(int i, int seq_q, int seq_kv, bool causal) {
  if (!causal) return seq_kv;
  const int last = i + seq_kv - seq_q;  // the last key row i sees; < 0: none
  return last < 0 ? 0 : (last + 1 < seq_kv ? last + 1 : seq_kv);
}

// The key blocks (of block_n keys) that query rows [row0, row0 + rows) must visit: [0, end).
// Blocks past it are wholly masked for every one of those rows (causal block skipping).
__host__ __device__ constexpr int attention_kv_block_end(int row0, int rows, int block_n, int seq_q, int seq_kv,
                                                        bool causal) {
  const int last_row = (row0 + rows < seq_q ? row0 + rows : seq_q) - 1;
  return attention_ceil_div(attention_visible_keys(last_row, seq_q, seq_kv, causal), block_n);
}

// Key blocks [0, first) need no element mask for any of rows row0, row0 + 1, ...: every key in
// them exists and is visible to row0, hence to every later row. Blocks from `first` on hold the
// causal diagonal or the seq_kv tail and are masked element by element.
__host__ __device__ constexpr int attention_first_masked_block(int row0, int block_n, int seq_q, int seq_kv,
                                                              bool causal) {
  return attention_visible_keys(row0, seq_q, seq_kv, causal) / block_n;
}

// The first query row that sees any key of [key0, ...): rows before it skip the key block
// (the backward's causal block skipping, from the keys' side).
__host__ __device__ constexpr int attention_first_row_seeing(int key0, int seq_q, int seq_kv, bool causal) {
  if (!causal) return 0;
  const int first = key0 - (seq_kv - seq_q);
  return first < 0 ? 0 : first;
}

// Whether a backward tile of query rows row0, row0 + 1, ... and keys [key0, key0 + keys) needs
// the element mask: its first row misses one of its keys (the causal diagonal, or keys past
// seq_kv). Later rows see at least as many keys, so otherwise every pair of the tile is visible.
__host__ __device__ constexpr bool attention_bwd_tile_needs_mask(int row0, int key0, int keys, int seq_q, int seq_kv,
                                                                 bool causal) {
  return attention_visible_keys(row0, seq_q, seq_kv, causal) < key0 + keys;
}

// The order in which every kernel here deals its CTAs' work: item t of blocks * heads * batch is
// the block of rank `rank` of head `head` of batch `batch`, where rank 0 is a head's longest block
// under a causal mask (the forward's last query block, the backward's first key block) and the
// work falls with the rank. The hardware starts a grid's CTAs in index order and a persistent grid
// deals them the same way, so the order decides what runs in the last wave.
// - Causal: rank-major, the heads inner (heads sharing a KV head side by side): every head's
//   longest block before any head's second, so the last wave holds the shortest blocks. Head-major
//   (each head longest first, one head after another) left the longest CTA of a one-CTA-per-block
//   grid at 1.23 times the mean's work for Llama 3 70B per GPU (8 heads, seq 8192, 64 blocks of
//   128 rows, 132 SMs; ranked: 1.00. tests/test_attention.cpp models both). That accounts for
//   most of the gap between attention.fwd.wgmma's 497 TFLOP/s there and its 657 at 16 heads of
//   seq 16384, where head-major was already balanced (H200, results/h200-sxm/attention.log).
//   Concurrent CTAs of one head then sit at one rank and read its K and V in step, so L2 still
//   serves most of those reads.
// - Full: head-major; every block is the same work, and a head's consecutive blocks share its K
//   and V in L2.
struct AttentionWorkItem {
  int rank, head, batch;
};
__host__ __device__ constexpr AttentionWorkItem attention_work_item(int t, int blocks, int heads, int batches,
                                                                  bool causal) {
  if (causal) {
    const int bh = t % (heads * batches);
    return {.rank = t / (heads * batches), .head = bh % heads, .batch = bh / heads};
  }
  return {.rank = t % blocks, .head = t / blocks % heads, .batch = t / blocks / heads};
}

struct AttentionFwdArgs {
  const __nv_bfloat16* q = nullptr;
  const __nv_bfloat16* k = nullptr;
  const __nv_bfloat16* v = nullptr;
  __nv_bfloat16* o = nullptr;
  float* lse = nullptr;
  AttentionShape shape;
};

// 1. FlashAttention-2 forward on mma.sync m16n8k16, sm_80+ (1_sm80_flash_fwd_mma.cu): a CTA of
//    kAttentionFwdMmaBlockM query rows (16 per warp, Q held in registers) streams blocks of
//    kAttentionFwdMmaBlockN keys through a 2-stage cp.async pipeline. head_dim 64 or 128 (any
//    other launches nothing: the impl refuses it first); any seq_q, seq_kv; 16-byte-aligned
//    pointers.
inline constexpr int kAttentionFwdMmaBlockM = 128;
inline constexpr int kAttentionFwdMmaBlockN = 64;
__host__ __device__ constexpr bool attention_mma_supports_head_dim(int d) { return d == 64 || d == 128; }
void attention_fwd_mma_sm80(const AttentionFwdArgs& args, cudaStream_t stream);
// 1b. The same on 256-row CTAs, 8 warps of 32 rows (two m16 tiles sharing every K and V
//     fragment: 40% fewer shared-memory bytes per FLOP), Q re-read from shared memory per k16
//     step (FlashAttention-2's own forward tile). 96 KiB of shared memory at head_dim 128
//     (32-key blocks), 64 KiB at 64.
inline constexpr int kAttentionFwdMma256BlockM = 256;
void attention_fwd_mma_256_sm80(const AttentionFwdArgs& args, cudaStream_t stream);

// 2. FlashAttention-2 backward on mma.sync m16n8k16, sm_80+ (2_sm80_flash_bwd_mma.cu): a
//    preprocessing kernel (D = rowsum(dO * O), the LSE in base 2, dQ's FP32 accumulator zeroed),
//    the main kernel with one CTA per (block of kAttentionBwdMmaBlockN keys, query head, batch)
//    looping over the query blocks of kAttentionBwdMmaBlockM rows that see its keys (dK, dV in
//    registers; dQ by FP32 atomics, and dK, dV too under GQA), and a kernel converting the
//    FP32 accumulators to BF16. head_dim 64 or 128 (attention_mma_supports_head_dim).
inline constexpr int kAttentionBwdMmaBlockM = 64;  // query rows per step of the main loop
inline constexpr int kAttentionBwdMmaBlockN = 64;  // keys per CTA (16 per warp)

// The backward's scratch, one allocation of `bytes` (16-byte aligned): dQ's FP32 accumulator
// (B, Sq, Hq, D) at 0, then per (batch, head) and query row, padded to a multiple of
// kAttentionBwdRowPadding rows (whole query blocks of every version), the LSE times log2(e)
// (+inf for rows that see no key and for the padding, so that their P is 0) and D =
// rowsum(dO * O) (0 for the padding). Under GQA, FP32 accumulators for dK and dV (B, Sk, Hkv,
// D) follow (dk_offset, dv_offset; 0 and no bytes otherwise): both versions then run a CTA per
// query head, each adding its share of its KV head's dK and dV.
inline constexpr int kAttentionBwdRowPadding = 128;
struct AttentionBwdWorkspace {
  std::size_t seq_q_padded = 0;
  std::size_t lse_log2_offset = 0, d_offset = 0, dk_offset = 0, dv_offset = 0, bytes = 0;
};
__host__ __device__ constexpr AttentionBwdWorkspace attention_bwd_workspace(const AttentionShape& s) {
  AttentionBwdWorkspace w;
  w.seq_q_padded = std::size_t(attention_ceil_div(s.seq_q, kAttentionBwdRowPadding)) * kAttentionBwdRowPadding;
  const std::size_t rows = std::size_t(s.batch) * std::size_t(s.heads_q);
  w.lse_log2_offset = rows * std::size_t(s.seq_q) * std::size_t(s.head_dim) * 4;
  w.d_offset = w.lse_log2_offset + rows * w.seq_q_padded * 4;
  w.bytes = w.d_offset + rows * w.seq_q_padded * 4;
  if (s.heads_q == s.heads_kv) return w;
  const std::size_t kv = std::size_t(s.batch) * std::size_t(s.seq_kv) * std::size_t(s.heads_kv) *
                         std::size_t(s.head_dim) * 4;
  w.dk_offset = w.bytes;
  w.dv_offset = w.dk_offset + kv;
  w.bytes = w.dv_offset + kv;
  return w;
}

struct AttentionBwdArgs {
  const __nv_bfloat16* q = nullptr;
  const __nv_bfloat16* k = nullptr;
  const __nv_bfloat16* v = nullptr;
  const __nv_bfloat16* o = nullptr;    // the forward's output
  const float* lse = nullptr;          // the forward's LSE (natural log, (B, Hq, Sq))
  const __nv_bfloat16* d_o = nullptr;  // dL/dO, shaped like q
  __nv_bfloat16* dq = nullptr;         // shaped like q
  __nv_bfloat16* dk = nullptr;         // shaped like k (summed over each KV head's query heads)
  __nv_bfloat16* dv = nullptr;         // shaped like v
  void* workspace = nullptr;           // attention_bwd_workspace(shape).bytes, 16-byte aligned
  AttentionShape shape;
};
void attention_bwd_mma_sm80(const AttentionBwdArgs& args, cudaStream_t stream);
// 2b. The same main kernel on 128 keys per CTA (8 warps; dQ split between two warps per 16 query
//     rows by head dimension): half the dQ atomics and Q/dO loads per key. 145 KiB of shared
//     memory at head_dim 128, which GPUs with 99 KiB per block (sm_86, sm_89) cannot give, and
//     81 KiB at 64, which they can.
inline constexpr int kAttentionBwdMma128BlockN = 128;
// Its shared memory: K, V; 2 stages of Q, dO and 64-row LSE and D; dS^T.
constexpr int attention_bwd_mma_128_smem_bytes(int head_dim) {
  return 2 * kAttentionBwdMma128BlockN * head_dim * 2 +
         2 * (2 * kAttentionBwdMmaBlockM * head_dim * 2 + 2 * kAttentionBwdMmaBlockM * 4) +
         kAttentionBwdMma128BlockN * kAttentionBwdMmaBlockM * 2;
}
void attention_bwd_mma_128_sm80(const AttentionBwdArgs& args, cudaStream_t stream);

// The first and last kernels of versions 2 and 4 (flash_bwd_pre_post.cu). Preprocessing: D, the
// base-2 LSE and dQ's zeroed accumulator into args.workspace, and under GQA dK's and dV's
// accumulators zeroed (throws std::runtime_error when that fails). Finishing: dQ = scale * its
// accumulator rounded to BF16, and under GQA dK (scaled) and dV likewise from theirs.
void attention_bwd_preprocess(const AttentionBwdArgs& args, cudaStream_t stream);
void attention_bwd_finish(const AttentionBwdArgs& args, cudaStream_t stream);

// 3. FlashAttention-3 forward on wgmma, sm_90a only (3_sm90_flash_fwd_wgmma.cu): TMA loads of Q
//    and a K/V ring on mbarriers, a producer warpgroup and consumer warpgroups of 64 query rows
//    each (2 at head_dim 128, 3 at 64), S = Q K^T and O += P V on wgmma with P in registers,
//    softmax overlapped with the GEMMs across and within warpgroups. Same arguments, outputs and
//    LSE convention as version 1. head_dim 64 or 128 (any other launches nothing: the impl refuses
//    it first); any seq_q, seq_kv; 16-byte-aligned pointers. Throws std::runtime_error when the
//    driver cannot encode the TMA descriptors.
// Keys per block: 176 at head_dim 128 without a causal mask (FlashAttention-3's block there: a
// third fewer rounds of softmax, rescaling and hand-over per key; S's 88 accumulators still fit
// beside O's 64 and P's 44 in 240 registers), 128 otherwise (causal blocks skip by 128; at
// head_dim 64 three consumers have 160 registers each).
__host__ __device__ constexpr int attention_fwd_wgmma_block_n(int head_dim, bool causal) {
  return head_dim == 128 && !causal ? 176 : 128;
}
__host__ __device__ constexpr int attention_fwd_wgmma_block_m(int head_dim) { return head_dim == 64 ? 192 : 128; }
__host__ __device__ constexpr bool attention_wgmma_supports_head_dim(int d) { return d == 64 || d == 128; }
void attention_fwd_wgmma_sm90(const AttentionFwdArgs& args, cudaStream_t stream);
// The same kernel on a persistent grid (attention.fwd.wgmma_persistent): one CTA per SM (at most
// one per tile) walks its tiles (attention_fwd_wgmma_walk); its producer loads the next tile's Q
// and first K/V blocks while the consumers finish the last P V and store the tile before.
// attention_fwd_wgmma_sm90 is this with one CTA per tile; _on_ctas_sm90 takes the CTA count
// (min(ctas, tiles); the tests walk every tile with 1 or 7 CTAs).
void attention_fwd_wgmma_persistent_sm90(const AttentionFwdArgs& args, cudaStream_t stream);
void attention_fwd_wgmma_on_ctas_sm90(const AttentionFwdArgs& args, int ctas, cudaStream_t stream);

// Version 3's tiles: blocks of attention_fwd_wgmma_block_m(head_dim) query rows of one (batch,
// query head), tile t being attention_work_item t (above): with M m-blocks per head, m-block
// M - 1 - rank, the longest causal blocks first.
// CTA `cta` of `ctas` takes tile attention_fwd_wgmma_walk(cta, ctas, r) in round r = 0, 1, ...
// while r ctas < tiles, skipping indices past the last tile: a snake, cta in even rounds and
// ctas - 1 - cta in odd ones, so that a CTA given one of the longer blocks of a round gets one
// of the shorter of the next. In plain rounds of head-major tiles, with a head's m-block count
// dividing the CTA count (4 at seq 512 on 132 SMs), a CTA would always get the same m-block: the
// longest CTA then did 1.47 times the mean's work at seq 512 causal (the tests model it).
__host__ __device__ constexpr int attention_fwd_wgmma_walk(int cta, int ctas, int round) {
  return round * ctas + (round % 2 ? ctas - 1 - cta : cta);
}

struct AttentionFwdTile {
  int row0, head, head_kv, batch;
};
__host__ __device__ constexpr int attention_fwd_wgmma_tiles(const AttentionShape& s) {
  return attention_ceil_div(s.seq_q, attention_fwd_wgmma_block_m(s.head_dim)) * s.heads_q * s.batch;
}
__host__ __device__ constexpr AttentionFwdTile attention_fwd_wgmma_tile(const AttentionShape& s, int t) {
  const int block_m = attention_fwd_wgmma_block_m(s.head_dim);
  const int m_blocks = attention_ceil_div(s.seq_q, block_m);
  const AttentionWorkItem item = attention_work_item(t, m_blocks, s.heads_q, s.batch, s.causal);
  return {.row0 = (m_blocks - 1 - item.rank) * block_m,
          .head = item.head,
          .head_kv = item.head / (s.heads_q / s.heads_kv),
          .batch = item.batch};
}

// 4. FlashAttention-3-style backward on wgmma, sm_90a only (4_sm90_flash_bwd_wgmma.cu): the
//    preprocessing and conversion kernels of version 2 around a main kernel with one CTA per
//    (block of kAttentionBwdWgmmaBlockN keys, query head, batch): TMA loads of K and V once and
//    of Q, dO, LSE and D per query block through a ring of stages on mbarriers; a producer
//    warpgroup and two consumer warpgroups of 64 keys (dK, dV in registers); S^T, dP^T, dV, dK,
//    dQ on wgmma; dQ added into its FP32 accumulator by TMA reductions. Under GQA each query head
//    has its own CTAs, adding dK and dV into FP32 accumulators (the workspace below) that the
//    conversion kernel rounds. Same arguments and outputs as version 2. head_dim 64 or 128
//    (attention_wgmma_supports_head_dim); any seq_q, seq_kv. Throws std::runtime_error when the
//    driver cannot encode the TMA descriptors or the GQA accumulators cannot be zeroed.
inline constexpr int kAttentionBwdWgmmaBlockN = 128;
__host__ __device__ constexpr int attention_bwd_wgmma_block_m(int head_dim) { return head_dim == 64 ? 128 : 64; }
void attention_bwd_wgmma_sm90(const AttentionBwdArgs& args, cudaStream_t stream);

}  // namespace trainbench::kernels
