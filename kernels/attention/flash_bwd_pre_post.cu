// The FlashAttention backward's first and last kernels, shared by versions 2 (mma.sync) and 4
// (wgmma): the preprocessing that every query row's step of the main kernel reads (D = rowsum(dO
// O), the LSE in base 2), and the conversion of the FP32 accumulators the main kernel added into
// (dQ; dK and dV under GQA) to BF16. Both are memory-bound and arch-neutral.
#include "kernels/attention/attention.cuh"
#include "kernels/common/ptx.cuh"

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace trainbench::kernels {
namespace {

// One thread per 16-byte chunk of a row of O and dO; rows in (batch, head, padded row) order,
// the order of the LSE and D outputs.
template <int kHeadDim>
__global__ void __launch_bounds__(256)
attention_bwd_preprocess_kernel(const __nv_bfloat16* __restrict__ o, const __nv_bfloat16* __restrict__ d_o,
                                const float* __restrict__ lse, float* __restrict__ dq_accum,
                                float* __restrict__ lse_log2, float* __restrict__ d_out, AttentionShape shape,
                                int seq_q_padded) {
  constexpr int kParts = kHeadDim / 8;  // threads per row: 8 or 16, aligned within a warp
  const long long rows = (long long)shape.batch * shape.heads_q * seq_q_padded;
  const long long row = (long long)blockIdx.x * (256 / kParts) + threadIdx.x / kParts;
  const int part = threadIdx.x % kParts;
  const int i = int(row % seq_q_padded);
  const long long bh = row / seq_q_padded;
  const int h = int(bh % shape.heads_q), b = int(bh / shape.heads_q);
  const bool real = row < rows && i < shape.seq_q;
  float acc = 0.f;
  if (real) {
    const std::size_t at =
        ((std::size_t(b) * shape.seq_q + i) * shape.heads_q + h) * kHeadDim + std::size_t(part) * 8;
    const uint4 ov = *reinterpret_cast<const uint4*>(o + at);
    const uint4 dv = *reinterpret_cast<const uint4*>(d_o + at);
    const auto* o2 = reinterpret_cast<const __nv_bfloat162*>(&ov);
    const auto* d2 = reinterpret_cast<const __nv_bfloat162*>(&dv);
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const float2 of = __bfloat1622float2(o2[j]), df = __bfloat1622float2(d2[j]);
      acc = fmaf(of.x, df.x, acc);
      acc = fmaf(of.y, df.y, acc);
    }
    float4* z = reinterpret_cast<float4*>(dq_accum + at);
    z[0] = make_float4(0.f, 0.f, 0.f, 0.f);
    z[1] = make_float4(0.f, 0.f, 0.f, 0.f);
  }
#pragma unroll
  for (int offset = kParts / 2; offset > 0; offset /= 2) acc += __shfl_xor_sync(0xffffffffu, acc, offset);
  if (part == 0 && row < rows) {
    d_out[row] = acc;
    const float l = real ? lse[bh * shape.seq_q + i] : -INFINITY;
    lse_log2[row] = l == -INFINITY ? INFINITY : l * 1.4426950408889634f;  // log2(e)
  }
}

// out = scale * accumulator, rounded to BF16; 8 elements per thread (count is a multiple of 8).
__global__ void __launch_bounds__(256)
attention_bwd_convert_kernel(const float* __restrict__ accum, __nv_bfloat16* __restrict__ out,
                             std::size_t count, float scale) {
  for (std::size_t i = (std::size_t(blockIdx.x) * blockDim.x + threadIdx.x) * 8; i < count;
       i += std::size_t(gridDim.x) * blockDim.x * 8) {
    const float4 a = *reinterpret_cast<const float4*>(accum + i);
    const float4 c = *reinterpret_cast<const float4*>(accum + i + 4);
    uint4 packed;
    packed.x = ptx::pack_bf16x2(a.x * scale, a.y * scale);
    packed.y = ptx::pack_bf16x2(a.z * scale, a.w * scale);
    packed.z = ptx::pack_bf16x2(c.x * scale, c.y * scale);
    packed.w = ptx::pack_bf16x2(c.z * scale, c.w * scale);
    *reinterpret_cast<uint4*>(out + i) = packed;
  }
}

template <int kHeadDim>
void preprocess(const AttentionBwdArgs& args, cudaStream_t stream) {
  const AttentionShape& s = args.shape;
  const AttentionBwdWorkspace w = attention_bwd_workspace(s);
  auto* base = static_cast<unsigned char*>(args.workspace);
  const long long rows = (long long)s.batch * s.heads_q * (long long)w.seq_q_padded;
  constexpr int kRowsPerBlock = 256 / (kHeadDim / 8);
  attention_bwd_preprocess_kernel<kHeadDim><<<unsigned((rows + kRowsPerBlock - 1) / kRowsPerBlock), 256, 0, stream>>>(
      args.o, args.d_o, args.lse, reinterpret_cast<float*>(base), reinterpret_cast<float*>(base + w.lse_log2_offset),
      reinterpret_cast<float*>(base + w.d_offset), s, int(w.seq_q_padded));
}

void convert(const float* accum, __nv_bfloat16* out, std::size_t count, float scale, cudaStream_t stream) {
  const std::size_t blocks = (count / 8 + 255) / 256;
  attention_bwd_convert_kernel<<<unsigned(blocks < 65536 ? blocks : 65536), 256, 0, stream>>>(accum, out, count,
                                                                                                  scale);
}

}  // namespace

void attention_bwd_preprocess(const AttentionBwdArgs& args, cudaStream_t stream) {
  if (args.shape.head_dim == 64) preprocess<64>(args, stream);
  else if (args.shape.head_dim == 128) preprocess<128>(args, stream);
  const AttentionBwdWorkspace w = attention_bwd_workspace(args.shape);
  if (args.shape.heads_q == args.shape.heads_kv) return;
  const cudaError_t err =
      cudaMemsetAsync(static_cast<unsigned char*>(args.workspace) + w.dk_offset, 0, w.bytes - w.dk_offset, stream);
  if (err != cudaSuccess)
    throw std::runtime_error(std::string("attention backward: zeroing the dK and dV accumulators failed: ") +
                             cudaGetErrorString(err));
}

void attention_bwd_finish(const AttentionBwdArgs& args, cudaStream_t stream) {
  const AttentionShape& s = args.shape;
  const AttentionBwdWorkspace w = attention_bwd_workspace(s);
  const auto* base = static_cast<const unsigned char*>(args.workspace);
  const float scale = float(1.0 / std::sqrt(double(s.head_dim)));
  const auto at = [&](std::size_t offset) { return reinterpret_cast<const float*>(base + offset); };
  convert(at(0), args.dq, std::size_t(s.batch) * s.seq_q * s.heads_q * s.head_dim, scale, stream);
  if (args.shape.heads_q == args.shape.heads_kv) return;
  const std::size_t kv = std::size_t(s.batch) * s.seq_kv * s.heads_kv * s.head_dim;
  convert(at(w.dk_offset), args.dk, kv, scale, stream);
  convert(at(w.dv_offset), args.dv, kv, 1.f, stream);
}

}  // namespace trainbench::kernels
