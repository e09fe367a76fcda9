#include "harness/verify.hpp"

#include <bit>
#include <cmath>
#include <limits>
#include <vector>

#include <string>

#include <cuda_bf16.h>

#include "harness/device_buffer.hpp"
#include "harness/error.hpp"

namespace trainbench {
namespace {

constexpr int kBlocks = 1024, kThreads = 256;

__device__ std::uint32_t mix32(std::uint64_t x) {
  // splitmix64 finalizer, folded to 32 bits
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  x ^= x >> 31;
  return static_cast<std::uint32_t>(x);
}

__global__ void fill_uniform_bf16_kernel(__nv_bfloat16* dst, std::size_t count, std::uint64_t seed) {
  for (std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
    // 24 random bits -> [-1, 1); the one draw that lands on exactly 0 becomes 0.5.
    const float u = static_cast<float>(mix32(seed * 0x100000001b3ull + i) >> 8) * 0x1p-23f - 1.f;
    dst[i] = __float2bfloat16_rn(u == 0.f ? 0.5f : u);
  }
}

template <typename T>
__device__ float as_float(T v) {
  if constexpr (sizeof(T) == 4) return v;
  else return __bfloat162float(v);
}

__global__ void sum_squares_kernel(const float* want, std::size_t count, double* sum) {
  double local = 0;
  for (std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<std::size_t>(gridDim.x) * blockDim.x)
    local += double(want[i]) * double(want[i]);
  atomicAdd(sum, local);
}

struct Worst {
  unsigned long long key;  // (error bits << 32) | low 32 bits of the index: max key = max error
  unsigned long long nonfinite;
  double sum_squared_difference;  // over the finite outputs
};

template <typename T>
__global__ void max_error_kernel(const T* got, const float* want, std::size_t count, float rms, Worst* worst) {
  unsigned long long key = 0, nonfinite = 0;
  double squares = 0;
  for (std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
    const float g = as_float(got[i]), w = want[i];
    if (!isfinite(g)) {
      ++nonfinite;
      continue;
    }
    const float e = fabsf(g - w) / (fabsf(w) + rms);
    squares += (double(g) - double(w)) * (double(g) - double(w));
    // Non-negative floats order like their bit patterns.
    const unsigned long long k = (static_cast<unsigned long long>(__float_as_uint(e)) << 32) | (i & 0xffffffffull);
    if (k > key) key = k;
  }
  if (key) atomicMax(&worst->key, key);
  if (nonfinite) atomicAdd(&worst->nonfinite, nonfinite);
  if (squares > 0) atomicAdd(&worst->sum_squared_difference, squares);
}

// One warp per row of head_dim values (one token of one head): the row's squared differences and
// squared reference values. Non-finite outputs are counted by max_error_kernel.
template <typename T>
__global__ void row_sums_kernel(const T* got, const float* want, std::size_t rows, std::size_t head_dim,
                                double* diff_sq, double* want_sq) {
  const unsigned lane = threadIdx.x % 32;
  const std::size_t warps = static_cast<std::size_t>(gridDim.x) * blockDim.x / 32;
  for (std::size_t r = (blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x) / 32; r < rows; r += warps) {
    double d = 0, w = 0;
    for (std::size_t x = lane; x < head_dim; x += 32) {
      const float g = as_float(got[r * head_dim + x]), ref = want[r * head_dim + x];
      if (isfinite(g)) d += (double(g) - double(ref)) * (double(g) - double(ref));
      w += double(ref) * double(ref);
    }
    for (int offset = 16; offset; offset /= 2) {
      d += __shfl_down_sync(0xffffffffu, d, offset);
      w += __shfl_down_sync(0xffffffffu, w, offset);
    }
    if (lane == 0) {
      diff_sq[r] = d;
      want_sq[r] = w;
    }
  }
}

}  // namespace

WorstSlice worst_slice_norm(const double* diff_sq, const double* want_sq, std::size_t slices) {
  double total = 0;
  for (std::size_t i = 0; i < slices; ++i) total += want_sq[i];
  const double mean = slices ? total / static_cast<double>(slices) : 0.0;
  WorstSlice worst;
  for (std::size_t i = 0; i < slices; ++i) {
    const double e = std::sqrt(diff_sq[i] / (want_sq[i] > 0 ? want_sq[i] : (mean > 0 ? mean : 1.0)));
    if (e > worst.error) worst = {e, i};
  }
  return worst;
}

void fill_uniform_bf16(void* dst, std::size_t count, std::uint64_t seed, cudaStream_t stream) {
  fill_uniform_bf16_kernel<<<kBlocks, kThreads, 0, stream>>>(static_cast<__nv_bfloat16*>(dst), count, seed);
  TB_CUDA_CHECK(cudaGetLastError());
}

ReferenceComparison compare_with_reference(const void* got, FloatType type, const float* want, std::size_t count,
                                           cudaStream_t stream, const HeadSlices* slices) {
  DeviceBuffer sum(sizeof(double), "the reference's sum of squares");
  TB_CUDA_CHECK(cudaMemsetAsync(sum.get(), 0, sizeof(double), stream));
  sum_squares_kernel<<<kBlocks, kThreads, 0, stream>>>(want, count, sum.as<double>());
  TB_CUDA_CHECK(cudaGetLastError());
  double host_sum = 0;
  TB_CUDA_CHECK(cudaMemcpyAsync(&host_sum, sum.get(), sizeof(double), cudaMemcpyDeviceToHost, stream));
  TB_CUDA_CHECK(cudaStreamSynchronize(stream));

  ReferenceComparison out;
  out.rms_reference = count ? std::sqrt(host_sum / static_cast<double>(count)) : 0.0;
  // A reference of all zeros cannot happen with inputs that are never zero; guard the division anyway.
  const float rms = out.rms_reference > 0 ? static_cast<float>(out.rms_reference) : 1.f;

  DeviceBuffer worst(sizeof(Worst), "the comparison's result");
  TB_CUDA_CHECK(cudaMemsetAsync(worst.get(), 0, sizeof(Worst), stream));
  if (type == FloatType::F32)
    max_error_kernel<<<kBlocks, kThreads, 0, stream>>>(static_cast<const float*>(got), want, count, rms, worst.as<Worst>());
  else
    max_error_kernel<<<kBlocks, kThreads, 0, stream>>>(static_cast<const __nv_bfloat16*>(got), want, count, rms,
                                                       worst.as<Worst>());
  TB_CUDA_CHECK(cudaGetLastError());
  Worst host{};
  TB_CUDA_CHECK(cudaMemcpyAsync(&host, worst.get(), sizeof(Worst), cudaMemcpyDeviceToHost, stream));
  TB_CUDA_CHECK(cudaStreamSynchronize(stream));

  out.nonfinite = host.nonfinite;
  const float error = std::bit_cast<float>(static_cast<std::uint32_t>(host.key >> 32));
  out.max_error = out.nonfinite ? std::numeric_limits<double>::infinity() : double(error);
  out.norm_error = out.nonfinite ? std::numeric_limits<double>::infinity()
                                 : std::sqrt(host.sum_squared_difference / (host_sum > 0 ? host_sum : 1.0));
  out.worst_index = host.key & 0xffffffffull;
  if (slices) {
    const HeadSlices s = *slices;
    if (s.seq == 0 || s.heads == 0 || s.head_dim == 0 || count % (s.seq * s.heads * s.head_dim) != 0)
      throw Error("compare_with_reference: " + std::to_string(count) + " outputs do not form (batch, seq " +
                  std::to_string(s.seq) + ", heads " + std::to_string(s.heads) + ", head_dim " +
                  std::to_string(s.head_dim) + ") slices");
    const std::size_t rows = count / s.head_dim, n = rows / s.seq;
    DeviceBuffer sums(2 * rows * sizeof(double), "the comparison's per-row sums");
    double* diff_sq = sums.as<double>();
    if (type == FloatType::F32)
      row_sums_kernel<<<kBlocks, kThreads, 0, stream>>>(static_cast<const float*>(got), want, rows, s.head_dim, diff_sq,
                                                        diff_sq + rows);
    else
      row_sums_kernel<<<kBlocks, kThreads, 0, stream>>>(static_cast<const __nv_bfloat16*>(got), want, rows,
                                                        s.head_dim, diff_sq, diff_sq + rows);
    TB_CUDA_CHECK(cudaGetLastError());
    std::vector<double> row_sums(2 * rows);
    TB_CUDA_CHECK(cudaMemcpyAsync(row_sums.data(), sums.get(), sums.bytes(), cudaMemcpyDeviceToHost, stream));
    TB_CUDA_CHECK(cudaStreamSynchronize(stream));
    // Row r: batch r / (seq heads), token r / heads % seq, head r % heads.
    std::vector<double> slice_sums(2 * n, 0.0);
    for (std::size_t r = 0; r < rows; ++r) {
      const std::size_t slice = r / (s.seq * s.heads) * s.heads + r % s.heads;
      slice_sums[slice] += row_sums[r];
      slice_sums[n + slice] += row_sums[rows + r];
    }
    const WorstSlice worst_slice = worst_slice_norm(slice_sums.data(), slice_sums.data() + n, n);
    const WorstSlice worst_row = worst_slice_norm(row_sums.data(), row_sums.data() + rows, rows);
    out.slice_norm_error = worst_slice.error;
    out.worst_slice = worst_slice.slice;
    out.row_norm_error = worst_row.error;
    out.worst_row = worst_row.slice;
    if (out.nonfinite) out.slice_norm_error = out.row_norm_error = std::numeric_limits<double>::infinity();
  }
  return out;
}

}  // namespace trainbench
