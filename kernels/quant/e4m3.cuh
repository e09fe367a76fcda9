// FP8 E4M3 (OCP "E4M3FN": no infinities, one NaN pattern per sign, max finite 448) and the
// fine-grained scaling rule of DeepSeek-V3 (arXiv 2412.19437, section 3.3): one FP32 scale per
// 1x128 group of activations and per 128x128 block of weights, computed online from the amax:
//     scale = amax / 448,   q = e4m3(x * (448 / amax)),   x ~ q * scale
// (the multiply by 448 / amax, with amax clamped to 1e-4 so that an all-zero group is finite, as
// DeepGEMM's reference casts do). Host and device code, so the tests and the reference share it.
#pragma once
#include <cstdint>
#include <cstring>

#include <cuda_runtime_api.h>  // __host__ __device__ for host compilers

namespace trainbench::kernels {

inline constexpr float kE4m3Max = 448.0f;
inline constexpr float kAmaxFloor = 1e-4f;
inline constexpr int kQuantGroup = 128;  // elements per scale along the reduction dimension

__host__ __device__ inline std::uint32_t float_bits(float x) {
#ifdef __CUDA_ARCH__
  return __float_as_uint(x);
#else
  std::uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  return u;
#endif
}

__host__ __device__ inline float bits_float(std::uint32_t u) {
#ifdef __CUDA_ARCH__
  return __uint_as_float(u);
#else
  float x;
  std::memcpy(&x, &u, sizeof x);
  return x;
#endif
}

// Round to nearest even, saturating finite values to +-448 (PTX cvt.rn.satfinite.e4m3x2.f32);
// NaN becomes 0x7F (sign kept).
__host__ __device__ inline std::uint8_t e4m3_from_float(float x) {
  const std::uint32_t u = float_bits(x);
  const std::uint8_t sign = static_cast<std::uint8_t>((u >> 24) & 0x80u);
  const std::uint32_t mag = u & 0x7fffffffu;
  if (mag > 0x7f800000u) return static_cast<std::uint8_t>(sign | 0x7f);  // NaN
  if (mag >= 0x43e00000u) return static_cast<std::uint8_t>(sign | 0x7e);  // >= 448 (and inf): saturate
  const int exp = static_cast<int>(mag >> 23) - 127;
  if (exp < -6) {
    // Subnormal E4M3: multiples of 2^-9. Round |x| * 2^9 to the nearest integer, ties to even
    // (exact: |x| < 2^-6 scaled by a power of two).
    const float scaled = bits_float(mag) * 512.0f;
    int q = static_cast<int>(scaled);
    const float rest = scaled - static_cast<float>(q);
    if (rest > 0.5f || (rest == 0.5f && (q & 1))) ++q;
    return static_cast<std::uint8_t>(sign | q);  // q == 8 is the smallest normal, encoded alike
  }
  // Normal: keep 3 mantissa bits, round the 20 dropped bits to nearest even.
  std::uint32_t mant = mag & 0x7fffffu;
  std::uint32_t e = static_cast<std::uint32_t>(exp + 7);
  std::uint32_t kept = mant >> 20;
  const std::uint32_t dropped = mant & 0xfffffu;
  if (dropped > 0x80000u || (dropped == 0x80000u && (kept & 1))) {
    if (++kept == 8) {
      kept = 0;
      ++e;
    }
  }
  const std::uint32_t code = (e << 3) | kept;
  return static_cast<std::uint8_t>(sign | (code > 0x7e ? 0x7e : code));  // rounding up past 448 saturates
}

__host__ __device__ inline float e4m3_to_float(std::uint8_t v) {
  const float sign = (v & 0x80) ? -1.0f : 1.0f;
  const int e = (v >> 3) & 0xf, m = v & 0x7;
  if (e == 0xf && m == 0x7) return bits_float(0x7fc00000u);  // NaN
  if (e == 0) return sign * static_cast<float>(m) * 0x1p-9f;
  return sign * bits_float(static_cast<std::uint32_t>(e - 7 + 127) << 23) * (1.0f + static_cast<float>(m) * 0.125f);
}

// The multiplier applied before the cast, and the scale stored for dequantization.
__host__ __device__ inline float e4m3_quant_multiplier(float amax) {
  return kE4m3Max / (amax > kAmaxFloor ? amax : kAmaxFloor);
}
__host__ __device__ inline float e4m3_dequant_scale(float amax) {
  return (amax > kAmaxFloor ? amax : kAmaxFloor) / kE4m3Max;
}

}  // namespace trainbench::kernels
