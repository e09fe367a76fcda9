// Scaled (quantized) GEMM: the problem the FP8 kernels in kernels/quant/ solve, their entry points,
// and the host-and-device arithmetic of scales and promotion that the CPU tests check.
//
//   C(i, j) = sum_p (a[i, p] sa(i, p)) (b[j, p] sb(j, p))      i < m, j < n, p < k
//
// a is [m][k] and b is [n][k], both K-major (the only layout FP8 wgmma takes; cuBLAS calls it
// "tn"), E4M3 or s8 bytes. C is column-major like kernels/gemm/gemm.cuh: C(i, j) = c[j m + i].
// Scales are FP32 in the layouts kernels/quant/quantize.cuh writes:
//   a: "1x128"  sa(i, p) = a_scales[(p / 128) m + i]        [ceil(k / 128)][m]
//      "row"    sa(i, p) = a_scales[i]
//      "tensor" sa(i, p) = a_scales[0]
//   b: "128x128" sb(j, p) = b_scales[(j / 128) ceil(k / 128) + p / 128]   [ceil(n / 128)][ceil(k / 128)]
//      "col"     sb(j, p) = b_scales[j]
//      "tensor"  sb(j, p) = b_scales[0]
// Every layout is one formula with strides (ScaleStrides), which the kernels use as is.
#pragma once
#include <cstddef>
#include <cstdint>

#include <cuda_runtime_api.h>

#include "kernels/common/sm90_layout.cuh"

namespace trainbench::kernels {

enum class AScale { Group1x128, Row, Tensor };
enum class BScale { Block128x128, Col, Tensor };

inline constexpr int kScaleBlock = 128;  // elements of k (and of n for 128x128) per scale

__host__ __device__ constexpr int scale_blocks(int extent) { return (extent + kScaleBlock - 1) / kScaleBlock; }

// Scale (row, p) sits at scales[(p / 128) per_k_block + (row / row_block) per_row_block]:
// row_block 1 for per-row scales (a's rows, b's columns), 128 for 128x128 blocks.
struct ScaleStrides {
  std::int64_t per_k_block = 0, per_row_block = 0;
  int row_block = 1;

