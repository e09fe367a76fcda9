// Inputs for the scaled-GEMM cases: BF16 matrices whose magnitude changes from one 128-row band
// and one 128-column band to the next (and from row to row), so that every 1x128 and 128x128
// scale differs from its neighbours and a kernel reading the wrong scale fails verification.
#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

namespace trainbench {

// x[r][c] *= 2^((r % 5) + (r / 128 % 3) + (c / 128 % 4) - 5): a factor from 2^-5 to 2^5.
void spread_block_magnitudes(__nv_bfloat16* x, int rows, int cols, cudaStream_t stream);

}  // namespace trainbench
