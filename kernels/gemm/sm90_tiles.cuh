// What the Hopper GEMMs (versions 3 to 5) share: an operand's k-tile in 128B-swizzled shared
// memory (how TMA fills it, alone or in slices multicast across a cluster, and how wgmma reads
// it) and the epilogues that store wgmma accumulators (direct, or staged for TMA stores). The
// host-side pieces (box geometry, descriptors, the staging layout) are tested on the CPU
// (tests/test_sm90_gemm.cpp).
//
// All three compute C^T = op(B)^T op(A)^T, as version 2 does: wgmma's A operand (M, rows j
// of C^T) is read from B, its B operand (N, columns i) from A, so that each thread's accumulator
// pairs (adjacent columns i) are adjacent in C's column-major storage.
#pragma once
#include <cstddef>
#include <cstdint>

#include <cuda.h>

#include "kernels/common/sm90_layout.cuh"
#include "kernels/common/sm90_ptx.cuh"
#include "kernels/common/tensor_map.cuh"
#include "kernels/gemm/dispatch.cuh"
#if TRAINBENCH_SM90A
#include "kernels/common/ptx.cuh"  // device code only: the CPU tests include this header too
#endif

namespace trainbench::kernels {

// One operand's k-tile: kRows rows (its extent outside K) by kTileK = 64 elements of K, BF16.
// 64 BF16 are 128 bytes, the 128B swizzle's span, so one line of the swizzle pattern holds:
// - K-major operands (stored [rows][k]): one row, its 64 k. One TMA box {64 k, kRows rows}
//   writes the tile as kRows lines; 8-line groups (1024 B) are the wgmma "stride" step (SBO);
//   the leading offset is unused for swizzled K-major layouts (the PTX ISA says "assumed 1").
//   A k16 step is 32 bytes along the lines: the swizzle is a map of the address, so an offset
//   inside a 1024-aligned pattern is a plain add.
// - M/N-major operands (stored [k][rows]): 64 rows at one k. kRows / 64 TMA boxes {64 rows,
//   64 k}, each 64 lines (8 KiB): boxes are the leading step (LBO, the next 64 rows), 8-line
//   groups the stride step (SBO, the next 8 k). A k16 step is 16 lines, 2048 bytes.
// Either way rows r0 .. r0 + 63 start r0 * 128 bytes into the tile, and every tile and box
// starts 1024-aligned (matrix base offset 0).
template <int kRows, bool kKMajorOperand>
struct Sm90OperandTile {
  static constexpr bool kKMajor = kKMajorOperand;
  static constexpr int kTileK = 64;
  static constexpr std::uint32_t kBytes = kRows * kTileK * 2;
  static constexpr int kBoxes = kKMajor ? 1 : kRows / 64;
  static constexpr std::uint32_t kBoxInner = 64;  // elements: 128 bytes
  static constexpr std::uint32_t kBoxOuter = kKMajor ? kRows : 64;
  static constexpr std::uint32_t kBoxBytes = kBoxInner * kBoxOuter * 2;
  static constexpr std::uint32_t kLeadingBytes = kKMajor ? 16 : kBoxBytes;
  static constexpr std::uint32_t kStrideBytes = 1024;
  static constexpr std::uint32_t kKStepBytes = kKMajor ? 32 : 16 * 128;
  static_assert(kRows % 64 == 0 && kRows <= 256, "TMA boxes hold at most 256 rows");
  static_assert(kBoxes * kBoxBytes == kBytes);

  // Box b: where it lands in the tile, and its origin (x inner, y outer, in elements) in the
  // operand's tensor map for the tile at rows row0, k-offset k0.
  __host__ __device__ static constexpr std::uint32_t box_offset(int b) {
    return static_cast<std::uint32_t>(b) * kBoxBytes;
  }
  __host__ __device__ static constexpr int box_x(int b, int row0, int k0) { return kKMajor ? k0 : row0 + 64 * b; }
  __host__ __device__ static constexpr int box_y(int /*b*/, int row0, int k0) { return kKMajor ? row0 : k0; }

