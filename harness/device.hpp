// The local GPU: its fingerprint (what the results file records) and its live conditions.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "harness/nvml.hpp"

namespace trainbench {

// Static facts about one GPU. UUID-free: two cards of one model give the same fingerprint
// apart from clocks and limits, which are what make their numbers differ.
struct DeviceInfo {
  int index = 0;
  std::string name;
  int cc_major = 0;
  int cc_minor = 0;
  int sm_count = 0;
  std::uint64_t memory_bytes = 0;
  std::uint64_t l2_bytes = 0;
  std::uint64_t smem_per_block_optin = 0;
  int sm_clock_max_mhz = 0;   // NVML max SM clock, else the runtime's peak clock
  int mem_clock_max_mhz = 0;
  int mem_bus_width_bits = 0;
  std::optional<double> power_limit_w;
  std::optional<bool> ecc_enabled;
  int driver_api_version = 0;  // cudaDriverGetVersion, e.g. 13000
  int runtime_version = 0;     // cudaRuntimeGetVersion
  std::string driver_version;  // NVML's, e.g. "580.159.04"; empty if NVML is missing
  std::string nvml_status;     // "ok" or why NVML gave nothing

  int arch() const { return cc_major * 10 + cc_minor; }  // 90 for Hopper
  std::string arch_string() const;                       // "sm_90"
};

void to_json(nlohmann::ordered_json& j, const DeviceInfo& d);
void from_json(const nlohmann::json& j, DeviceInfo& d);
void to_json(nlohmann::ordered_json& j, const GpuConditions& c);
void from_json(const nlohmann::json& j, GpuConditions& c);

// Empty when a usable GPU and driver are present; otherwise what is missing.
std::string gpu_unavailable_reason();

// The message given when no usable GPU is present: what is missing and what works anyway.
std::string no_gpu_message(const std::string& cuda_reason);

// An open GPU: selected, fingerprinted, with NVML attached when it can be.
class Device {
 public:
  // Throws Error (exit 2) with no_gpu_message() when no GPU or no driver is usable.
  explicit Device(int index = 0);
  const DeviceInfo& info() const { return info_; }
  GpuConditions conditions() const { return nvml_->conditions(); }

 private:
  DeviceInfo info_;
  std::unique_ptr<Nvml> nvml_;
};

}  // namespace trainbench
