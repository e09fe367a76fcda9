// Verification helpers for floating-point outputs: bounded random inputs and a comparison against
// a reference computed on the GPU. (Exact byte comparisons live in harness/device_buffer.hpp.)
#pragma once
#include <cstddef>
#include <cstdint>

#include <cuda_runtime_api.h>

namespace trainbench {

enum class FloatType { Bf16, F32 };

// Fills `count` BF16 values, uniform in [-1, 1] from a hash of (seed, index): reproducible,
// bounded (so sums of k products stay far from overflow), and never exactly zero.
void fill_uniform_bf16(void* dst, std::size_t count, std::uint64_t seed, cudaStream_t stream);

struct ReferenceComparison {
  // max over elements of |got - want| / (|want| + rms(want)): a relative error that stays
  // meaningful where the reference is near zero. +inf when any output is NaN or infinite.
  double max_error = 0;
  // ||got - want|| / ||want|| (Euclidean norms over all elements): the normwise relative error.
  // 1 for an output of zeros; +inf when any output is NaN or infinite.
  double norm_error = 0;
  double rms_reference = 0;
  std::uint64_t nonfinite = 0;  // outputs that are NaN or infinite (poison left unwritten)
  std::uint64_t worst_index = 0;  // where max_error occurs (its low 32 bits)
  // With HeadSlices: the largest over (batch, head) slices of ||got - want|| / ||want|| within
  // the slice, and that slice's index (batch * heads + head), as worst_slice_norm takes them.
  double slice_norm_error = 0;
  std::uint64_t worst_slice = 0;
  // With HeadSlices: the same over rows of head_dim values (one token of one head), and that
  // row's index ((batch * seq + token) * heads + head).
  double row_norm_error = 0;
  std::uint64_t worst_row = 0;
};

// How an attention tensor (batch, seq, heads, head_dim), row-major, falls into (batch, head)
// slices of seq x head_dim values.
struct HeadSlices {
  std::size_t seq = 0, heads = 0, head_dim = 0;
};

// From per-slice sums of squared differences and of squared reference values (equal lengths):
// the largest sqrt(diff_sq / want_sq) and its slice. A slice whose reference is zero (one key per
// row: P = 1, so dS = 0 and dQ = dK = 0; a row of O that sees no key) is divided by the mean
// slice's sum instead, so that a value of a typical slice's size written there errs by about 1,
// or by 1 where every slice is zero. compare_with_reference and worst_slice_norm_error both end
// here.
struct WorstSlice {
  double error = 0;
  std::uint64_t slice = 0;
};
WorstSlice worst_slice_norm(const double* diff_sq, const double* want_sq, std::size_t slices);

// Compares `count` outputs of type `type` with an FP32 reference; synchronizes the stream.
// With `slices`, also the normwise error of each (batch, head) slice (slice_norm_error) and of each
// row of head_dim values (row_norm_error).
ReferenceComparison compare_with_reference(const void* got, FloatType type, const float* want, std::size_t count,
                                           cudaStream_t stream, const HeadSlices* slices = nullptr);

}  // namespace trainbench
