// attention.reference: attention computed unfused on the GPU, in FP32 from the BF16 inputs.
// The oracle the fused kernels are verified against at sizes the float64 host reference cannot
// reach, and the naive baseline they are timed beside.
//
// Forward: Q, K, V to FP32, head-major, GQA expanded (kernels/attention/reference.cu); per
// chunk of whole heads S = Q K^T / sqrt(D) (cuBLAS SGEMM, strided batched, pedantic FP32: no
// TF32), the masked softmax in place (writing P and the LSE), O = P V; O back to (B, Sq, Hq, D).
// Backward: S and P again, dP = dO V^T, dS = P (dP - rowsum(P dP)) / sqrt(D) in place,
// dV = P^T dO, dQ = dS K, dK = dS^T Q; dK and dV summed over each KV head's query heads.
// The scores of one chunk (one buffer forward, P and dS backward) stay within the budget given.
#pragma once
#include <cstddef>
#include <memory>

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include "harness/device_buffer.hpp"
#include "harness/ops.hpp"

namespace trainbench {

// attention.reference (the impl) holds all of an op's scores at once and refuses ops whose
// scores (AttentionOracle::score_bytes) exceed this; suites include it only below.
inline constexpr double kAttentionReferenceMaxScoreBytes = 8.0 * (1ull << 30);

class AttentionOracle {
 public:
  // Allocates every buffer the op's pass needs (throws Error naming the one that did not fit).
  AttentionOracle(const Attention& op, std::size_t score_budget_bytes);
  ~AttentionOracle();
  AttentionOracle(const AttentionOracle&) = delete;
  AttentionOracle& operator=(const AttentionOracle&) = delete;

  // o: FP32 (B, Sq, Hq, D); lse: FP32 (B, Hq, Sq). Enqueues only.
  void forward(const __nv_bfloat16* q, const __nv_bfloat16* k, const __nv_bfloat16* v, float* o, float* lse,
               cudaStream_t stream);
  // dq, dk, dv: FP32, shaped like q, k, v. Needs an op whose pass is "bwd". Enqueues only.
  void backward(const __nv_bfloat16* q, const __nv_bfloat16* k, const __nv_bfloat16* v, const __nv_bfloat16* d_o,
                float* dq, float* dk, float* dv, cudaStream_t stream);

  // Bytes of FP32 score matrices the whole op holds at once: B Hq Sq Sk 4, twice for "bwd".
  static double score_bytes(const Attention& op);
  // Heads (of B Hq) per chunk under the budget: at least 1.
  static std::size_t heads_per_chunk(const Attention& op, std::size_t score_budget_bytes);

 private:
  struct Blas;
  Attention op_;
  std::size_t chunk_heads_;
  std::unique_ptr<Blas> blas_;
  DeviceBuffer q_, k_, v_, o_, d_o_, dq_, dk_, dv_, scores_, d_scores_, lse_scratch_;
};

}  // namespace trainbench