  // The wgmma descriptor for rows r0 .. (a multiple of 64) at k16 step ks of the tile at
  // shared-memory address tile_addr (1024-aligned).
  __host__ __device__ static constexpr std::uint64_t descriptor(std::uint32_t tile_addr, int r0, int ks) {
    const std::uint32_t start =
        tile_addr + static_cast<std::uint32_t>(r0) * 128u + static_cast<std::uint32_t>(ks) * kKStepBytes;
    return wgmma_descriptor(start, kLeadingBytes, kStrideBytes, WgmmaSwizzle::B128);
  }
};

// An operand k-tile that the kSlices CTAs of a cluster load together, each one slice multicast to
// all (version 5). Slice s, rows s * kSliceRows .. of the tile, is a Sm90OperandTile of its own
// placed at byte s * Slice::kBytes of the whole tile: that is where the whole tile's layout keeps
// those rows (K-major: one 128-byte line per row; M/N-major: 64-row boxes in row order), so
// wgmma reads the assembled tile through Whole's descriptors.
template <int kRows, bool kKMajorOperand, int kSlices>
struct Sm90SlicedOperandTile {
  static constexpr int kSliceRows = kRows / kSlices;
  using Whole = Sm90OperandTile<kRows, kKMajorOperand>;
  using Slice = Sm90OperandTile<kSliceRows, kKMajorOperand>;
  static_assert(kRows % kSlices == 0 && kSliceRows % 64 == 0 && kSlices * Slice::kBytes == Whole::kBytes);