  __host__ __device__ constexpr std::int64_t index(int row, int k_block) const {
    return static_cast<std::int64_t>(k_block) * per_k_block + static_cast<std::int64_t>(row / row_block) * per_row_block;
  }
};

__host__ __device__ constexpr ScaleStrides a_scale_strides(AScale s, int m) {
  switch (s) {
    case AScale::Group1x128: return {m, 1, 1};
    case AScale::Row: return {0, 1, 1};
    case AScale::Tensor: return {0, 0, 1};
  }
  return {};
}
__host__ __device__ constexpr ScaleStrides b_scale_strides(BScale s, int k) {
  switch (s) {
    case BScale::Block128x128: return {1, scale_blocks(k), kScaleBlock};
    case BScale::Col: return {0, 1, 1};
    case BScale::Tensor: return {0, 0, 1};
  }
  return {};
}

struct ScaledGemmArgs {
  const std::uint8_t* a = nullptr;  // [m][k]
  const std::uint8_t* b = nullptr;  // [n][k]
  const float* a_scales = nullptr;
  const float* b_scales = nullptr;
  void* c = nullptr;  // column-major m x n: __nv_bfloat16, or float where c_f32
  bool c_f32 = false;
  bool s8 = false;  // operands are int8 rather than E4M3 (the reference only)
  int m = 0, n = 0, k = 0;
  AScale a_scale = AScale::Group1x128;
  BScale b_scale = BScale::Block128x128;
  // fp8_gemm_wgmma_sm90 and int8_gemm_mma_sm80: the number of parts k is split into
  // (k_split_range), each summed by its own CTAs into `workspace` (FP32 or s32,
  // split_k_workspace_bytes), then added in split order into c by a second kernel. 1: no split,
  // no workspace.
  int k_splits = 1;
  void* workspace = nullptr;
};

// The oracle: every operand element dequantized (value times its scale) and the products summed
// in FP64 in k order, one thread per output, 16x16 shared-memory tiles; FP32 output at `c`
// (c_f32 is ignored). Any shape, any scale layout, E4M3 or s8. Obviously correct, not fast.
void scaled_gemm_reference(const ScaledGemmArgs& args, cudaStream_t stream);

// ---- fp8gemm.wgmma (sm90_fp8_gemm_1d2d.cu), sm_90a only -----------------------------------
// E4M3 x E4M3 wgmma m64n128k32, CTA tile 128 (m) x 128 (n) x 128 (k), TMA + mbarrier ring,
// one producer and two consumer warpgroups (setmaxnreg), persistent over a grouped tile order.
//
// Promotion (DeepSeek-V3, section 3.3): a k-block of 128 is four k32 wgmmas accumulating in the
// tensor core; then that partial sum, times sa(row) sb(block), is added with FFMA into separate
// FP32 registers, and the next k-block starts the tensor-core sum afresh. So the tensor core
// never sums more than kPromotionInterval products into one output, whatever k is.
inline constexpr int kFp8WgmmaK = 32;          // k of one E4M3 wgmma
inline constexpr int kPromotionInterval = 128;  // k per promotion: one scale block
inline constexpr int kWgmmasPerPromotion = kPromotionInterval / kFp8WgmmaK;
static_assert(kPromotionInterval == kScaleBlock, "a promotion applies exactly one k-block's scales");
inline constexpr int kFp8TileM = 128, kFp8TileN = 128, kFp8TileK = 128;

// An operand's k-tile in shared memory: 128 rows of 128 E4M3 (128 bytes, the 128B swizzle's
// span), as one TMA box writes it; 8-row groups are 1024 bytes apart (the descriptor's stride
// offset; the leading offset is unused for swizzled K-major layouts). Rows row0 .. row0 + 63 at
// k32 step ks start row0 * 128 + ks * 32 bytes into the 1024-aligned tile: the same bytes as
// the BF16 tile's k16 step (kernels/gemm/sm90_tiles.cuh), since 32 E4M3 are 16 BF16.
inline constexpr std::uint32_t kFp8OperandTileBytes = 128 * kFp8TileK;
__host__ __device__ constexpr std::uint64_t fp8_operand_descriptor(std::uint32_t tile, int row0, int ks) {
  return wgmma_descriptor(tile + static_cast<std::uint32_t>(row0) * kFp8TileK +
                              static_cast<std::uint32_t>(ks) * kFp8WgmmaK,
                          16, 1024, WgmmaSwizzle::B128);
}

// What one consumer thread's promotion of k-block kb multiplies by: a's scales for its two rows
// (row and row + 8) and b's for the CTA's 128 columns, kept apart until the promotion multiplies
// them. The FP8 kernels load them a k-block ahead of their use so that their latency hides under a
// whole k-block of wgmma: on an H200, promotion cost fp8gemm.wgmma 40% of its speed (771.9
// against 1268.1 TFLOP/s without it, 4096^3 per-tensor), and ptxas had put the loads of the
// k-block being promoted between its wgmmas and the wait for them, leaving two wgmmas' time to
// cover an L2 round trip. Whether loading them ahead closes that gap waits for a GPU.
struct PromotionScales {
  float a_lo = 1.f, a_hi = 1.f, b = 1.f;
#ifdef __CUDACC__
  __device__ static PromotionScales load(const float* a_scales, const float* b_scales, ScaleStrides sa_at,
                                         ScaleStrides sb_at, int row_lo, int row_hi, int col0, int kb) {
    return {__ldg(a_scales + sa_at.index(row_lo, kb)), __ldg(a_scales + sa_at.index(row_hi, kb)),
            __ldg(b_scales + sb_at.index(col0, kb))};
  }
#endif
};

// The number of promotions (FP32 adds per output) for a given k: one per k-block, the last one
// partial (TMA zero-fills past k, which adds nothing).
__host__ __device__ constexpr int promotions(int k) { return scale_blocks(k); }

// What fp8_gemm_wgmma_sm90 requires: E4M3; k a multiple of kFp8GemmKAlign (TMA's 16-byte row
// pitch: a and b are read as rows of k bytes); a_scale 1x128, row or tensor; b_scale 128x128 or
// tensor (a per-column b scale would differ across each thread's columns: not written); m and n
// anything from 1 (TMA zero-fills the tails, the stores are predicated); 16-byte-aligned a and b.
inline constexpr int kFp8GemmKAlign = 16;

// ---- Splitting k (fp8gemm.wgmma_splitk, int8gemm.mma_splitk) --------------------------------
// With no more 128x128 tiles than half the SMs, most of the GPU idles: DeepSeek-V3's 128 x 7168 x
// 16384 has 56 tiles for 132 SMs, and fp8gemm.wgmma ran it at 322.0 TFLOP/s on the H200 against
// its 743.4 at 4096 x 7168 x 16384 (int8gemm.mma: 279.3 against 733.1). Splitting k into s parts
// gives s times the CTAs; each part's sums go to a workspace [s][n][m] (FP8: promoted FP32 sums;
// INT8: exact s32 sums), and a second kernel adds the parts in split order (deterministic) and
// writes c. The split is by whole k-blocks of 128 (FP8: one scale block, so the promotion and the
// scales are untouched; INT8: one k-tile).
//
// scaled_gemm_k_splits: the split for `tiles` output tiles of `k_blocks` k-blocks on `sm_count` SMs.
// 1 when the tiles fill more than half the GPU; otherwise as many parts as fit in one wave
// (sm_count / tiles), at most kMaxKSplits (the workspace traffic grows with s) and with at
// least kMinKBlocksPerSplit k-blocks each (a part shorter than the pipeline, 6 stages in FP8 and 3
// in INT8, pays the pipeline fill for little work).
// The 128x128 output tiles of an m x n GEMM (what scaled_gemm_k_splits counts).
__host__ __device__ constexpr std::uint64_t scaled_gemm_tile_count(std::uint64_t m, std::uint64_t n) {
  return ((m + kFp8TileM - 1) / kFp8TileM) * ((n + kFp8TileN - 1) / kFp8TileN);
}
inline constexpr int kMaxKSplits = 4;
inline constexpr int kMinKBlocksPerSplit = 8;
__host__ __device__ constexpr int scaled_gemm_k_splits(int tiles, int k_blocks, int sm_count) {
  if (tiles <= 0 || 2 * tiles > sm_count) return 1;
  int s = sm_count / tiles;
  if (s > kMaxKSplits) s = kMaxKSplits;
  if (s > k_blocks / kMinKBlocksPerSplit) s = k_blocks / kMinKBlocksPerSplit;
  return s > 1 ? s : 1;
}

// The split for an m x n x k GEMM (128x128 tiles, k-blocks of 128) on `sm_count` SMs.
__host__ __device__ constexpr int planned_k_splits(std::uint64_t m, std::uint64_t n, std::uint64_t k, int sm_count) {
  const std::uint64_t tiles = scaled_gemm_tile_count(m, n);
  if (sm_count <= 0 || tiles > static_cast<std::uint64_t>(sm_count)) return 1;
  return scaled_gemm_k_splits(static_cast<int>(tiles), static_cast<int>((k + kScaleBlock - 1) / kScaleBlock), sm_count);
}

// Part `split` of `splits` covers k-blocks begin .. begin + count - 1: consecutive, balanced to
// within one k-block, together every k-block once; count >= 1 when splits <= k_blocks.
struct KBlockRange {
  int begin = 0, count = 0;
};
__host__ __device__ constexpr KBlockRange k_split_range(int split, int splits, int k_blocks) {
  const int begin = static_cast<int>(static_cast<long long>(split) * k_blocks / splits);
  const int end = static_cast<int>(static_cast<long long>(split + 1) * k_blocks / splits);
  return {begin, end - begin};
}

// The workspace a split GEMM needs (FP32 or s32, 4 bytes an element): one m x n part per split;
// 0 without a split.
__host__ __device__ constexpr std::size_t split_k_workspace_bytes(int m, int n, int splits) {
  return splits > 1 ? static_cast<std::size_t>(splits) * static_cast<std::size_t>(m) * static_cast<std::size_t>(n) * 4
                    : 0;
}

// How the consumers fold each k-block's tensor-core sum into FP32:
// - None: fp8gemm.wgmma_nopromote. The whole k sums in the wgmma accumulators and sa sb is applied
//   once at the end: exact only when both scales are per tensor, so it requires a_scale == Tensor
//   and b_scale == Tensor (throws std::invalid_argument otherwise).
// - Serial: fp8gemm.wgmma. Per k-block: four wgmmas, wait for them, promote. The tensor core has
//   only the other consumer's wgmmas to run while this one promotes.
// - Overlapped: fp8gemm.wgmma_overlap. A second accumulator set: k-block kb + 1's wgmmas are issued
//   before k-block kb is promoted, so each consumer keeps the tensor core fed through its own
//   promotion. 192 accumulator registers per thread instead of 128. The same sums in the same order
//   as Serial: the two agree bit for bit.
// args.k_splits > 1 splits k (above; Serial and Overlapped only, k_splits <= ceil(k / 128),
// args.workspace holding split_k_workspace_bytes).
// Throws std::invalid_argument when m, n or k is not positive or the split is not one of those,
// std::runtime_error when the tensor maps cannot be encoded.
enum class PromotionSchedule { None, Serial, Overlapped };
void fp8_gemm_wgmma_sm90(const ScaledGemmArgs& args, PromotionSchedule schedule, cudaStream_t stream);

// fp8gemm.wgmma_multicast (sm90_fp8_gemm_1d2d_cluster.cu): fp8_gemm_wgmma_sm90 with
// PromotionSchedule::Overlapped, in 2-CTA clusters whose CTAs take two tiles side by side along n
// and multicast a's k-tiles to each other. The same requirements, exceptions and output bits;
// no k split (args.k_splits must be 1).
void fp8_gemm_wgmma_multicast_sm90(const ScaledGemmArgs& args, cudaStream_t stream);

}  // namespace trainbench::kernels
