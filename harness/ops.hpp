// Ops: what is computed and how big it is. An op knows its FLOPs and the fewest bytes
// it must move through device memory; nothing else computes them.
#pragma once
#include <cstdint>
#include <string>
#include <variant>

#include <nlohmann/json.hpp>

#include "harness/chips.hpp"

namespace trainbench {

// Device-to-device copy of `bytes`: reads them once and writes them once.
struct Copy {
  std::uint64_t bytes = 0;

  static constexpr const char* family = "copy";
  double flops() const { return 0.0; }
  double bytes_moved() const { return 2.0 * static_cast<double>(bytes); }
  nlohmann::ordered_json shape() const { return {{"bytes", bytes}}; }
  static Copy from_shape(const nlohmann::json& shape) { return Copy{shape.at("bytes").get<std::uint64_t>()}; }
};

using Op = std::variant<Copy>;

// The spec-sheet ceiling an op is judged against.
enum class Roof { Memory, Bf16, Fp8, Tf32, Int8 };

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
