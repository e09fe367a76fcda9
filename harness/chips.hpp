// Chip spec sheets (harness/data/chips.json, embedded at build time): the peaks that
// "% of peak" divides by, and the inputs of projections to chips nobody here can run.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace trainbench {

struct ChipSpec {
  std::string id;    // "h100-sxm": the directory name under results/
  std::string name;  // "NVIDIA H100 SXM5 80GB"
  std::string vendor;
  std::vector<std::string> match;  // substrings of the CUDA device name
  std::optional<double> bf16_dense_tflops;
  std::optional<double> fp8_dense_tflops;
  std::optional<double> tf32_dense_tflops;
  std::optional<double> int8_dense_tops;
  std::optional<double> hbm_tbps;
  std::optional<double> memory_gb;
  std::optional<double> scale_up_gbps;
  std::string scale_up_name;
  std::optional<double> scale_out_gbps;
  std::optional<double> tdp_w;
  std::optional<double> sm_count;         // SMs (AMD: compute units): GEMM tiles run in waves of one per SM
  std::optional<double> scale_up_domain;  // GPUs joined by the scale-up links (8 on an HGX board, 72 in an NVL72)
  std::map<std::string, std::string> sources;  // field -> where the value comes from
  std::string notes;
};

void to_json(nlohmann::ordered_json& j, const ChipSpec& c);
void from_json(const nlohmann::json& j, ChipSpec& c);

class ChipTable {
 public:
  // Parses a chips file; throws Error naming `origin` and what is wrong (a numeric value
  // without a source is an error too).
  static ChipTable parse(std::string_view json_text, const std::string& origin);
  // The table compiled into the program.
  static const ChipTable& builtin();

  const std::vector<ChipSpec>& chips() const { return chips_; }
  // The chip whose longest match string occurs in `device_name` (case-insensitive).
  const ChipSpec* match(std::string_view device_name) const;
  // By id; throws Error listing the known ids when there is none.
  const ChipSpec& by_id(std::string_view id) const;
  std::string ids() const;  // "a100-sxm-80gb, b200, ..."

 private:
  std::vector<ChipSpec> chips_;
};

}  // namespace trainbench
