// What the Hopper GEMMs (versions 3 and 4) share: an operand's k-tile in 128B-swizzled shared
// memory (how TMA fills it and how wgmma reads it) and the epilogue that stores wgmma
// accumulators. The host-side pieces (box geometry, descriptors) are tested on the CPU
// (tests/test_sm90_gemm.cpp).
//
// Both kernels compute C^T = op(B)^T op(A)^T, as version 2 does: wgmma's A operand (M, rows j
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
#endif

}  // namespace trainbench::kernels
