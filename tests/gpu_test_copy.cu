// The memory impls verified at awkward sizes (tails that are not multiples of 16 bytes), and a
// copy kernel that writes nothing caught by the poisoned output.
#include <gtest/gtest.h>

#include "bench/impls.hpp"
#include "harness/device.hpp"
#include "harness/error.hpp"
#include "tests/gpu_skip.hpp"

namespace trainbench {
namespace {

TEST(CopyImpls, VerifyAtAwkwardSizes) {
  TB_REQUIRE_GPU();
  register_all_impls();
  const Device device(0);
  cudaStream_t stream = nullptr;
  TB_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  for (const char* name : {"memory.copy", "memory.cudaMemcpy"}) {
    const Impl& impl = registry().find(name);
    for (const std::uint64_t bytes : {1ull, 15ull, 16ull, 4097ull, (1ull << 20) + 3, 64ull << 20}) {
      auto c = impl.make(Copy{bytes}, device.info());
      c->prepare(stream);
      c->poison(stream);
      c->launch(stream);
      TB_CUDA_CHECK(cudaStreamSynchronize(stream));
      const Verification v = c->check(stream);
      EXPECT_EQ(v.error, 0.0) << name << " at " << bytes << " bytes: " << v.detail;
    }
  }
  cudaStreamDestroy(stream);
}

TEST(CopyImpls, UnwrittenOutputFailsVerification) {
  TB_REQUIRE_GPU();
  register_all_impls();
  const Device device(0);
  cudaStream_t stream = nullptr;
  TB_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  auto c = registry().find("memory.copy").make(Copy{1 << 20}, device.info());
  c->prepare(stream);
  c->poison(stream);  // no launch: the destination still holds the poison
  TB_CUDA_CHECK(cudaStreamSynchronize(stream));
  EXPECT_GT(c->check(stream).error, 0.0);
  cudaStreamDestroy(stream);
}

}  // namespace
}  // namespace trainbench
