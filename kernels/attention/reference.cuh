// The element-wise and row-wise steps of the unfused attention reference (reference.cu); the
// matmuls between them are cuBLAS's (bench/attention_oracle.cpp). Everything here is FP32 and
// per head: tensors in layout (batch * heads, seq, head_dim), scores (batch * heads, seq_q, seq_kv).
// Written to be read and trusted, not to be fast.
#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

namespace trainbench::kernels {

// x (batch, seq, heads_in, head_dim) BF16 -> out (batch, heads_out, seq, head_dim) FP32, head
// h of out copying head h / (heads_out / heads_in) of x (GQA expanded; heads_in divides heads_out).
void attention_to_heads_major_f32(const __nv_bfloat16* x, float* out, int batch, int seq, int heads_in,
                                  int heads_out, int head_dim, cudaStream_t stream);

// x (batch, heads_in, seq, head_dim) FP32 -> out (batch, seq, heads_in / group, head_dim) FP32,
// each output head the sum of `group` consecutive input heads (group 1: a transpose; the sum
// folds GQA's expanded dK, dV back onto the KV heads).
void attention_from_heads_major_sum_groups(const float* x, float* out, int batch, int seq, int heads_in, int group,
                                           int head_dim, cudaStream_t stream);

// In place, `rows` rows of seq_kv scaled scores -> softmax probabilities; masked keys (causal,
// bottom-right aligned) get 0. Row r is query r % seq_q of its head (rows hold whole heads).
// lse[r] = log(sum_j exp(s_j)) over the visible keys, -inf (and a row of zeros) when none.
void attention_masked_softmax(float* scores, float* lse, long long rows, int seq_q, int seq_kv, bool causal,
                              cudaStream_t stream);

// In place, dP -> dS = P * (dP - rowsum(P * dP)) * scale, row by row (rowsum(P * dP) equals
// rowsum(dO * O), the D of FlashAttention's backward).
void attention_softmax_backward(const float* p, float* dp, long long rows, int seq_kv, float scale,
                                cudaStream_t stream);

}  // namespace trainbench::kernels
