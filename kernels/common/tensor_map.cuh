// TMA tensor maps, made on the host. The driver encodes them (cuTensorMapEncodeTiled); the entry
// point is looked up at run time through the CUDA runtime, so the programs link no libcuda and
// still start on machines without a driver (cuda.h is included for its types only).
#pragma once
#include <cstdint>

#include <cuda.h>

namespace trainbench::kernels {

// A 2-D map over a dense BF16 matrix of `outer` rows of `inner` contiguous elements (row pitch
// inner * 2 bytes), read in boxes of box_outer rows x box_inner elements that land in shared
// memory 128-byte swizzled (CU_TENSOR_MAP_SWIZZLE_128B: box_inner * 2 must be at most 128);
// elements outside the matrix arrive as zeros and count toward the transaction bytes like the
// others. Needs a 16-byte-aligned base and inner a multiple of 8 (16-byte row pitch).
// Throws std::runtime_error saying what failed.
CUtensorMap make_tensor_map_bf16_2d_sw128(const void* base, std::uint64_t inner, std::uint64_t outer,
                                          std::uint32_t box_inner, std::uint32_t box_outer);

// The same over FP32 elements (box_inner at most 32, a 16-byte-aligned base, inner a multiple of
// 4): a GEMM's FP32 output, written by TMA stores.
CUtensorMap make_tensor_map_f32_2d_sw128(const void* base, std::uint64_t inner, std::uint64_t outer,
                                         std::uint32_t box_inner, std::uint32_t box_outer);

// A 4-D map over a dense BF16 tensor in layout (batch, seq, heads, head_dim), read in boxes of
// box_rows consecutive sequence positions of one head by box_dims (at most 64: 128 bytes) head
// dimensions, 128-byte swizzled in shared memory (box_rows lines of 128 bytes). Coordinates
// (innermost first): head dimension, head, sequence position, batch. Rows past `seq` arrive as
// zeros, the next batch's rows never. Same alignment rules as above (head_dim a multiple of 8).
CUtensorMap make_tensor_map_bf16_bshd_sw128(const void* base, std::uint64_t batch, std::uint64_t seq,
                                            std::uint64_t heads, std::uint64_t head_dim, std::uint32_t box_dims,
                                            std::uint32_t box_rows);

// The same over FP32 elements (box_dims at most 32: 128 bytes; head_dim a multiple of 4): the
// attention backward's dQ accumulator, which its kernel adds to by TMA reductions.
CUtensorMap make_tensor_map_f32_bshd_sw128(const void* base, std::uint64_t batch, std::uint64_t seq,
                                           std::uint64_t heads, std::uint64_t head_dim, std::uint32_t box_dims,
                                           std::uint32_t box_rows);

}  // namespace trainbench::kernels
