#include "harness/ops.hpp"

#include <fmt/format.h>

#include "harness/error.hpp"

namespace trainbench {

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
  return std::visit([](const auto& o) -> Roof {
    using T = std::decay_t<decltype(o)>;
    if constexpr (std::is_same_v<T, Copy>) return Roof::Memory;
  }, op);
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
  try {
    if (family == Copy::family) return Copy::from_shape(shape);
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("op \"{}\" has a malformed shape {} ({})", family, shape.dump(), e.what()));
  }
  throw Error(fmt::format("unknown op family \"{}\"; known: copy", family));
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
