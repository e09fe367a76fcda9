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

// Two adjacent output elements in one 8-byte (FP32) or 4-byte (BF16) store; c must be aligned
// to that size (an even element index in a row or column of even length).
template <typename OutT>
__device__ __forceinline__ void store_out_pair(OutT* c, float v0, float v1) {
  if constexpr (sizeof(OutT) == 4) *reinterpret_cast<float2*>(c) = make_float2(v0, v1);
  else *reinterpret_cast<__nv_bfloat162*>(c) = __floats2bfloat162_rn(v0, v1);
}

}  // namespace trainbench::kernels
