// quant.e4m3 verified byte-exact against the reference at awkward shapes, for every granularity,
// and an unwritten output caught by the poison.
#include <gtest/gtest.h>

#include "bench/impls.hpp"
#include "harness/device.hpp"
#include "harness/error.hpp"
#include "tests/gpu_skip.hpp"

namespace trainbench {
namespace {

Verification run_case(const Quantize& op, bool launch) {
  register_all_impls();
  const Device device(0);
  cudaStream_t stream = nullptr;
  TB_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  const Impl& impl = registry().find("quant.e4m3");
  EXPECT_EQ(impl.unsupported(Op{op}), "");
  auto c = impl.make(Op{op}, device.info());
  c->prepare(stream);
  c->poison(stream);
  if (launch) c->launch(stream);
  TB_CUDA_CHECK(cudaStreamSynchronize(stream));
  const Verification v = c->check(stream);
  cudaStreamDestroy(stream);
  return v;
}

TEST(QuantImpl, ByteExactAtAwkwardShapes) {
  TB_REQUIRE_GPU();
  for (const char* g : {"1x128", "128x128", "tensor"}) {
    for (const auto& [rows, cols] : std::vector<std::pair<std::uint64_t, std::uint64_t>>{
             {1, 8}, {3, 136}, {128, 128}, {200, 264}, {257, 1000}, {1024, 7168}, {2112, 7168}}) {
      const Verification v = run_case(Quantize{rows, cols, g, false}, true);
      EXPECT_EQ(v.error, 0.0) << g << " " << rows << "x" << cols << ": " << v.detail;
    }
  }
  for (const auto& [rows, cols] :
       std::vector<std::pair<std::uint64_t, std::uint64_t>>{{8, 8}, {136, 72}, {264, 200}, {4096, 1000}}) {
    const Verification v = run_case(Quantize{rows, cols, "1x128", true}, true);
    EXPECT_EQ(v.error, 0.0) << "transposed " << rows << "x" << cols << ": " << v.detail;
  }
}

TEST(QuantImpl, UnwrittenOutputFailsVerification) {
  TB_REQUIRE_GPU();
  EXPECT_GT(run_case(Quantize{256, 256, "1x128", false}, false).error, 0.0);
}

}  // namespace
}  // namespace trainbench
