// Ops: what is computed and how big it is. An op knows its FLOPs and the fewest bytes
// it must move through device memory; nothing else computes them.
#pragma once
#include <cstdint>
#include <string>
#include <variant>

#include <nlohmann/json.hpp>

#include "harness/chips.hpp"

namespace trainbench {

// The spec-sheet ceiling an op is judged against.
enum class Roof { Memory, Bf16, Fp8, Tf32, Int8 };

// Device-to-device copy of `bytes`: reads them once and writes them once.
struct Copy {
  std::uint64_t bytes = 0;

  static constexpr const char* family = "copy";
  static constexpr Roof roof = Roof::Memory;
  double flops() const { return 0.0; }
  double bytes_moved() const { return 2.0 * static_cast<double>(bytes); }
  nlohmann::ordered_json shape() const { return {{"bytes", bytes}}; }
  static Copy from_shape(const nlohmann::json& shape);
};

// C[m, n] = A[m, k] . B[k, n], BF16 inputs, FP32 accumulation, BF16 (or FP32) output.
// `layout` names the operands' storage in cuBLAS's column-major convention, which maps onto the
// three GEMMs of a linear layer with row-major tensors (X: tokens x in, W: out x in):
//   "tn"  forward  Y  = X W^T   (m = tokens, n = out, k = in;  both operands K-major)
//   "nn"  dgrad    dX = dY W    (m = tokens, n = in,  k = out)
//   "nt"  wgrad    dW = dY^T X  (m = out,    n = in,  k = tokens)
struct Gemm {
  std::uint64_t m = 0, n = 0, k = 0;
  std::string layout = "tn";
  std::string dtype = "bf16";      // inputs
  std::string out_dtype = "bf16";  // "bf16" or "f32"

  static constexpr const char* family = "gemm";
  static constexpr Roof roof = Roof::Bf16;
  double flops() const { return 2.0 * double(m) * double(n) * double(k); }
  // Each operand read once and the output written once: the compulsory traffic.
  double bytes_moved() const;
  nlohmann::ordered_json shape() const {
    return {{"m", m}, {"n", n}, {"k", k}, {"layout", layout}, {"dtype", dtype}, {"out_dtype", out_dtype}};
  }
  static Gemm from_shape(const nlohmann::json& shape);
};

// Scaled dot-product attention, BF16, layout (batch, seq, heads, head_dim). heads_kv divides
// heads_q (GQA; 1 is MQA). The forward also writes the log-sum-exp (FP32) the backward reads;
// the backward returns dQ, dK, dV.
struct Attention {
  std::uint64_t batch = 1, heads_q = 1, heads_kv = 1, seq_q = 0, seq_kv = 0, head_dim = 128;
  bool causal = false;
  std::string pass = "fwd";  // "fwd" or "bwd"

  static constexpr const char* family = "attention";
  static constexpr Roof roof = Roof::Bf16;
  // Forward 4 B Hq Sq Sk D (two matmuls); causal counts the pairs the bottom-right-aligned mask keeps
  // (half when Sq = Sk; Sq Sk - Sq^2/2 when Sq < Sk); backward 2.5x the forward (five matmuls to two).
  double flops() const;
  double bytes_moved() const;
  nlohmann::ordered_json shape() const {
    return {{"batch", batch},   {"heads_q", heads_q}, {"heads_kv", heads_kv}, {"seq_q", seq_q},
            {"seq_kv", seq_kv}, {"head_dim", head_dim}, {"causal", causal},   {"pass", pass}};
  }
  static Attention from_shape(const nlohmann::json& shape);
};

// BF16 -> FP8 E4M3 with FP32 scales, x row-major [rows, cols] with cols the GEMM's reduction
// dimension. granularity "1x128" (one scale per row and 128 columns: activations; `transpose`
// writes q as [cols, rows] grouped along rows, the operand layout wgrad needs), "128x128" (one per
// 128x128 block: weights) or "tensor" (one for all). Memory-bound: judged in GB/s.
struct Quantize {
  std::uint64_t rows = 0, cols = 0;
  std::string granularity = "1x128";
  bool transpose = false;

  static constexpr const char* family = "quantize";
  static constexpr Roof roof = Roof::Memory;
  double flops() const { return 0.0; }
  std::uint64_t scale_count() const;
  // Read 2 bytes and write 1 per element, write the FP32 scales.
  double bytes_moved() const { return 3.0 * double(rows) * double(cols) + 4.0 * double(scale_count()); }
  nlohmann::ordered_json shape() const {
    return {{"rows", rows}, {"cols", cols}, {"granularity", granularity}, {"transpose", transpose}};
  }
  static Quantize from_shape(const nlohmann::json& shape);
};

// C[m, n] = sum_k (A[m, k] sa) (B[n, k] sb) with quantized operands (both K-major: the "tn"
// layout, the only one FP8 wgmma takes) and FP32 scales, BF16 output. dtype "e4m3" (FP8) or
// "s8" (INT8). a_scale: "1x128" (DeepSeek-V3 activations: one per row and 128 of K), "row" (one
// per row), "tensor"; b_scale: "128x128" (weights), "col" (one per output column), "tensor".
// Scale layouts as kernels/quant/quantize.cuh writes them. `inputs` names the operands' values
// before quantization, since accuracy depends on them (bench/fp8_inputs.hpp): "signed" (zero-mean
// products) or "nonnegative" (every product >= 0, partial sums growing with k).
struct ScaledGemm {
  std::uint64_t m = 0, n = 0, k = 0;
  std::string dtype = "e4m3";
  std::string a_scale = "1x128";
  std::string b_scale = "128x128";
  std::string inputs = "signed";

  static constexpr const char* family = "scaled_gemm";
  Roof roof() const { return dtype == "s8" ? Roof::Int8 : Roof::Fp8; }
  double flops() const { return 2.0 * double(m) * double(n) * double(k); }
  std::uint64_t a_scale_count() const;
  std::uint64_t b_scale_count() const;
  // One byte per operand element read once, the scales, BF16 output written once.
  double bytes_moved() const {
    return double(m) * double(k) + double(n) * double(k) + 4.0 * double(a_scale_count() + b_scale_count()) +
           2.0 * double(m) * double(n);
  }
  nlohmann::ordered_json shape() const {
    return {{"m", m}, {"n", n}, {"k", k}, {"dtype", dtype}, {"a_scale", a_scale}, {"b_scale", b_scale},
            {"inputs", inputs}};
  }
  static ScaledGemm from_shape(const nlohmann::json& shape);
};

using Op = std::variant<Copy, Gemm, Attention, Quantize, ScaledGemm>;

std::string op_family(const Op& op);
double op_flops(const Op& op);
double op_bytes(const Op& op);
nlohmann::ordered_json op_shape(const Op& op);
Roof op_roof(const Op& op);
const char* roof_name(Roof roof);  // "hbm", "bf16", ...
// "bytes:1073741824" (fields in declaration order, joined by '/').
std::string op_label(const Op& op);
// Rebuilds an op from the family and shape a results file stores; throws Error if unknown.
Op op_from_json(const std::string& family, const nlohmann::json& shape);

// The roof's spec-sheet value in units of the op's throughput (TFLOP/s, or GB/s for memory);
// empty when the chip's sheet does not give it.
std::optional<double> spec_peak(const ChipSpec& chip, Roof roof);

}  // namespace trainbench
