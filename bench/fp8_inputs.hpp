// Inputs for the scaled-GEMM cases (FP8 and INT8): BF16 matrices whose magnitude changes from
// one 128-row band and one 128-column band to the next (and from row to row), so that every 1x128
// and 128x128 scale differs from its neighbours and a kernel reading the wrong scale fails
// verification.
//
// The sign of the values is the op's `inputs` (ScaledGemm::inputs), because the error of a
// limited-precision accumulator depends on it. DeepSeek-V3 (arXiv 2412.19437, section 3.3.2)
// reports that the H800's tensor cores keep about 14 bits when accumulating FP8 products, so
// that a K = 4096 GEMM of random matrices errs by up to nearly 2% without promotion into FP32;
// it does not say which random matrices. Hence two kinds, which the fp8-accuracy suite both runs:
// - "signed": uniform in [-1, 1]. Products have zero mean, so partial sums wander about zero and
//   stay about the size of the final sum: bits dropped at each addition are a roughly fixed
//   fraction of the result, and the error grows with the number of additions. The usual case
//   (weights and gradients are zero-mean).
// - "nonnegative": the absolute values. Every product is >= 0, each partial sum exceeds the one
//   before, and late products are ever smaller next to the running sum, so a few-bit
//   accumulator drops ever more of each: the adverse case.
#pragma once
#include <cstdint>
#include <string>

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

namespace trainbench {

// x [rows][cols] = u * 2^((r % 5) + (r / 128 % 3) + (c / 128 % 4) - 5), a factor from 2^-5 to
// 2^5, with u uniform in [-1, 1] from `seed` (never 0: harness/verify.hpp), or |u| for inputs
// "nonnegative".
void fill_scaled_gemm_operand(__nv_bfloat16* x, int rows, int cols, std::uint64_t seed, const std::string& inputs,
                              cudaStream_t stream);

}  // namespace trainbench
