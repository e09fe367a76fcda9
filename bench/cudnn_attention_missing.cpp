// attention.cudnn in a build that found no cuDNN or no cuDNN frontend headers: the impl is still
// registered, and reports itself unavailable with CMake's reason and what to install.
#include "bench/cudnn_attention.hpp"

#include "harness/error.hpp"

namespace trainbench {

struct CudnnAttention::Plans {};

std::string cudnn_attention_missing() { return TRAINBENCH_CUDNN_MISSING; }

CudnnAttention::CudnnAttention(const Attention&) { throw Error("attention.cudnn: " + cudnn_attention_missing()); }

CudnnAttention::~CudnnAttention() = default;

// Unreachable: no object can be made. Defined so that the build links either way.
void CudnnAttention::forward(const __nv_bfloat16*, const __nv_bfloat16*, const __nv_bfloat16*, __nv_bfloat16*, float*,
                             cudaStream_t) {
  throw Error("attention.cudnn: " + cudnn_attention_missing());
}

void CudnnAttention::backward(const __nv_bfloat16*, const __nv_bfloat16*, const __nv_bfloat16*,
                              const __nv_bfloat16*, const float*, const __nv_bfloat16*, __nv_bfloat16*,
                              __nv_bfloat16*, __nv_bfloat16*, cudaStream_t) {
  throw Error("attention.cudnn: " + cudnn_attention_missing());
}

std::string CudnnAttention::versions() const { return "no cuDNN in this build"; }

}  // namespace trainbench
