// memory.copy: 16-byte vector copy, 4 loads in flight per thread, grid-stride.
// Measured: see results/<chip>/memory.json and kernels/memory/README.md.
#include "kernels/memory/copy.cuh"

#include <cstdint>

namespace trainbench::kernels {
namespace {

constexpr int kThreads = 512;
constexpr int kUnroll = 4;

__global__ void __launch_bounds__(kThreads)
copy_vec16_kernel(uint4* __restrict__ dst, const uint4* __restrict__ src, std::size_t n_vec) {
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
  std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  // Main loop: kUnroll independent 16-byte loads issued before any store.
  for (; i + (kUnroll - 1) * stride < n_vec; i += kUnroll * stride) {
    uint4 v[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) v[u] = __ldcs(src + i + u * stride);  // streamed: no reuse
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) __stcs(dst + i + u * stride, v[u]);
  }
  for (; i < n_vec; i += stride) __stcs(dst + i, __ldcs(src + i));
}

__global__ void copy_tail_kernel(unsigned char* dst, const unsigned char* src, std::size_t n) {
  const std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) dst[i] = src[i];
}

}  // namespace

void copy_vec16(void* dst, const void* src, std::size_t bytes, int sm_count, cudaStream_t stream) {
  const std::size_t n_vec = bytes / 16;
  if (n_vec > 0) {
    // Enough blocks for full occupancy (2048 threads per SM on sm_80/sm_90).
    const std::size_t want = (n_vec + kThreads - 1) / kThreads;
    const std::size_t full = static_cast<std::size_t>(sm_count) * (2048 / kThreads);
    const unsigned blocks = static_cast<unsigned>(want < full ? want : full);
    copy_vec16_kernel<<<blocks, kThreads, 0, stream>>>(static_cast<uint4*>(dst),
                                                       static_cast<const uint4*>(src), n_vec);
  }
  const std::size_t tail = bytes - n_vec * 16;
  if (tail > 0) {
    copy_tail_kernel<<<1, 32, 0, stream>>>(static_cast<unsigned char*>(dst) + n_vec * 16,
                                          static_cast<const unsigned char*>(src) + n_vec * 16, tail);
  }
}

}  // namespace trainbench::kernels
