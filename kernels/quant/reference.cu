// The quantization oracle: one thread per scale group, plain loops, e4m3.cuh's software encoder.
// Kept obviously correct rather than fast.
#include "kernels/quant/e4m3.cuh"
#include "kernels/quant/quantize.cuh"

namespace trainbench::kernels {
namespace {

// Group `g` covers x[r, c] for r in [r0, r1), c in [c0, c1); q at q_index(r, c); its scale at s.
struct Group {
  int r0, r1, c0, c1;
  long long scale_index;
};

__device__ Group group_of(const QuantArgs& a, long long g) {
  const int G = kQuantGroup;
  const int col_groups = (a.cols + G - 1) / G;
  switch (a.granularity) {
    case QuantGranularity::Group1x128:
      if (a.transpose) {  // g = row_group * cols + col
        const int rg = static_cast<int>(g / a.cols), c = static_cast<int>(g % a.cols);
        return {rg * G, min(a.rows, rg * G + G), c, c + 1, g};
      } else {  // scales [col_group, row]
        const int r = static_cast<int>(g / col_groups), cg = static_cast<int>(g % col_groups);
        return {r, r + 1, cg * G, min(a.cols, cg * G + G), static_cast<long long>(cg) * a.rows + r};
      }
    case QuantGranularity::Block128x128: {
      const int rg = static_cast<int>(g / col_groups), cg = static_cast<int>(g % col_groups);
      return {rg * G, min(a.rows, rg * G + G), cg * G, min(a.cols, cg * G + G), g};
    }
    case QuantGranularity::Tensor: break;  // quantize_e4m3_reference handles it element-parallel
  }
  return {0, 0, 0, 0, 0};
}

__global__ void reference_kernel(QuantArgs a, long long groups) {
  const long long g = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x;
  if (g >= groups) return;
  const Group grp = group_of(a, g);
  float m = 0.f;
  for (int r = grp.r0; r < grp.r1; ++r)
    for (int c = grp.c0; c < grp.c1; ++c) m = fmaxf(m, fabsf(__bfloat162float(a.x[static_cast<long long>(r) * a.cols + c])));
  const float mul = e4m3_quant_multiplier(m);
  a.scales[grp.scale_index] = e4m3_dequant_scale(m);
  for (int r = grp.r0; r < grp.r1; ++r)
    for (int c = grp.c0; c < grp.c1; ++c) {
      const long long out = a.transpose ? static_cast<long long>(c) * a.rows + r : static_cast<long long>(r) * a.cols + c;
      a.q[out] = e4m3_from_float(__bfloat162float(a.x[static_cast<long long>(r) * a.cols + c]) * mul);
    }
}

// Per tensor, one group too large for one thread: an element-parallel amax (atomicMax on the
// bits of non-negative floats orders them as floats), then one thread per element.
__global__ void reference_amax_kernel(QuantArgs a, long long n, unsigned* amax) {
  const long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x;
  if (i < n) atomicMax(amax, __float_as_uint(fabsf(__bfloat162float(a.x[i]))));
}

__global__ void reference_tensor_kernel(QuantArgs a, long long n, const unsigned* amax) {
  const long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x;
  const float m = __uint_as_float(*amax);
  if (i == 0) a.scales[0] = e4m3_dequant_scale(m);
  if (i < n) a.q[i] = e4m3_from_float(__bfloat162float(a.x[i]) * e4m3_quant_multiplier(m));
}

}  // namespace

void quantize_e4m3_reference(const QuantArgs& a, cudaStream_t stream) {
  if (a.granularity == QuantGranularity::Tensor) {
    const long long n = static_cast<long long>(a.rows) * a.cols;
    const auto blocks = static_cast<unsigned>((n + 255) / 256);
    auto* amax = reinterpret_cast<unsigned*>(a.amax_workspace);
    cudaMemsetAsync(amax, 0, sizeof(unsigned), stream);
    reference_amax_kernel<<<blocks, 256, 0, stream>>>(a, n, amax);
    reference_tensor_kernel<<<blocks, 256, 0, stream>>>(a, n, amax);
    return;
  }
  const long long groups = quant_scale_count(a);
  reference_kernel<<<static_cast<unsigned>((groups + 127) / 128), 128, 0, stream>>>(a, groups);
}

}  // namespace trainbench::kernels