  __host__ __device__ static constexpr std::uint32_t slice_offset(int s) {
    return static_cast<std::uint32_t>(s) * Slice::kBytes;
  }
  __host__ __device__ static constexpr int slice_row0(int s, int row0) { return row0 + s * kSliceRows; }
};

// The staging buffer of the TMA-store epilogue (version 5): 64 rows (j) of 128 bytes, 64 BF16 or
// 32 FP32 columns (i) of one warpgroup's accumulators, 128B-swizzled as a TMA box {kCols, 64}
// with CU_TENSOR_MAP_SWIZZLE_128B reads it. The swizzle spreads the eight rows that a warp's
// stmatrix (or 8-byte stores) writes at once over all 32 banks.
template <typename OutT>
struct Sm90StoreChunk {
  static constexpr int kRows = 64;
  static constexpr int kCols = 128 / static_cast<int>(sizeof(OutT));
  static constexpr std::uint32_t kBytes = kRows * 128;
  static constexpr std::uint32_t kElementBytes = sizeof(OutT);
  __host__ __device__ static constexpr std::uint32_t offset(int row, int col) {
    return swizzle_128b(static_cast<std::uint32_t>(row) * 128u + static_cast<std::uint32_t>(col) * kElementBytes);
  }
};

// The row that lane `lane` addresses in stmatrix .x4 number p (0-3) of warp `warp` within a BF16
// store chunk (64 columns, 8 groups of 8): that stmatrix writes groups 2p and 2p + 1 for the
// warp's 16 rows, matrix q holding rows 8 (q % 2) .. of group 2p + q / 2, which is the
// accumulator pair 4 (8 chunk + 2p + q / 2) + 2 (q % 2) = 32 chunk + 8p + 2q of every lane
// (wgmma_accumulator_coord). Lanes 8q .. 8q + 7 address matrix q's rows.
__host__ __device__ constexpr WgmmaCoord stmatrix_x4_row(int warp, int lane, int p) {
  return {16 * warp + 8 * ((lane / 8) % 2) + lane % 8, 16 * p + 8 * (lane / 16)};
}
__host__ __device__ constexpr int stmatrix_x4_register(int chunk, int p, int q) { return 32 * chunk + 8 * p + 2 * q; }

// The same staging for accumulators whose rows run along i (the FP8 kernels': wgmma's A operand
// is a, so a warpgroup's 64 accumulator rows are 64 consecutive i and its kN columns are j).
// stmatrix .x4 .trans number p (0 .. kN / 16 - 1) of warp `warp` writes the warp's 16 rows of
// column groups 2p and 2p + 1 (8 columns j each), matrix q holding rows 16 warp + 8 (q % 2) ..
// of group 2p + q / 2, transposed: lane 8q + c addresses column j = 8 (2p + q / 2) + c, whose 16
// bytes are those 8 rows i. The accumulator pair of matrix q is 4 (2p + q / 2) + 2 (q % 2) =
// 8p + 2q (wgmma_accumulator_coord). Returned as (row, col) of C^T: (j, i within the warpgroup).
// Chunk j / 64 of the Sm90StoreChunk<BF16> layout holds row j % 64.
__host__ __device__ constexpr WgmmaCoord stmatrix_x4_trans_row(int warp, int lane, int p) {
  return {8 * (2 * p + (lane / 8) / 2) + lane % 8, 16 * warp + 8 * ((lane / 8) % 2)};
}
__host__ __device__ constexpr int stmatrix_x4_trans_register(int p, int q) { return 8 * p + 2 * q; }

// The operand's tensor map: `rows` by k elements, K-major ([rows][k]) or not ([k][rows]).
template <typename Tile>
CUtensorMap operand_tensor_map(const __nv_bfloat16* base, int rows, int k) {
  const auto r = static_cast<std::uint64_t>(rows), kk = static_cast<std::uint64_t>(k);
  return make_tensor_map_bf16_2d_sw128(base, Tile::kKMajor ? kk : r, Tile::kKMajor ? r : kk, Tile::kBoxInner,
                                       Tile::kBoxOuter);
}

#if TRAINBENCH_SM90A
// The tile at rows row0, k-offset k0 into shared memory at `dst`; bytes counted on `bar`
// (Tile::kBytes in all, whatever part of the tile lies outside the matrix).
template <typename Tile>
__device__ __forceinline__ void load_operand_tile(std::uint32_t dst, const CUtensorMap& map, std::uint32_t bar,
                                                  int row0, int k0) {
#pragma unroll
  for (int b = 0; b < Tile::kBoxes; ++b)
    ptx::tma_load_2d(dst + Tile::box_offset(b), &map, bar, Tile::box_x(b, row0, k0), Tile::box_y(b, row0, k0));
}

// Slice `slice` of a Sm90SlicedOperandTile whose whole tile (at shared-memory offset tile_addr in
// every CTA of the cluster) has rows row0 .., k-offset k0, into the CTAs of cta_mask; each counts
// Slice::kBytes on its own mbarrier at offset `bar`.
template <typename Sliced>
__device__ __forceinline__ void load_operand_slice_multicast(std::uint32_t tile_addr, int slice,
                                                             const CUtensorMap& map, std::uint32_t bar, int row0,
                                                             int k0, std::uint16_t cta_mask) {
  using S = typename Sliced::Slice;
  const std::uint32_t dst = tile_addr + Sliced::slice_offset(slice);
  const int r0 = Sliced::slice_row0(slice, row0);
#pragma unroll
  for (int b = 0; b < S::kBoxes; ++b)
    ptx::tma_load_2d_multicast(dst + S::box_offset(b), &map, bar, S::box_x(b, r0, k0), S::box_y(b, r0, k0), cta_mask);
}

// One warpgroup's 64 x kN accumulators (rows j0 .., columns i0 .. of C^T) into column-major C.
// m is a multiple of 8 and columns come in even pairs, so i < m implies i + 1 < m.
template <int kN, typename OutT>
__device__ __forceinline__ void store_accumulators(OutT* c, const float (&acc)[kN / 2], int m, int n, int i0, int j0,
                                                   int thread_in_warpgroup) {
#pragma unroll
  for (int reg = 0; reg < kN / 2; reg += 2) {
    const WgmmaCoord at = wgmma_accumulator_coord(thread_in_warpgroup, reg);
    const int i = i0 + at.col, j = j0 + at.row;
    if (i < m && j < n) store_out_pair(c + static_cast<std::size_t>(j) * m + i, acc[reg], acc[reg + 1]);
  }
}

// The same through shared memory and TMA stores (c_map: C^T as rows j of m elements i, boxes of
// one Sm90StoreChunk), chunk by chunk through two staging buffers at `staging`: while the TMA
// reads one, the warpgroup writes the other. Thread 0 of the warpgroup owns the bulk groups;
// before each named barrier it waits until the previous chunk's store has read its buffer, which
// frees the buffer the next chunk writes. The last store is left in flight: it drains under the
// next tile's mainloop, and the next call's first wait covers it. The TMA drops what lies
// outside the matrix.
template <int kN, typename OutT>
__device__ __forceinline__ void store_accumulators_tma(const CUtensorMap& c_map, std::uint32_t staging,
                                                       const float (&acc)[kN / 2], int i0, int j0,
                                                       int thread_in_warpgroup, int barrier_id) {
  using Chunk = Sm90StoreChunk<OutT>;
  static_assert(kN % (2 * Chunk::kCols) == 0, "chunks alternate between two buffers: an even count per tile");
  const int warp = thread_in_warpgroup / 32, lane = thread_in_warpgroup % 32;
#pragma unroll
  for (int q = 0; q < kN / Chunk::kCols; ++q) {
    const std::uint32_t buffer = staging + static_cast<std::uint32_t>(q % 2) * Chunk::kBytes;
    if constexpr (sizeof(OutT) == 2) {
#pragma unroll
      for (int p = 0; p < Chunk::kCols / 16; ++p) {
        const WgmmaCoord at = stmatrix_x4_row(warp, lane, p);
        const int r = stmatrix_x4_register(q, p, 0);
        ptx::stmatrix_x4(buffer + Chunk::offset(at.row, at.col), ptx::pack_bf16x2(acc[r], acc[r + 1]),
                         ptx::pack_bf16x2(acc[r + 2], acc[r + 3]), ptx::pack_bf16x2(acc[r + 4], acc[r + 5]),
                         ptx::pack_bf16x2(acc[r + 6], acc[r + 7]));
      }
    } else {
#pragma unroll
      for (int e = 0; e < Chunk::kCols / 2; e += 2) {
        const int reg = q * Chunk::kCols / 2 + e;
        const WgmmaCoord at = wgmma_accumulator_coord(thread_in_warpgroup, reg);
        ptx::st_shared_v2_f32(buffer + Chunk::offset(at.row, at.col - q * Chunk::kCols), acc[reg], acc[reg + 1]);
      }
    }
    ptx::fence_proxy_async_shared();  // this thread's writes, before the TMA (async proxy) reads them
    if (thread_in_warpgroup == 0) ptx::bulk_wait_group_read<0>();
    ptx::named_barrier_sync(barrier_id, 128);
    if (thread_in_warpgroup == 0) {
      ptx::tma_store_2d(&c_map, buffer, i0 + q * Chunk::kCols, j0);
      ptx::bulk_commit_group();
    }
  }
}

// store_accumulators_tma for a warpgroup whose accumulators are 64 rows i (i0 ..) by kN columns j
// (j0 ..) of C, BF16 only: chunk q (rows j0 + 64q .. of C^T, all 64 i) staged with stmatrix .trans
// (stmatrix_x4_trans_row), then stored by TMA, through the same two buffers and with the same
// waits as store_accumulators_tma.
template <int kN>
__device__ __forceinline__ void store_accumulators_tma_transposed(const CUtensorMap& c_map, std::uint32_t staging,
                                                                  const float (&acc)[kN / 2], int i0, int j0,
                                                                  int thread_in_warpgroup, int barrier_id) {
  using Chunk = Sm90StoreChunk<__nv_bfloat16>;
  static_assert(kN % (2 * Chunk::kRows) == 0, "chunks alternate between two buffers: an even count per tile");
  constexpr int kPerChunk = Chunk::kRows / 16;  // stmatrix x4 per chunk: 16 columns j each
  const int warp = thread_in_warpgroup / 32, lane = thread_in_warpgroup % 32;
#pragma unroll
  for (int q = 0; q < kN / Chunk::kRows; ++q) {
    const std::uint32_t buffer = staging + static_cast<std::uint32_t>(q % 2) * Chunk::kBytes;
#pragma unroll
    for (int pc = 0; pc < kPerChunk; ++pc) {
      const int p = q * kPerChunk + pc;
      const WgmmaCoord at = stmatrix_x4_trans_row(warp, lane, p);
      const int r = stmatrix_x4_trans_register(p, 0);
      ptx::stmatrix_x4_trans(buffer + Chunk::offset(at.row - q * Chunk::kRows, at.col),
                             ptx::pack_bf16x2(acc[r], acc[r + 1]), ptx::pack_bf16x2(acc[r + 2], acc[r + 3]),
                             ptx::pack_bf16x2(acc[r + 4], acc[r + 5]), ptx::pack_bf16x2(acc[r + 6], acc[r + 7]));
    }
    ptx::fence_proxy_async_shared();  // this thread's writes, before the TMA (async proxy) reads them
    if (thread_in_warpgroup == 0) ptx::bulk_wait_group_read<0>();
    ptx::named_barrier_sync(barrier_id, 128);
    if (thread_in_warpgroup == 0) {
      ptx::tma_store_2d(&c_map, buffer, i0, j0 + q * Chunk::kRows);
      ptx::bulk_commit_group();
    }
  }
}
#endif

}  // namespace trainbench::kernels
