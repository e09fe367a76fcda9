#include "harness/ops.hpp"

#include <fmt/format.h>

#include "harness/error.hpp"

namespace trainbench {
namespace {

double dtype_bytes(const std::string& dtype) {
  if (dtype == "bf16" || dtype == "f16") return 2;
  if (dtype == "f32") return 4;
  if (dtype == "e4m3" || dtype == "e5m2" || dtype == "s8") return 1;
  throw Error(fmt::format("unknown dtype \"{}\"; known: bf16, f16, f32, e4m3, e5m2, s8", dtype));
}

void require_one_of(const std::string& what, const std::string& value, std::initializer_list<const char*> allowed) {
  for (const char* a : allowed)
    if (value == a) return;
  std::string list;
  for (const char* a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
  throw Error(fmt::format("{} \"{}\" is not one of {}", what, value, list));
}

}  // namespace

Copy Copy::from_shape(const nlohmann::json& shape) { return Copy{shape.at("bytes").get<std::uint64_t>()}; }

double Gemm::bytes_moved() const {
  const double in = dtype_bytes(dtype), out = dtype_bytes(out_dtype);
  return (double(m) * double(k) + double(k) * double(n)) * in + double(m) * double(n) * out;
}

Gemm Gemm::from_shape(const nlohmann::json& shape) {
  Gemm g;
  shape.at("m").get_to(g.m);
  shape.at("n").get_to(g.n);
  shape.at("k").get_to(g.k);
  g.layout = shape.value("layout", g.layout);
  g.dtype = shape.value("dtype", g.dtype);
  g.out_dtype = shape.value("out_dtype", g.out_dtype);
  require_one_of("gemm layout", g.layout, {"tn", "nn", "nt"});
  dtype_bytes(g.dtype);
  dtype_bytes(g.out_dtype);
  return g;
}

double Attention::flops() const {
  const double sq = double(seq_q), sk = double(seq_kv);
  // The causal mask is aligned bottom-right (the last query sees every key), so the visible part of the
  // Sq x Sk score matrix is Sq Sk - Sq^2 / 2 when Sq <= Sk, and Sk^2 / 2 when queries outnumber keys
  // (the first Sq - Sk rows see nothing): half when Sq = Sk, the FlashAttention convention.
  const double visible = !causal ? sq * sk : sq <= sk ? sq * sk - sq * sq / 2 : sk * sk / 2;
  const double fwd = 4.0 * double(batch) * double(heads_q) * visible * double(head_dim);
  return pass == "bwd" ? 2.5 * fwd : fwd;
}

double Attention::bytes_moved() const {
  const double q = double(batch) * double(seq_q) * double(heads_q) * double(head_dim) * 2;    // Q, O, dQ, dO
  const double kv = double(batch) * double(seq_kv) * double(heads_kv) * double(head_dim) * 2;  // K, V, dK, dV
  const double lse = double(batch) * double(heads_q) * double(seq_q) * 4;
  if (pass == "bwd") return 3 * q + 2 * kv + lse + q + 2 * kv;  // read Q, O, dO, K, V, LSE; write dQ, dK, dV
  return q + 2 * kv + q + lse;                                  // read Q, K, V; write O, LSE
}

std::uint64_t Quantize::scale_count() const {
  const auto groups = [](std::uint64_t n) { return (n + 127) / 128; };
  if (granularity == "tensor") return 1;
  if (granularity == "128x128") return groups(rows) * groups(cols);
  return transpose ? groups(rows) * cols : groups(cols) * rows;
}

Quantize Quantize::from_shape(const nlohmann::json& shape) {
  Quantize q;
  shape.at("rows").get_to(q.rows);
  shape.at("cols").get_to(q.cols);
  shape.at("granularity").get_to(q.granularity);
  shape.at("transpose").get_to(q.transpose);
  require_one_of("quantize granularity", q.granularity, {"1x128", "128x128", "tensor"});
  if (q.transpose && q.granularity != "1x128")
    throw Error("a transposed quantize is grouped 1x128 along rows; other granularities are not transposed");
  return q;
}

std::uint64_t ScaledGemm::a_scale_count() const {
  if (a_scale == "tensor") return 1;
  if (a_scale == "row") return m;
  return m * ((k + 127) / 128);  // 1x128
}

std::uint64_t ScaledGemm::b_scale_count() const {
  if (b_scale == "tensor") return 1;
  if (b_scale == "col") return n;
  return ((n + 127) / 128) * ((k + 127) / 128);  // 128x128
}

ScaledGemm ScaledGemm::from_shape(const nlohmann::json& shape) {
  ScaledGemm g;
  shape.at("m").get_to(g.m);
  shape.at("n").get_to(g.n);
  shape.at("k").get_to(g.k);
  shape.at("dtype").get_to(g.dtype);
  shape.at("a_scale").get_to(g.a_scale);
  shape.at("b_scale").get_to(g.b_scale);
  g.inputs = shape.value("inputs", g.inputs);
  require_one_of("scaled_gemm dtype", g.dtype, {"e4m3", "s8"});
  require_one_of("scaled_gemm inputs", g.inputs, {"signed", "nonnegative"});
  require_one_of("scaled_gemm a_scale", g.a_scale, {"1x128", "row", "tensor"});
  require_one_of("scaled_gemm b_scale", g.b_scale, {"128x128", "col", "tensor"});
  return g;
}

Attention Attention::from_shape(const nlohmann::json& shape) {
  Attention a;
  shape.at("batch").get_to(a.batch);
  shape.at("heads_q").get_to(a.heads_q);
  shape.at("heads_kv").get_to(a.heads_kv);
  shape.at("seq_q").get_to(a.seq_q);
  shape.at("seq_kv").get_to(a.seq_kv);
  shape.at("head_dim").get_to(a.head_dim);
  shape.at("causal").get_to(a.causal);
  shape.at("pass").get_to(a.pass);
  require_one_of("attention pass", a.pass, {"fwd", "bwd"});
  if (a.heads_kv == 0 || a.heads_q % a.heads_kv != 0)
    throw Error(fmt::format("heads_kv ({}) must divide heads_q ({})", a.heads_kv, a.heads_q));
  return a;
}

std::string op_family(const Op& op) {
  return std::visit([](const auto& o) { return std::string(o.family); }, op);
}
double op_flops(const Op& op) {
  return std::visit([](const auto& o) { return o.flops(); }, op);
}
double op_bytes(const Op& op) {
  return std::visit([](const auto& o) { return o.bytes_moved(); }, op);
}
nlohmann::ordered_json op_shape(const Op& op) {
  return std::visit([](const auto& o) { return o.shape(); }, op);
}

Roof op_roof(const Op& op) {
  return std::visit(
      [](const auto& o) {
        if constexpr (std::is_same_v<std::decay_t<decltype(o)>, ScaledGemm>) return o.roof();
        else return o.roof;
      },
      op);
}

const char* roof_name(Roof roof) {
  switch (roof) {
    case Roof::Memory: return "hbm";
    case Roof::Bf16: return "bf16";
    case Roof::Fp8: return "fp8";
    case Roof::Tf32: return "tf32";
    case Roof::Int8: return "int8";
  }
  return "?";
}

std::string op_label(const Op& op) {
  std::string label;
  const auto shape = op_shape(op);  // items() of a temporary would dangle
  for (const auto& [key, value] : shape.items()) {
    if (!label.empty()) label += '/';
    label += key + ':' + (value.is_string() ? value.get<std::string>() : value.dump());
  }
  return label;
}

Op op_from_json(const std::string& family, const nlohmann::json& shape) {
  if (!shape.is_object()) throw Error(fmt::format("op \"{}\" has shape {}, not an object", family, shape.dump()));
  // Every size is a whole number from 1 to 2^40: JSON's -1 would wrap to 2^64 - 1 in a uint64.
  for (const auto& [key, value] : shape.items())
    if (value.is_number() && !(value.is_number_unsigned() && value.get<std::uint64_t>() >= 1 &&
                               value.get<std::uint64_t>() <= (std::uint64_t{1} << 40)))
      throw Error(fmt::format("op \"{}\" has {} = {}: sizes are whole numbers from 1 to 2^40", family, key,
                              value.dump()));
  try {
    if (family == Copy::family) return Copy::from_shape(shape);
    if (family == Gemm::family) return Gemm::from_shape(shape);
    if (family == Attention::family) return Attention::from_shape(shape);
    if (family == Quantize::family) return Quantize::from_shape(shape);
    if (family == ScaledGemm::family) return ScaledGemm::from_shape(shape);
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("op \"{}\" has a malformed shape {} ({})", family, shape.dump(), e.what()));
  } catch (const Error& e) {
    throw Error(fmt::format("op \"{}\" has an invalid shape {}: {}", family, shape.dump(), e.what()));
  }
  throw Error(fmt::format("unknown op family \"{}\"; known: copy, gemm, attention, quantize, scaled_gemm", family));
}

std::optional<double> spec_peak(const ChipSpec& chip, Roof roof) {
  switch (roof) {
    case Roof::Memory:
      if (chip.hbm_tbps) return *chip.hbm_tbps * 1000.0;  // TB/s -> GB/s
      return std::nullopt;
    case Roof::Bf16: return chip.bf16_dense_tflops;
    case Roof::Fp8: return chip.fp8_dense_tflops;
    case Roof::Tf32: return chip.tf32_dense_tflops;
    case Roof::Int8: return chip.int8_dense_tops;
  }
  return std::nullopt;
}

}  // namespace trainbench
