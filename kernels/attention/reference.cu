// The unfused attention reference's own kernels: layout changes (with GQA expanded and folded
// back), the masked softmax and its backward. Plain loops, one CTA per row for the row-wise
// steps, accurate expf/logf; never timed on their own.
#include "kernels/attention/attention.cuh"
#include "kernels/attention/reference.cuh"

#include <cmath>
#include <cstddef>

namespace trainbench::kernels {
namespace {

constexpr int kThreads = 256;
constexpr int kMaxBlocks = 65535;

__global__ void attention_to_heads_major_kernel(const __nv_bfloat16* __restrict__ x, float* __restrict__ out, int batch,
                                      int seq, int heads_in, int heads_out, int head_dim) {
  const std::size_t n = std::size_t(batch) * heads_out * seq * head_dim;
  const int group = heads_out / heads_in;
  for (std::size_t e = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; e < n;
       e += std::size_t(gridDim.x) * blockDim.x) {
    // e indexes out: (b, h, s, d)
    const int d = int(e % head_dim);
    const int s = int(e / head_dim % seq);
    const int h = int(e / (std::size_t(head_dim) * seq) % heads_out);
    const std::size_t b = e / (std::size_t(head_dim) * seq * heads_out);
    out[e] = __bfloat162float(x[((b * seq + s) * heads_in + h / group) * head_dim + d]);
  }
}

__global__ void attention_from_heads_major_kernel(const float* __restrict__ x, float* __restrict__ out, int batch,
                                                  int seq, int heads_in, int group, int head_dim) {
  const int heads_out = heads_in / group;
  const std::size_t n = std::size_t(batch) * seq * heads_out * head_dim;
  for (std::size_t e = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; e < n;
       e += std::size_t(gridDim.x) * blockDim.x) {
    // e indexes out: (b, s, h, d)
    const int d = int(e % head_dim);
    const int h = int(e / head_dim % heads_out);
    const int s = int(e / (std::size_t(head_dim) * heads_out) % seq);
    const std::size_t b = e / (std::size_t(head_dim) * heads_out * seq);
    float sum = 0.f;
    for (int g = 0; g < group; ++g) sum += x[((b * heads_in + h * group + g) * seq + s) * head_dim + d];
    out[e] = sum;
  }
}

// Block-wide reduction of one value per thread; every thread gets the result.
template <typename Op>
__device__ float block_reduce(float v, Op op, float* scratch) {
  for (int offset = 16; offset > 0; offset /= 2) v = op(v, __shfl_xor_sync(0xffffffffu, v, offset));
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  __syncthreads();  // scratch may still be read from the previous reduction
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  v = scratch[0];
  for (int w = 1; w < kThreads / 32; ++w) v = op(v, scratch[w]);
  return v;
}

__global__ void __launch_bounds__(kThreads)
    attention_masked_softmax_kernel(float* __restrict__ scores, float* __restrict__ lse, long long rows, int seq_q,
                                    int seq_kv, bool causal) {
  __shared__ float scratch[kThreads / 32];
  const auto max_op = [](float a, float b) { return fmaxf(a, b); };
  const auto sum_op = [](float a, float b) { return a + b; };
  for (long long r = blockIdx.x; r < rows; r += gridDim.x) {
    float* row = scores + r * seq_kv;
    const int visible = attention_visible_keys(int(r % seq_q), seq_q, seq_kv, causal);
    float mx = -INFINITY;
    for (int j = threadIdx.x; j < visible; j += kThreads) mx = fmaxf(mx, row[j]);
    mx = block_reduce(mx, max_op, scratch);
    float sum = 0.f;
    for (int j = threadIdx.x; j < visible; j += kThreads) sum += expf(row[j] - mx);
    sum = block_reduce(sum, sum_op, scratch);
    const float inv = visible > 0 ? 1.f / sum : 0.f;
    for (int j = threadIdx.x; j < seq_kv; j += kThreads) row[j] = j < visible ? expf(row[j] - mx) * inv : 0.f;
    if (threadIdx.x == 0) lse[r] = visible > 0 ? mx + logf(sum) : -INFINITY;
  }
}

__global__ void __launch_bounds__(kThreads)
    attention_softmax_backward_kernel(const float* __restrict__ p, float* __restrict__ dp, long long rows, int seq_kv,
                                      float scale) {
  __shared__ float scratch[kThreads / 32];
  const auto sum_op = [](float a, float b) { return a + b; };
  for (long long r = blockIdx.x; r < rows; r += gridDim.x) {
    const float* p_row = p + r * seq_kv;
    float* dp_row = dp + r * seq_kv;
    float dot = 0.f;
    for (int j = threadIdx.x; j < seq_kv; j += kThreads) dot += p_row[j] * dp_row[j];
    dot = block_reduce(dot, sum_op, scratch);
    for (int j = threadIdx.x; j < seq_kv; j += kThreads) dp_row[j] = p_row[j] * (dp_row[j] - dot) * scale;
  }
}

int grid_for(std::size_t n) {
  const std::size_t blocks = (n + kThreads - 1) / kThreads;
  return int(blocks < kMaxBlocks ? (blocks ? blocks : 1) : kMaxBlocks);
}

int grid_for_rows(long long rows) { return int(rows < kMaxBlocks ? (rows ? rows : 1) : kMaxBlocks); }

}  // namespace

void attention_to_heads_major_f32(const __nv_bfloat16* x, float* out, int batch, int seq, int heads_in,
                                  int heads_out, int head_dim, cudaStream_t stream) {
  const std::size_t n = std::size_t(batch) * heads_out * seq * head_dim;
  attention_to_heads_major_kernel<<<grid_for(n), kThreads, 0, stream>>>(x, out, batch, seq, heads_in, heads_out,
                                                                        head_dim);
}

void attention_from_heads_major_sum_groups(const float* x, float* out, int batch, int seq, int heads_in, int group,
                                           int head_dim, cudaStream_t stream) {
  const std::size_t n = std::size_t(batch) * seq * (heads_in / group) * head_dim;
  attention_from_heads_major_kernel<<<grid_for(n), kThreads, 0, stream>>>(x, out, batch, seq, heads_in, group,
                                                                          head_dim);
}

void attention_masked_softmax(float* scores, float* lse, long long rows, int seq_q, int seq_kv, bool causal,
                              cudaStream_t stream) {
  attention_masked_softmax_kernel<<<grid_for_rows(rows), kThreads, 0, stream>>>(scores, lse, rows, seq_q, seq_kv,
                                                                                causal);
}

void attention_softmax_backward(const float* p, float* dp, long long rows, int seq_kv, float scale,
                                cudaStream_t stream) {
  attention_softmax_backward_kernel<<<grid_for_rows(rows), kThreads, 0, stream>>>(p, dp, rows, seq_kv, scale);
}

}  // namespace trainbench::kernels
