// Attention computed plainly on the host in float64: the oracle for the attention kernels at
// small sizes (and for tests of the larger on-GPU reference).
//
// Layout (batch, seq, heads, head_dim), row-major. heads_kv divides heads_q; query head h reads
// KV head h / (heads_q / heads_kv). Causal masks are aligned to the bottom right, as
// FlashAttention does: query i sees keys j <= i + (seq_kv - seq_q). Softmax scale 1/sqrt(D).
// A query row that sees no key (possible when seq_q > seq_kv) has O = 0 and LSE = -inf.
#pragma once
#include <cstddef>
#include <vector>

#include "harness/ops.hpp"

namespace trainbench {

struct AttentionForward {
  std::vector<double> o;    // (batch, seq_q, heads_q, head_dim)
  std::vector<double> lse;  // (batch, heads_q, seq_q): log of the softmax denominator of scaled scores
};

struct AttentionGradients {
  std::vector<double> dq, dk, dv;  // shaped like q, k, v
};

// Throws Error when the vectors do not match the op's sizes.
AttentionForward attention_forward_reference(const Attention& op, const std::vector<double>& q,
                                             const std::vector<double>& k, const std::vector<double>& v);

// The gradients of sum(O * dO) with respect to Q, K, V.
AttentionGradients attention_backward_reference(const Attention& op, const std::vector<double>& q,
                                                const std::vector<double>& k, const std::vector<double>& v,
                                                const std::vector<double>& d_o);

// The fused kernels' error measure (bench/impls_attention.cpp says why): over the (batch, head)
// slices of a (batch, seq, heads, head_dim) tensor, the largest ||got - want|| / ||want||, zero
// reference slices as harness/verify.hpp's worst_slice_norm takes them (the GPU comparison's
// rule); NaN or infinity in `got` gives infinity. Throws Error when the sizes do not match.
double worst_slice_norm_error(const std::vector<double>& got, const std::vector<double>& want, std::size_t seq,
                              std::size_t heads, std::size_t head_dim);

}  // namespace trainbench
