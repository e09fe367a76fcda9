// (No fmt here: nvcc rejects fmt 9's constexpr checks under C++20.)
#include "bench/fp8_inputs.hpp"

#include "harness/error.hpp"
#include "harness/verify.hpp"

namespace trainbench {
namespace {

__global__ void spread_block_magnitudes_kernel(__nv_bfloat16* x, int rows, int cols, bool nonnegative) {
  const long long n = static_cast<long long>(rows) * cols;
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<long long>(gridDim.x) * blockDim.x) {
    const int r = static_cast<int>(i / cols), c = static_cast<int>(i % cols);
    const int e = r % 5 + r / 128 % 3 + c / 128 % 4 - 5;
    const float u = __bfloat162float(x[i]);
    x[i] = __float2bfloat16_rn((nonnegative ? fabsf(u) : u) * exp2f(static_cast<float>(e)));
  }
}

}  // namespace

void fill_scaled_gemm_operand(__nv_bfloat16* x, int rows, int cols, std::uint64_t seed, const std::string& inputs,
                              cudaStream_t stream) {
  fill_uniform_bf16(x, static_cast<std::size_t>(rows) * static_cast<std::size_t>(cols), seed, stream);
  spread_block_magnitudes_kernel<<<1024, 256, 0, stream>>>(x, rows, cols, inputs == "nonnegative");
  TB_CUDA_CHECK(cudaGetLastError());
}

}  // namespace trainbench
