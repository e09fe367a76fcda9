#include "harness/chips.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "harness/build_info.hpp"
#include "harness/error.hpp"
#include "harness/suggest.hpp"

namespace trainbench {
namespace {

constexpr const char* kNumericFields[] = {"bf16_dense_tflops", "fp8_dense_tflops", "tf32_dense_tflops",
                                          "int8_dense_tops",   "hbm_tbps",         "memory_gb",
                                          "scale_up_gbps",     "scale_out_gbps",   "tdp_w",
                                          "sm_count",          "scale_up_domain"};

std::optional<double>* field(ChipSpec& c, std::string_view name) {
  if (name == "bf16_dense_tflops") return &c.bf16_dense_tflops;
  if (name == "fp8_dense_tflops") return &c.fp8_dense_tflops;
  if (name == "tf32_dense_tflops") return &c.tf32_dense_tflops;
  if (name == "int8_dense_tops") return &c.int8_dense_tops;
  if (name == "hbm_tbps") return &c.hbm_tbps;
  if (name == "memory_gb") return &c.memory_gb;
  if (name == "scale_up_gbps") return &c.scale_up_gbps;
  if (name == "scale_out_gbps") return &c.scale_out_gbps;
  if (name == "tdp_w") return &c.tdp_w;
  if (name == "sm_count") return &c.sm_count;
  if (name == "scale_up_domain") return &c.scale_up_domain;
  return nullptr;
}

}  // namespace

void to_json(nlohmann::ordered_json& j, const ChipSpec& c) {
  j = nlohmann::ordered_json{{"id", c.id},         {"name", c.name},   {"vendor", c.vendor},
                     {"match", c.match},   {"sources", c.sources}, {"notes", c.notes},
                     {"scale_up_name", c.scale_up_name}};
  ChipSpec copy = c;
  for (const char* name : kNumericFields) {
    const auto* v = field(copy, name);
    j[name] = *v ? nlohmann::ordered_json(**v) : nlohmann::ordered_json(nullptr);
  }
}

void from_json(const nlohmann::json& j, ChipSpec& c) {
  j.at("id").get_to(c.id);
  j.at("name").get_to(c.name);
  c.vendor = j.value("vendor", "");
  c.match = j.value("match", std::vector<std::string>{});
  c.scale_up_name = j.value("scale_up_name", "");
  c.notes = j.value("notes", "");
  c.sources = j.value("sources", std::map<std::string, std::string>{});
  for (const char* name : kNumericFields) {
    auto* v = field(c, name);
    if (j.contains(name) && !j.at(name).is_null()) *v = j.at(name).get<double>();
    else v->reset();
  }
}

ChipTable ChipTable::parse(std::string_view json_text, const std::string& origin) {
  ChipTable table;
  try {
    const auto doc = nlohmann::json::parse(json_text);
    for (const auto& entry : doc.at("chips")) {
      ChipSpec chip = entry.get<ChipSpec>();
      for (const char* name : kNumericFields) {
        if (*field(chip, name) && !chip.sources.count(name))
          throw Error(fmt::format("{}: chip \"{}\" gives {} without a source; add sources.{}", origin,
                                  chip.id, name, name));
      }
      table.chips_.push_back(std::move(chip));
    }
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("{}: not a valid chips file ({})", origin, e.what()));
  }
  return table;
}

const ChipTable& ChipTable::builtin() {
  static const ChipTable table = parse(embedded_chips_json(), "harness/data/chips.json (built in)");
  return table;
}

const ChipSpec* ChipTable::match(std::string_view device_name) const {
  const std::string name = lowercase(device_name);
  const ChipSpec* best = nullptr;
  std::size_t best_len = 0;
  for (const auto& chip : chips_) {
    for (const auto& m : chip.match) {
      if (m.size() > best_len && name.find(lowercase(m)) != std::string::npos) {
        best = &chip;
        best_len = m.size();
      }
    }
  }
  return best;
}

const ChipSpec& ChipTable::by_id(std::string_view id) const {
  for (const auto& chip : chips_)
    if (chip.id == id) return chip;
  std::vector<std::string> known;
  for (const auto& chip : chips_) known.push_back(chip.id);
  throw Error(fmt::format("unknown chip \"{}\"{}; known chips: {}", id, did_you_mean(id, known), ids()));
}

std::string ChipTable::ids() const {
  std::vector<std::string> names;
  for (const auto& chip : chips_) names.push_back(chip.id);
  std::sort(names.begin(), names.end());
  return fmt::format("{}", fmt::join(names, ", "));
}

}  // namespace trainbench
