// attention.cudnn: cuDNN's fused scaled-dot-product attention (the cuDNN frontend's graph API:
// sdpa with its softmax stats, and sdpa_backward), forward and backward, on the tensors of
// kernels/attention/attention.cuh: BF16 (batch, seq, heads, head_dim), GQA/MQA, causal masks
// aligned to the bottom right, scale 1 / sqrt(D), the LSE in natural log, FP32 (B, Hq, Sq).
//
// cuDNN's stats are max + ln(sum exp(s - max)) over the scaled scores s: our LSE as it stands,
// so they are written straight into it (no conversion; the frontend's base-2 option stays off).
// Rows that see no key (causal, seq_q > seq_kv) are cut off before cuDNN sees them: it runs on
// the last seq_kv query rows (where bottom-right and top-left alignment coincide), and the first
// seq_q - seq_kv rows get O = 0, LSE = -inf, dQ = 0, this project's convention for them.
//
// Graphs, execution plans and the workspace are built once per op, in the constructor, outside
// any timed launch; forward() and backward() only execute the plans.
//
// Built only where cuDNN and the frontend headers were found (CMake: TRAINBENCH_CUDNN_*); in a
// build without them cudnn_attention_missing() says what to install and the constructor throws.
#pragma once
#include <memory>
#include <string>

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include "harness/ops.hpp"

namespace trainbench {

// Empty when this build has cuDNN's SDPA; otherwise why not and what to install.
std::string cudnn_attention_missing();

class CudnnAttention {
 public:
  // Builds the forward graph and plan, and for a "bwd" op the backward's too (the forward
  // produces the O and LSE it reads). Needs a GPU. Throws Error with cuDNN's reason when the
  // loaded cuDNN cannot run the op on this GPU.
  explicit CudnnAttention(const Attention& op);
  ~CudnnAttention();
  CudnnAttention(const CudnnAttention&) = delete;
  CudnnAttention& operator=(const CudnnAttention&) = delete;

  // o: BF16 like q; lse: FP32 (B, Hq, Sq). Enqueues only.
  void forward(const __nv_bfloat16* q, const __nv_bfloat16* k, const __nv_bfloat16* v, __nv_bfloat16* o, float* lse,
               cudaStream_t stream);
  // From the forward's o and lse: dq, dk, dv (BF16, shaped like q, k, v). Needs a "bwd" op.
  // Enqueues only.
  void backward(const __nv_bfloat16* q, const __nv_bfloat16* k, const __nv_bfloat16* v, const __nv_bfloat16* o,
                const float* lse, const __nv_bfloat16* d_o, __nv_bfloat16* dq, __nv_bfloat16* dk, __nv_bfloat16* dv,
                cudaStream_t stream);

  // The loaded cuDNN's version (cudnnGetVersion(), e.g. 91900) and the frontend's headers'.
  std::string versions() const;

 private:
  struct Plans;
  std::unique_ptr<Plans> plans_;
};

}  // namespace trainbench
