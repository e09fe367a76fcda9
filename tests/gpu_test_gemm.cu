// Every gemm impl verified against the oracle at awkward shapes (tails in m, n and k, tiny and
// long-k problems), in every layout and both output types; the oracle itself checked against a
// double-precision host computation; an unwritten output caught by the poison.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <cuda_bf16.h>

#include "bench/impls.hpp"
#include "harness/device.hpp"
#include "harness/device_buffer.hpp"
#include "harness/error.hpp"
#include "harness/verify.hpp"
#include "kernels/gemm/gemm.cuh"
#include "tests/gpu_skip.hpp"
#include "tests/gpu_test_support.hpp"

namespace trainbench {
namespace {

using testing::Stream;

struct Shape {
  std::uint64_t m, n, k;
};
// Multiples of 8 that are not multiples of any tile: every impl must take these. The last has
// 9 x 33 tiles of gemm.wgmma_ws's and gemm.wgmma's 256 x 128 (more than any GPU has SMs, a short
// last band of the tile order) and 3 k-tiles, so their persistent CTAs run several tiles through
// a 4-stage ring whose phases wrap in mid-tile. An odd tile count along n (33 here, 3 at 136 x
// 264, 1 at 8 x 8) leaves gemm.wgmma's 2-CTA clusters pairs whose second tile is off the matrix.
// 128 x 256 x 4096: one whole 128 x 256 tile (gemm.mma_128x256's, every one of its 8 warps on the
// matrix) through 64 k-tiles. gemm.wgmma_128x128's 6-stage ring wraps in mid-tile only when the
// k-tile count does not divide into 6: 2056 x 4104 x 264 (5 k-tiles, 17 x 33 tiles of 128 x 128,
// several per cluster). 8200 x 1288 x 328: 65 x 11 of those tiles, an odd count along n in each of
// 5 bands, so 65 off-matrix pairs, in a grid like the Llama 3 70B GEMMs that version exists for
// (8192 x 1280: 320 pairs, 4.85 waves of 66 clusters), left out under a sanitizer
// (kSanitizerMaxWork), where the shapes before it take all of its paths.
const Shape kAligned[] = {{8, 8, 8},         {16, 24, 8},       {136, 264, 72},     {264, 136, 8},
                          {128, 128, 4096},  {128, 256, 4096},  {1000, 1000, 1000}, {1000, 1008, 992},
                          {992, 1000, 1008}, {2056, 4104, 136}, {2056, 4104, 264},  {8200, 1288, 328}};
constexpr double kSanitizerMaxWork = 2.5e9;  // m n k
// Odd shapes, for the impls that take any shape.
const Shape kOdd[] = {{1, 1, 1}, {7, 13, 5}, {33, 65, 17}, {129, 3, 257}};

std::vector<std::string> gemm_impl_names() {
  register_all_impls();
  std::vector<std::string> names;
  for (const auto& impl : registry().all())
    if (impl.family == "gemm") names.push_back(impl.name);
  return names;
}

// A kernel that deadlocks (an mbarrier phase that never completes: a lost arrival, a wrong
// expect_tx, a cluster peer that never arrives) would hang this process and whatever GPU session
// runs it. Past a deadline far beyond any of these launches, even under compute-sanitizer, say so
// and exit: the process's end tears the context down, and ctest reports the test failed.
void synchronize_or_exit(cudaStream_t stream, const std::string& what) {
  constexpr auto kDeadline = std::chrono::seconds(120);
  const auto start = std::chrono::steady_clock::now();
  for (;;) {
    const cudaError_t status = cudaStreamQuery(stream);
    if (status != cudaErrorNotReady) {
      TB_CUDA_CHECK(status);
      return;
    }
    if (std::chrono::steady_clock::now() - start > kDeadline) {
      std::fprintf(stderr,
                   "%s has not finished after %lld s: a deadlock. For the Hopper kernels suspect the mbarrier "
                   "protocol (kernels/gemm/README.md, \"If a Hopper kernel hangs\"). Exiting.\n",
                   what.c_str(), static_cast<long long>(kDeadline.count()));
      std::fflush(stderr);
      std::_Exit(1);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

Verification verify_once(const Impl& impl, const Gemm& g, const DeviceInfo& info, cudaStream_t stream) {
  auto c = impl.make(g, info);
  c->prepare(stream);
  c->poison(stream);
  c->launch(stream);
  TB_CUDA_CHECK(cudaGetLastError());
  synchronize_or_exit(stream, impl.name + " " + op_label(g));
  return c->check(stream);
}

class GemmImpl : public ::testing::TestWithParam<std::string> {};

TEST_P(GemmImpl, VerifiesInEveryLayoutAndOutputAtAwkwardShapes) {
  TB_REQUIRE_GPU();
  const Impl& impl = registry().find(GetParam());
  const Device device(0);
  if (const auto why = unavailable_reason(impl, device.info()); !why.empty()) GTEST_SKIP() << impl.name << ": " << why;
  const Stream stream;
  int verified = 0;
  for (const bool aligned : {true, false})
    for (const Shape& s : aligned ? std::vector<Shape>(std::begin(kAligned), std::end(kAligned))
                                  : std::vector<Shape>(std::begin(kOdd), std::end(kOdd)))
      for (const char* layout : {"tn", "nn", "nt"})
        for (const char* out : {"bf16", "f32"}) {
          if (testing::under_sanitizer() && double(s.m) * double(s.n) * double(s.k) > kSanitizerMaxWork) continue;
          const Gemm g{.m = s.m, .n = s.n, .k = s.k, .layout = layout, .out_dtype = out};
          if (const auto why = impl.unsupported(g); !why.empty()) {
            EXPECT_FALSE(aligned) << impl.name << " refuses " << op_label(g) << ": " << why;
            continue;
          }
          const Verification v = verify_once(impl, g, device.info(), stream);
          ++verified;
          EXPECT_TRUE(std::isfinite(v.error) && v.error <= v.tolerance)
              << impl.name << " " << op_label(g) << ": error " << v.error << " > tolerance " << v.tolerance << " ("
              << v.detail << ")";
        }
  EXPECT_GE(verified, 54);
}

TEST_P(GemmImpl, UnwrittenOutputFailsVerification) {
  TB_REQUIRE_GPU();
  const Impl& impl = registry().find(GetParam());
  const Device device(0);
  if (const auto why = unavailable_reason(impl, device.info()); !why.empty()) GTEST_SKIP() << impl.name << ": " << why;
  const Stream stream;
  for (const char* out : {"bf16", "f32"}) {
    auto c = impl.make(Gemm{.m = 256, .n = 256, .k = 256, .out_dtype = out}, device.info());
    c->prepare(stream);
    c->poison(stream);  // no launch: C still holds the poison
    TB_CUDA_CHECK(cudaStreamSynchronize(stream));
    const Verification v = c->check(stream);
    EXPECT_FALSE(std::isfinite(v.error) && v.error <= v.tolerance) << impl.name << " " << out << ": " << v.detail;
  }
}

INSTANTIATE_TEST_SUITE_P(All, GemmImpl, ::testing::ValuesIn(gemm_impl_names()),
                         testing::impl_test_name);

// The oracle against a double-precision computation on the host, from the same inputs.
TEST(GemmReference, MatchesTheHostInEveryLayoutAndOutput) {
  TB_REQUIRE_GPU();
  const Device device(0);
  const Stream stream;
  for (const Shape& s : {Shape{8, 8, 8}, Shape{40, 24, 56}, Shape{33, 17, 9}, Shape{72, 136, 264}})
    for (const auto layout : {kernels::GemmLayout::TN, kernels::GemmLayout::NN, kernels::GemmLayout::NT})
      for (const bool f32 : {true, false}) {
        const std::size_t m = s.m, n = s.n, k = s.k;
        DeviceBuffer a(m * k * 2, "A"), b(k * n * 2, "B"), c(m * n * (f32 ? 4 : 2), "C");
        fill_uniform_bf16(a.get(), m * k, 1, stream);
        fill_uniform_bf16(b.get(), k * n, 2, stream);
        kernels::gemm_reference({.a = a.as<const __nv_bfloat16>(), .b = b.as<const __nv_bfloat16>(), .c = c.get(),
                                 .c_f32 = f32, .m = int(m), .n = int(n), .k = int(k), .layout = layout},
                                stream);
        TB_CUDA_CHECK(cudaGetLastError());
        std::vector<__nv_bfloat16> ha(m * k), hb(k * n);
        std::vector<unsigned char> hc(c.bytes());
        TB_CUDA_CHECK(cudaMemcpyAsync(ha.data(), a.get(), a.bytes(), cudaMemcpyDeviceToHost, stream));
        TB_CUDA_CHECK(cudaMemcpyAsync(hb.data(), b.get(), b.bytes(), cudaMemcpyDeviceToHost, stream));
        TB_CUDA_CHECK(cudaMemcpyAsync(hc.data(), c.get(), c.bytes(), cudaMemcpyDeviceToHost, stream));
        TB_CUDA_CHECK(cudaStreamSynchronize(stream));

        std::vector<double> want(m * n);
        double sum_sq = 0;
        for (std::size_t i = 0; i < m; ++i)
          for (std::size_t j = 0; j < n; ++j) {
            double acc = 0;
            for (std::size_t p = 0; p < k; ++p) {
              const float av = __bfloat162float(kernels::a_k_major(layout) ? ha[i * k + p] : ha[p * m + i]);
              const float bv = __bfloat162float(kernels::b_k_major(layout) ? hb[j * k + p] : hb[p * n + j]);
              acc += double(av) * double(bv);
            }
            want[j * m + i] = acc;
            sum_sq += acc * acc;
          }
        const double rms = std::sqrt(sum_sq / double(m * n));
        double worst = 0;
        for (std::size_t e = 0; e < m * n; ++e) {
          const double got = f32 ? double(reinterpret_cast<const float*>(hc.data())[e])
                                 : double(__bfloat162float(reinterpret_cast<const __nv_bfloat16*>(hc.data())[e]));
          worst = std::max(worst, std::abs(got - want[e]) / (std::abs(want[e]) + rms));
        }
        // FP32 accumulation of exact BF16 products over k <= 264; BF16 output adds its rounding (2^-8).
        EXPECT_LE(worst, f32 ? 1e-5 : 0x1p-7) << s.m << "x" << s.n << "x" << s.k << " layout " << int(layout);
      }
}

TEST(GemmVerification, ComparisonCatchesOneWrongAndOneUnwrittenElement) {
  TB_REQUIRE_GPU();
  const Device device(0);
  const Stream stream;
  const std::size_t count = 1 << 20;
  DeviceBuffer bf(count * 2, "bf16 values"), want(count * 4, "reference"), got(count * 4, "output");
  fill_uniform_bf16(bf.get(), count, 3, stream);
  std::vector<__nv_bfloat16> hb(count);
  TB_CUDA_CHECK(cudaMemcpyAsync(hb.data(), bf.get(), count * 2, cudaMemcpyDeviceToHost, stream));
  TB_CUDA_CHECK(cudaStreamSynchronize(stream));
  std::vector<float> h(count);
  for (std::size_t i = 0; i < count; ++i) h[i] = __bfloat162float(hb[i]);
  for (float v : h) ASSERT_TRUE(v != 0.f && v >= -1.f && v <= 1.f) << v;
  TB_CUDA_CHECK(cudaMemcpy(want.get(), h.data(), count * 4, cudaMemcpyHostToDevice));

  TB_CUDA_CHECK(cudaMemcpy(got.get(), h.data(), count * 4, cudaMemcpyHostToDevice));
  const ReferenceComparison same = compare_with_reference(got.get(), FloatType::F32, want.as<float>(), count, stream);
  EXPECT_EQ(same.max_error, 0.0);
  EXPECT_EQ(same.norm_error, 0.0);
  EXPECT_EQ(compare_with_reference(bf.get(), FloatType::Bf16, want.as<float>(), count, stream).max_error, 0.0);

  std::vector<float> wrong = h;
  wrong[12345] += 1.f;  // off by about 1.7 rms (values are uniform in [-1, 1]: rms 0.58)
  TB_CUDA_CHECK(cudaMemcpy(got.get(), wrong.data(), count * 4, cudaMemcpyHostToDevice));
  const ReferenceComparison r = compare_with_reference(got.get(), FloatType::F32, want.as<float>(), count, stream);
  EXPECT_GT(r.max_error, 0.3);
  EXPECT_EQ(r.worst_index, 12345u);
  // One element off: ||got - h|| / ||h|| = |that difference| / ||h||.
  double squares = 0;
  for (float v : h) squares += double(v) * double(v);
  const double off = std::abs(double(wrong[12345]) - double(h[12345])) / std::sqrt(squares);
  EXPECT_NEAR(r.norm_error, off, 1e-9 * off);

  std::vector<float> zeros(count, 0.f);  // an output of zeros is exactly as far as the reference is long
  TB_CUDA_CHECK(cudaMemcpy(got.get(), zeros.data(), count * 4, cudaMemcpyHostToDevice));
  EXPECT_NEAR(compare_with_reference(got.get(), FloatType::F32, want.as<float>(), count, stream).norm_error, 1.0, 1e-12);

  wrong[777] = NAN;
  TB_CUDA_CHECK(cudaMemcpy(got.get(), wrong.data(), count * 4, cudaMemcpyHostToDevice));
  const ReferenceComparison nan = compare_with_reference(got.get(), FloatType::F32, want.as<float>(), count, stream);
  EXPECT_EQ(nan.nonfinite, 1u);
  EXPECT_TRUE(std::isinf(nan.max_error));
  EXPECT_TRUE(std::isinf(nan.norm_error));
}

}  // namespace
}  // namespace trainbench
