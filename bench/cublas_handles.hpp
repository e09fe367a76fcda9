// The vendor impls' cuBLAS and cuBLASLt calls: a failed one throws Error naming the call and
// cuBLAS's reason, and a handle (cublasHandle_t, cublasLtHandle_t, a matmul descriptor, a layout,
// a preference) destroys itself, also when a constructor throws half-way; the matrix layouts and the
// algorithm choice the cuBLASLt impls share.
#pragma once
#include <cublasLt.h>
#include <cublas_v2.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <type_traits>

#include <fmt/format.h>

#include "harness/error.hpp"

namespace trainbench {

inline void check_cublas(cublasStatus_t status, const char* call) {
  if (status != CUBLAS_STATUS_SUCCESS)
    throw Error(fmt::format("{} failed: {} ({})", call, cublasGetStatusName(status), cublasGetStatusString(status)));
}

template <auto kDestroy>
struct CublasDestroy {
  template <typename T>
  void operator()(T* p) const { kDestroy(p); }
};
template <typename Handle, auto kDestroy>
using Owned = std::unique_ptr<std::remove_pointer_t<Handle>, CublasDestroy<kDestroy>>;

// create_owned<cublasLtHandle_t, cublasLtDestroy>(cublasLtCreate, "cublasLtCreate"), and so on.
template <typename Handle, auto kDestroy, typename Create, typename... Args>
Owned<Handle, kDestroy> create_owned(Create create_fn, const char* call, Args... args) {
  Handle h = nullptr;
  check_cublas(create_fn(&h, args...), call);
  return Owned<Handle, kDestroy>(h);
}

// The workspace every cuBLASLt impl offers its heuristic and passes to cublasLtMatmul.
inline constexpr std::size_t kCublasLtWorkspaceBytes = 32ull << 20;

using CublasLtLayout = Owned<cublasLtMatrixLayout_t, cublasLtMatrixLayoutDestroy>;

// A column-major rows x cols matrix with ld = rows.
inline CublasLtLayout cublaslt_layout(cudaDataType_t type, std::uint64_t rows, std::uint64_t cols) {
  return create_owned<cublasLtMatrixLayout_t, cublasLtMatrixLayoutDestroy>(
      cublasLtMatrixLayoutCreate, "cublasLtMatrixLayoutCreate", type, rows, cols, static_cast<std::int64_t>(rows));
}

// The heuristic's first algorithm for D = op(A) op(B) (C = D in place) with up to
// kCublasLtWorkspaceBytes of workspace; nullopt when it offers none (each impl says why in its own words).
inline std::optional<cublasLtMatmulAlgo_t> cublaslt_first_algo(cublasLtHandle_t handle, cublasLtMatmulDesc_t desc,
                                                               cublasLtMatrixLayout_t a, cublasLtMatrixLayout_t b,
                                                               cublasLtMatrixLayout_t d,
                                                               cublasLtMatmulPreference_t preference) {
  const std::uint64_t workspace_bytes = kCublasLtWorkspaceBytes;
  check_cublas(cublasLtMatmulPreferenceSetAttribute(preference, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                    &workspace_bytes, sizeof workspace_bytes),
               "cublasLtMatmulPreferenceSetAttribute(CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES)");
  cublasLtMatmulHeuristicResult_t result{};
  int found = 0;
  check_cublas(cublasLtMatmulAlgoGetHeuristic(handle, desc, a, b, d, d, preference, 1, &result, &found),
               "cublasLtMatmulAlgoGetHeuristic");
  if (found == 0) return std::nullopt;
  return result.algo;
}

}  // namespace trainbench

#define TB_CUBLAS_CHECK(call) ::trainbench::check_cublas((call), #call)
