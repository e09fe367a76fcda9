// The INT8 scaled-GEMM cases' two small kernels (bench/impls_int8.cpp): the inputs' quantizer,
// and the scale epilogue of the cuBLASLt path, whose matmul stops at s32 sums.
#pragma once
#include <cstdint>

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

namespace trainbench {

// Each row of x [rows][cols] to s8 with its own scale: scales[r] = amax(row r) / 127 (1 for an
// all-zero row), q = round-to-nearest-even(x / scales[r]), in [-127, 127]. One warp per row.
void quantize_s8_rows(const __nv_bfloat16* x, std::int8_t* q, float* scales, int rows, int cols,
                      cudaStream_t stream);

// c[j m + i] = bf16(float(d[j m + i]) sa[i] sb[j]): column-major m x n, s32 in, BF16 out.
void apply_row_col_scales(const std::int32_t* d, const float* sa, const float* sb, __nv_bfloat16* c, int m, int n,
                          cudaStream_t stream);

}  // namespace trainbench
