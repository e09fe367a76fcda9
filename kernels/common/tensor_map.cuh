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

}  // namespace trainbench::kernels
