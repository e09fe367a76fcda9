// What the GPU tests share: a stream that destroys itself, whether they run under a sanitizer,
// a count of differing output bytes, gtest's name for a test parameterized by an impl, and one verification of an (op, impl) as the
// harness does it.
#pragma once
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdlib>
#include <string>
#include <vector>

#include <cuda_runtime_api.h>

#include "harness/device.hpp"
#include "harness/error.hpp"
#include "harness/ops.hpp"
#include "harness/registry.hpp"

namespace trainbench::testing {

class Stream {
 public:
  Stream() { TB_CUDA_CHECK(cudaStreamCreateWithFlags(&s_, cudaStreamNonBlocking)); }
  ~Stream() { cudaStreamDestroy(s_); }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  operator cudaStream_t() const { return s_; }

 private:
  cudaStream_t s_ = nullptr;
};

// Set (TRAINBENCH_TEST_UNDER_SANITIZER, anything but empty or 0) where the GPU tests run under
// compute-sanitizer (scripts/gpu-session.sh sets it): there the shape lists keep the shapes that
// take every path (tails, rings wrapping, several tiles per CTA, off-matrix pairs) and leave out
// the larger ones added to check the same at scale, which take minutes under racecheck.
inline bool under_sanitizer() {
  const char* v = std::getenv("TRAINBENCH_TEST_UNDER_SANITIZER");
  return v && *v && std::string(v) != "0";
}

// How many bytes of two equally long outputs differ (0: the same bits).
inline std::size_t differing_bytes(const std::vector<unsigned char>& a, const std::vector<unsigned char>& b) {
  std::size_t n = 0;
  for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) n += a[i] != b[i];
  return n;
}

// INSTANTIATE_TEST_SUITE_P's name for an impl parameter: the impl's name with '_' for '.' (gtest
// takes letters, digits and '_' only), e.g. All/GemmImpl.AwkwardShapes/gemm_wgmma.
inline std::string impl_test_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string name = info.param;
  for (char& ch : name)
    if (ch == '.') ch = '_';
  return name;
}

// The output poisoned, then (where `launch`) one launch, then the impl's own check against its
// reference: without the launch the poison must fail it.
inline Verification verify_once(const Impl& impl, const Op& op, bool launch, cudaStream_t stream) {
  const Device device(0);
  auto c = impl.make(op, device.info());
  c->prepare(stream);
  c->poison(stream);
  if (launch) c->launch(stream);
  TB_CUDA_CHECK(cudaGetLastError());
  TB_CUDA_CHECK(cudaStreamSynchronize(stream));
  return c->check(stream);
}

}  // namespace trainbench::testing
