// Shared-memory swizzles, host and device (the host side is what the CPU tests check).
#pragma once
#include <cstdint>

#include <cuda_runtime.h>

namespace trainbench::kernels {

// Byte offset of 16-byte chunk `chunk` of row `row` in a row-major shared-memory tile whose rows
// hold kChunksPerRow chunks (a multiple of 8: 128 bytes or more). The chunk's low three bits are
// XORed with the row's, so the 8 chunks that ldmatrix or a warp's cp.async reads or writes at
// one logical column of 8 consecutive rows fall in 8 distinct 16-byte bank groups (no bank
// conflicts), and each row keeps its own chunks (the map is a permutation within every row).
template <int kChunksPerRow>
__host__ __device__ constexpr std::uint32_t swizzle_xor_chunk(int row, int chunk) {
  static_assert(kChunksPerRow % 8 == 0, "rows of at least 128 bytes, in 128-byte units");
  return static_cast<std::uint32_t>(row * kChunksPerRow + (chunk ^ (row & 7))) * 16u;
}

}  // namespace trainbench::kernels
