// The Hopper attention kernels' shared-memory tiles (3_sm90_flash_fwd_wgmma.cu,
// 4_sm90_flash_bwd_wgmma.cu): where TMA puts a block of rows of one head and how wgmma reads it
// back, both as a K-major operand (Q and K in S = Q K^T) and as an MN-major one (V in O = P V),
// which S accumulators make up P's register operand, and the backward's FP32 dQ staging. Host and
// device, so that tests/test_sm90_attention.cpp checks them on the CPU against the PTX ISA's
// canonical layouts.
#pragma once
#include <cstdint>

#include "kernels/common/sm90_layout.cuh"

namespace trainbench::kernels {

// kRows consecutive rows (query or key positions) of one head by kHeadDim, BF16: kHeadDim / 64
// TMA boxes of kRows lines of 128 bytes (64 head dimensions), 128B-swizzled, box b holding head
// dimensions 64b .. 64b + 63. Box sizes are multiples of 1024 bytes, so every box starts on the
// swizzle pattern's period when the tile does (descriptor base offset 0).
template <int kRows, int kHeadDim>
struct FlashHeadTile {
  static constexpr int kBoxes = kHeadDim / 64;
  static constexpr std::uint32_t kBoxDims = 64;  // head dimensions per box: 128 bytes, the swizzle span
  static constexpr std::uint32_t kBoxRows = kRows;
  static constexpr std::uint32_t kBoxBytes = kRows * 128;
  static constexpr std::uint32_t kBytes = kBoxes * kBoxBytes;
  // Rows in k16 steps (P V's K): 64 for Q's warpgroups, 128 or 176 for key blocks.
  static_assert(kHeadDim % 64 == 0 && kRows % 16 == 0 && kRows <= 256, "TMA boxes hold at most 256 rows");

  __host__ __device__ static constexpr std::uint32_t box_offset(int b) {
    return static_cast<std::uint32_t>(b) * kBoxBytes;
  }
  __host__ __device__ static constexpr int box_first_dim(int b) { return 64 * b; }

  // As a K-major operand whose K is the head dimension (Q as the A of S = Q K^T from row r0, K as
  // its B): k16 step ks covers head dimensions 16ks .. 16ks + 15, 32 bytes along the lines of box
  // ks / 4 (the swizzle is an address map, so an offset inside its period is a plain add). The
  // leading offset is unused for swizzled K-major layouts; 8-line groups are 1024 bytes apart.
  __host__ __device__ static constexpr std::uint64_t k_major_descriptor(std::uint32_t tile_addr, int r0, int ks) {
    const std::uint32_t start = tile_addr + box_offset(ks / 4) + static_cast<std::uint32_t>(r0) * 128u +
                                static_cast<std::uint32_t>(ks % 4) * 32u;
    return wgmma_descriptor(start, 16, 1024, WgmmaSwizzle::B128);
  }

  // As the N-major B operand of O = P V (N the head dimension, K the rows): k16 step kk covers rows
  // 16kk .. 16kk + 15, 16 lines (2048 bytes) in; the next 64 head dimensions are a box further
  // (the leading offset), the next 8 rows 1024 bytes further (the stride offset). An operand 64
  // wide that starts at box b: tile_addr + box_offset(b). The same layout read as an M-major A
  // (transpose bit set) is the backward's dS in dQ = dS K (M the queries, K the keys).
  __host__ __device__ static constexpr std::uint64_t n_major_descriptor(std::uint32_t tile_addr, int kk) {
    return wgmma_descriptor(tile_addr + static_cast<std::uint32_t>(kk) * 2048u, kBoxBytes, 1024, WgmmaSwizzle::B128);
  }

  // The byte offset of element (row, dim) from the tile's start, where TMA writes it: box dim / 64,
  // line `row`, swizzled. The backward stores dS^T here itself (rows the keys, "dims" the queries).
  __host__ __device__ static constexpr std::uint32_t element_offset(int row, int dim) {
    return box_offset(dim / 64) +
           swizzle_128b(static_cast<std::uint32_t>(row) * 128u + static_cast<std::uint32_t>(dim % 64) * 2u);
  }
};

// The backward's dQ tile of one consumer warpgroup, 64 query rows x 64 head dimensions in FP32,
// staged in shared memory for two TMA reductions (tma_reduce_add_4d): boxes of 64 rows x 32
// columns (128 bytes), 128B-swizzled as TMA reads them (the 16-byte chunk index XOR the row
// within each 8-row group, as for BF16 tiles).
struct FlashDqStaging {
  static constexpr int kRows = 64, kCols = 64, kBoxCols = 32;
  static constexpr std::uint32_t kBoxBytes = kRows * 128;
  static constexpr std::uint32_t kBytes = 2 * kBoxBytes;
  __host__ __device__ static constexpr std::uint32_t offset(int row, int col) {
    return static_cast<std::uint32_t>(col / kBoxCols) * kBoxBytes +
           swizzle_128b(static_cast<std::uint32_t>(row) * 128u + static_cast<std::uint32_t>(col % kBoxCols) * 4u);
  }
};

// P, the S accumulators exponentiated and rounded to BF16, as the register A operand of P V: BF16
// value `value` (0-7, wgmma_register_a_coord) of k16 step kk is S's accumulator register
// 8kk + value (wgmma_accumulator_coord): the same row, key 16kk + its column.
__host__ __device__ constexpr int flash_p_source_register(int kk, int value) { return 8 * kk + value; }

}  // namespace trainbench::kernels
