// NVML, loaded at run time (libnvidia-ml.so.1) so the programs start where no driver exists.
// Only the handful of queries the harness records: clocks, throttle reasons, temperature, power.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

namespace trainbench {

// What NVML says about one GPU at one moment. Fields NVML could not give stay empty.
struct GpuConditions {
  std::optional<unsigned> sm_clock_mhz;
  std::optional<unsigned> mem_clock_mhz;
  std::optional<unsigned> temperature_c;
  std::optional<double> power_w;
  std::optional<std::uint64_t> throttle_reasons;  // NVML clocks-event reason bit mask
};

// Names of the bits set in an NVML clocks-event (throttle) reason mask, comma-separated;
// "none" for 0. Idle and application-clock settings are reported but are not slowdowns.
std::string throttle_reason_names(std::uint64_t mask);
// The reasons in the mask that slow the clock down (software power cap, thermal, HW slowdown, power brake);
// 0 when there are none.
std::uint64_t slowdown_reasons(std::uint64_t mask);

// One GPU seen through NVML. If the library or the GPU cannot be found, `available()` is false
// and every query returns empty; `why_unavailable()` says what was missing.
class Nvml {
 public:
  // pci_bus_id as cudaDeviceGetPCIBusId gives it.
  explicit Nvml(const std::string& pci_bus_id);
  ~Nvml();
  Nvml(const Nvml&) = delete;
  Nvml& operator=(const Nvml&) = delete;

  bool available() const { return device_ != nullptr; }
  const std::string& why_unavailable() const { return why_; }

  GpuConditions conditions() const;
  std::optional<unsigned> max_sm_clock_mhz() const;
  std::optional<unsigned> max_mem_clock_mhz() const;
  std::optional<double> power_limit_w() const;
  std::optional<bool> ecc_enabled() const;
  std::optional<std::string> driver_version() const;

 private:
  void* lib_ = nullptr;
  void* device_ = nullptr;
  std::string why_;
};

}  // namespace trainbench
