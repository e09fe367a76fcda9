// Turns a GemmArgs' run-time layout and output type into the template arguments every GEMM kernel
// here is written with: f.template operator()<kLayout, OutT>() for the one combination asked for.
#pragma once
#include <cuda_bf16.h>

#include "kernels/gemm/gemm.cuh"

namespace trainbench::kernels {

template <typename F>
void dispatch_gemm(const GemmArgs& args, F&& f) {
  const auto with_out = [&]<GemmLayout kLayout>() {
    if (args.c_f32) f.template operator()<kLayout, float>();
    else f.template operator()<kLayout, __nv_bfloat16>();
  };
  switch (args.layout) {
    case GemmLayout::TN: with_out.template operator()<GemmLayout::TN>(); break;
    case GemmLayout::NN: with_out.template operator()<GemmLayout::NN>(); break;
    case GemmLayout::NT: with_out.template operator()<GemmLayout::NT>(); break;
  }
}

// One output element, converted from the FP32 accumulator.
template <typename OutT>
__device__ __forceinline__ void store_out(OutT* c, float v) {
  if constexpr (sizeof(OutT) == 4) *c = v;
  else *c = __float2bfloat16_rn(v);
}

}  // namespace trainbench::kernels
