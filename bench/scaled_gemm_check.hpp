// Verification shared by every scaled-GEMM impl (FP8 and INT8): the BF16 output against FP64 sums
// of the dequantized operands (kernels/quant/scaled_gemm_reference.cu), by the largest
// elementwise error (the error) and the normwise one (norm_error, what accuracy benchmarks judge by).
#pragma once
#include <cuda_runtime_api.h>

#include "harness/registry.hpp"
#include "kernels/quant/scaled_gemm.cuh"

namespace trainbench {

// `args` describes the impl's operands and its BF16 output; `operands` names them in the detail
// ("the dequantized operands", "the dequantized s8 operands").
Verification verify_scaled_gemm(const kernels::ScaledGemmArgs& args, double tolerance, const char* operands,
                                cudaStream_t stream);

}  // namespace trainbench
