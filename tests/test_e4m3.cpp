// The E4M3 encoder and decoder of kernels/quant/e4m3.cuh against cuda_fp8.h's host conversions
// (saturating, round to nearest even), and the scaling rule.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include <cuda_fp8.h>

#include "kernels/quant/e4m3.cuh"

namespace trainbench::kernels {
namespace {

std::uint8_t cuda_e4m3(float x) { return __nv_cvt_float_to_fp8(x, __NV_SATFINITE, __NV_E4M3); }

float cuda_e4m3_to_float(std::uint8_t v) {
  const __half_raw h = __nv_cvt_fp8_to_halfraw(v, __NV_E4M3);
  return static_cast<float>(__half(h));
}

TEST(E4m3, DecodesEveryCodeLikeCuda) {
  for (int code = 0; code < 256; ++code) {
    const auto v = static_cast<std::uint8_t>(code);
    const float ours = e4m3_to_float(v), theirs = cuda_e4m3_to_float(v);
    if (std::isnan(theirs)) {
      EXPECT_TRUE(std::isnan(ours)) << code;
    } else {
      EXPECT_EQ(ours, theirs) << code;
    }
  }
  EXPECT_EQ(e4m3_to_float(0x7e), 448.0f);
  EXPECT_EQ(e4m3_to_float(0x01), 0x1p-9f);  // smallest subnormal
  EXPECT_EQ(e4m3_to_float(0x08), 0x1p-6f);  // smallest normal
}

TEST(E4m3, EncodesEveryCodeAndEveryMidpointLikeCuda) {
  // Each representable value, each midpoint between neighbours (ties to even), and values just
  // either side of each midpoint.
  for (int code = 0; code < 0x7e; ++code) {
    const float lo = e4m3_to_float(static_cast<std::uint8_t>(code));
    const float hi = e4m3_to_float(static_cast<std::uint8_t>(code + 1));
    const float mid = 0.5f * (lo + hi);
    for (float x : {lo, mid, std::nextafter(mid, 0.f), std::nextafter(mid, 1e9f), hi}) {
      for (float s : {1.f, -1.f}) {
        EXPECT_EQ(e4m3_from_float(s * x), cuda_e4m3(s * x)) << s * x;
      }
    }
  }
}

TEST(E4m3, EncodesRandomFloatsLikeCuda) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> exponent(-14.f, 10.f);
  std::uniform_real_distribution<float> mantissa(1.f, 2.f);
  for (int i = 0; i < 200000; ++i) {
    const float x = (i & 1 ? -1.f : 1.f) * mantissa(rng) * std::exp2(std::floor(exponent(rng)));
    ASSERT_EQ(e4m3_from_float(x), cuda_e4m3(x)) << x;
  }
}

TEST(E4m3, SaturatesAndKeepsNan) {
  for (float x : {448.f, 449.f, 464.f, 480.f, 1e6f, INFINITY}) {
    EXPECT_EQ(e4m3_from_float(x), 0x7e) << x;
    EXPECT_EQ(e4m3_from_float(-x), 0xfe) << x;
    EXPECT_EQ(e4m3_from_float(x), cuda_e4m3(x)) << x;
  }
  EXPECT_EQ(e4m3_from_float(NAN) & 0x7f, 0x7f);
  EXPECT_TRUE(std::isnan(e4m3_to_float(e4m3_from_float(NAN))));
  EXPECT_EQ(e4m3_from_float(0.f), 0x00);
  EXPECT_EQ(e4m3_from_float(-0.f), 0x80);
  EXPECT_EQ(e4m3_from_float(0x1p-11f), 0x00);  // a quarter of the smallest subnormal rounds to 0
  EXPECT_EQ(e4m3_from_float(0x1p-10f), 0x00);  // half of it: a tie, to even (0)
  EXPECT_EQ(e4m3_from_float(0x1.8p-10f), 0x01);
}

TEST(E4m3Scale, TheGroupAmaxMapsTo448AndDequantizesBack) {
  const float amax = 3.7f;
  const float mul = e4m3_quant_multiplier(amax), scale = e4m3_dequant_scale(amax);
  EXPECT_EQ(e4m3_from_float(amax * mul), 0x7e);
  EXPECT_NEAR(e4m3_to_float(e4m3_from_float(-amax * mul)) * scale, -amax, 1e-6);
  EXPECT_NEAR(mul * scale, 1.f, 1e-6);
  // An all-zero group stays finite.
  EXPECT_TRUE(std::isfinite(e4m3_quant_multiplier(0.f)));
  EXPECT_EQ(e4m3_dequant_scale(0.f), kAmaxFloor / kE4m3Max);
  // Relative error of a quantized value is at most half an E4M3 ulp (2^-4) for normals.
  for (float x : {0.1f, 0.7f, 1.3f, 2.9f, 3.7f}) {
    const float back = e4m3_to_float(e4m3_from_float(x * mul)) * scale;
    EXPECT_LE(std::fabs(back - x) / x, 0.0625f + 1e-6f) << x;
  }
}

}  // namespace
}  // namespace trainbench::kernels
