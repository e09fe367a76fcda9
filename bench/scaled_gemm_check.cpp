#include "bench/scaled_gemm_check.hpp"

#include <fmt/format.h>

#include "harness/device_buffer.hpp"
#include "harness/error.hpp"
#include "harness/verify.hpp"

namespace trainbench {

Verification verify_scaled_gemm(const kernels::ScaledGemmArgs& args, double tolerance, const char* operands,
                                cudaStream_t stream) {
  const auto m = static_cast<std::size_t>(args.m), n = static_cast<std::size_t>(args.n);
  DeviceBuffer want(m * n * 4, "the reference output");
  kernels::ScaledGemmArgs ref = args;
  ref.c = want.get();
  kernels::scaled_gemm_reference(ref, stream);
  TB_CUDA_CHECK(cudaGetLastError());
  const ReferenceComparison r = compare_with_reference(args.c, FloatType::Bf16, want.as<float>(), m * n, stream);
  Verification v;
  v.error = r.max_error;
  v.tolerance = tolerance;
  v.norm_error = r.norm_error;
  v.detail = fmt::format(
      "max |c - ref| / (|ref| + rms(ref)) against FP64 sums of {} (rounded to FP32); rms(ref) {:.3g}; worst at (i, "
      "j) = ({}, {}); ||c - ref|| / ||ref|| {:.3g}; {} non-finite outputs",
      operands, r.rms_reference, r.worst_index % m, r.worst_index / m, r.norm_error, r.nonfinite);
  return v;
}

}  // namespace trainbench
