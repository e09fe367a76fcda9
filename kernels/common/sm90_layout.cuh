// Host-and-device halves of the Hopper wgmma path: the shared-memory matrix descriptor, the
// 128-byte swizzle that TMA writes and wgmma reads, the instruction shapes used, and where each
// accumulator register of a wgmma lands in the output tile. The CPU tests check all of them
// (tests/test_sm90_gemm.cpp) against the PTX ISA's definitions.
#pragma once
#include <cstdint>

#include <cuda_runtime.h>

namespace trainbench::kernels {

// Swizzle mode, bits 62-63 of a wgmma descriptor (PTX ISA, "Matrix Descriptor Format").
enum class WgmmaSwizzle : std::uint32_t { None = 0, B128 = 1, B64 = 2, B32 = 3 };

// The 64-bit shared-memory matrix descriptor of wgmma.mma_async:
//   bits  0-13  start address, (addr & 0x3FFFF) >> 4
//   bits 16-29  leading dimension byte offset >> 4
//   bits 32-45  stride dimension byte offset >> 4
//   bits 49-51  base offset: 0 when the swizzle pattern starts on its natural boundary (1024 B
//               for 128B swizzle), which every tile here does
//   bits 62-63  swizzle mode
// Byte offsets are multiples of 16 below 256 KiB (the fields hold 14 bits of addr >> 4).
__host__ __device__ constexpr std::uint64_t wgmma_descriptor(std::uint32_t start_addr, std::uint32_t leading_bytes,
                                                             std::uint32_t stride_bytes, WgmmaSwizzle swizzle) {
  return static_cast<std::uint64_t>((start_addr & 0x3FFFFu) >> 4) |
         static_cast<std::uint64_t>((leading_bytes & 0x3FFFFu) >> 4) << 16 |
         static_cast<std::uint64_t>((stride_bytes & 0x3FFFFu) >> 4) << 32 |
         static_cast<std::uint64_t>(swizzle) << 62;
}

// The 128-byte swizzle as TMA (CU_TENSOR_MAP_SWIZZLE_128B) writes it and wgmma (WgmmaSwizzle::B128)
// reads it: within every 1024-byte block of 8 rows of 128 bytes, the 16-byte chunk index (address
// bits 4-6) is XORed with the row index (bits 7-9). An address map, so tiles start 1024-aligned.
__host__ __device__ constexpr std::uint32_t swizzle_128b(std::uint32_t byte_addr) {
  return byte_addr ^ (((byte_addr >> 7) & 7u) << 4);
}

// wgmma.mma_async shapes for BF16 inputs and FP32 accumulators: m64nNk16 with N a multiple of 8
// from 8 to 256. The kernels here use N = 64, 128, 176 and 256 (wrappers in sm90_ptx.cuh).
inline constexpr int kWgmmaM = 64;
inline constexpr int kWgmmaK = 16;
__host__ __device__ constexpr bool is_wgmma_bf16_shape(int m, int n, int k) {
  return m == kWgmmaM && k == kWgmmaK && n >= 8 && n <= 256 && n % 8 == 0;
}

// Where accumulator register `reg` (0 .. N/2 - 1) of thread `thread` (0-127 in its warpgroup) of
// an m64nNk16 FP32 wgmma sits in the 64 x N tile: warp w holds rows 16w .. 16w + 15; each
// 8-column chunk c repeats the mma.sync m16n8 layout, so reg = 4c + 2h + e lies at
// row 16w + lane/4 + 8h, column 8c + 2(lane%4) + e. Pairs (e = 0, 1) are adjacent columns.
struct WgmmaCoord {
  int row, col;
};
__host__ __device__ constexpr WgmmaCoord wgmma_accumulator_coord(int thread, int reg) {
  const int warp = thread / 32, lane = thread % 32;
  const int chunk = reg / 4, half = (reg / 2) % 2, e = reg % 2;
  return {16 * warp + lane / 4 + 8 * half, 8 * chunk + 2 * (lane % 4) + e};
}

// A thread's accumulators span 2 rows and N/4 columns of the tile: register `reg` lies in row slot
// wgmma_accumulator_row_slot(reg) (0 or 1, the rows of registers 0 and 2) and column slot
// wgmma_accumulator_col_slot(reg) (0 .. N/4 - 1, the column of register 4 (slot / 2) + slot % 2).
// What an epilogue indexes per-row and per-column values (scales) by, loading each once.
__host__ __device__ constexpr int wgmma_accumulator_row_slot(int reg) { return (reg / 2) % 2; }
__host__ __device__ constexpr int wgmma_accumulator_col_slot(int reg) { return 2 * (reg / 4) + reg % 2; }
__host__ __device__ constexpr int wgmma_col_slot_register(int slot) { return 4 * (slot / 2) + slot % 2; }

// Where BF16 element `value` (0-7; register value / 2, the even value in its low half) of thread
// `thread` sits in the 64 x 16 A tile of a register-A wgmma m64nNk16 (col = k): per warp the
// mma.sync m16n8k16 A fragment, warp w holding rows 16w .. 16w + 15 (PTX ISA, wgmma "Register
// Fragments", matrix A). It is an FP32 accumulator's layout read 16 columns at a time, so an
// accumulator tile converted to BF16 is the A operand of the next wgmma (attention's P V).
__host__ __device__ constexpr WgmmaCoord wgmma_register_a_coord(int thread, int value) {
  const int warp = thread / 32, lane = thread % 32;
  const int e = value % 2, row_half = (value / 2) % 2, k_half = value / 4;
  return {16 * warp + lane / 4 + 8 * row_half, 8 * k_half + 2 * (lane % 4) + e};
}

}  // namespace trainbench::kernels
