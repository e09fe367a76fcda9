#include "harness/device_buffer.hpp"

#include "harness/error.hpp"

namespace trainbench {
namespace {

__host__ __device__ inline std::uint32_t hash32(std::uint64_t x) {
  // splitmix64 finalizer, folded to 32 bits
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  x ^= x >> 31;
  return static_cast<std::uint32_t>(x) | 1u;  // odd: never a zero word
}

__global__ void fill_random_kernel(std::uint32_t* dst, std::size_t words, std::uint64_t seed) {
  for (std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x; i < words;
       i += static_cast<std::size_t>(gridDim.x) * blockDim.x)
    dst[i] = hash32(seed * 0x100000001b3ull + i);
}

__global__ void fill_tail_kernel(unsigned char* dst, std::size_t n, std::uint64_t seed) {
  const std::size_t i = threadIdx.x;
  if (i < n) dst[i] = static_cast<unsigned char>(hash32(seed + 0xabcdefull + i));
}

__global__ void mismatch_kernel(const unsigned char* a, const unsigned char* b, std::size_t n,
                                unsigned long long* count) {
  unsigned long long local = 0;
  for (std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::size_t>(gridDim.x) * blockDim.x)
    local += a[i] != b[i];
  if (local) atomicAdd(count, local);
}

}  // namespace

void fill_random_bytes(void* dst, std::size_t bytes, std::uint64_t seed, cudaStream_t stream) {
  const std::size_t words = bytes / 4;
  if (words) fill_random_kernel<<<1024, 256, 0, stream>>>(static_cast<std::uint32_t*>(dst), words, seed);
  if (bytes % 4) fill_tail_kernel<<<1, 32, 0, stream>>>(static_cast<unsigned char*>(dst) + words * 4, bytes % 4, seed);
  TB_CUDA_CHECK(cudaGetLastError());
}

void fill_poison(void* dst, std::size_t bytes, unsigned char value, cudaStream_t stream) {
  TB_CUDA_CHECK(cudaMemsetAsync(dst, value, bytes, stream));
}

std::uint64_t count_mismatched_bytes(const void* a, const void* b, std::size_t bytes, cudaStream_t stream) {
  DeviceBuffer count(sizeof(unsigned long long), "the mismatch counter");
  TB_CUDA_CHECK(cudaMemsetAsync(count.get(), 0, sizeof(unsigned long long), stream));
  mismatch_kernel<<<1024, 256, 0, stream>>>(static_cast<const unsigned char*>(a),
                                            static_cast<const unsigned char*>(b), bytes,
                                            count.as<unsigned long long>());
  TB_CUDA_CHECK(cudaGetLastError());
  unsigned long long host = 0;
  TB_CUDA_CHECK(cudaMemcpyAsync(&host, count.get(), sizeof(host), cudaMemcpyDeviceToHost, stream));
  TB_CUDA_CHECK(cudaStreamSynchronize(stream));
  return host;
}

}  // namespace trainbench
