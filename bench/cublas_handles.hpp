// The vendor impls' cuBLAS and cuBLASLt calls: a failed one throws Error naming the call and
// cuBLAS's reason, and a handle (cublasHandle_t, cublasLtHandle_t, a matmul descriptor, a layout,
// a preference) destroys itself, also when a constructor throws half-way.
#pragma once
#include <cublasLt.h>
#include <cublas_v2.h>

#include <memory>
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

}  // namespace trainbench

#define TB_CUBLAS_CHECK(call) ::trainbench::check_cublas((call), #call)
