#include "harness/nvml.hpp"

#include <dlfcn.h>

#include <array>
#include <utility>
#include <vector>

namespace trainbench {
namespace {

// The subset of nvml.h used here; the ABI of these entry points is stable across drivers.
using nvmlReturn_t = int;
using nvmlDevice_t = void*;
constexpr nvmlReturn_t kNvmlSuccess = 0;
constexpr int kClockSm = 1;
constexpr int kClockMem = 2;
constexpr int kTemperatureGpu = 0;

template <typename Fn>
Fn symbol(void* lib, const char* name) {
  return reinterpret_cast<Fn>(dlsym(lib, name));
}

}  // namespace

std::string throttle_reason_names(std::uint64_t mask) {
  static const std::array<std::pair<std::uint64_t, const char*>, 9> kNames{{
      {0x1, "gpu_idle"},
      {0x2, "applications_clocks_setting"},
      {0x4, "sw_power_cap"},
      {0x8, "hw_slowdown"},
      {0x10, "sync_boost"},
      {0x20, "sw_thermal_slowdown"},
      {0x40, "hw_thermal_slowdown"},
      {0x80, "hw_power_brake_slowdown"},
      {0x100, "display_clock_setting"},
  }};
  if (mask == 0) return "none";
  std::string out;
  auto append = [&out](const char* name) {
    if (!out.empty()) out += ',';
    out += name;
  };
  std::uint64_t known = 0;
  for (const auto& [bit, name] : kNames) {
    known |= bit;
    if (mask & bit) append(name);
  }
  if (mask & ~known) append("other");
  return out;
}

std::uint64_t slowdown_reasons(std::uint64_t mask) { return mask & (0x4 | 0x8 | 0x20 | 0x40 | 0x80); }

Nvml::Nvml(const std::string& pci_bus_id) {
  lib_ = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!lib_) {
    why_ = "libnvidia-ml.so.1 not found (no NVIDIA driver installed)";
    return;
  }
  auto init = symbol<nvmlReturn_t (*)()>(lib_, "nvmlInit_v2");
  auto by_bus = symbol<nvmlReturn_t (*)(const char*, nvmlDevice_t*)>(lib_, "nvmlDeviceGetHandleByPciBusId_v2");
  if (!init || !by_bus) {
    why_ = "libnvidia-ml.so.1 lacks nvmlInit_v2 or nvmlDeviceGetHandleByPciBusId_v2";
    return;
  }
  if (init() != kNvmlSuccess) {
    why_ = "nvmlInit_v2 failed";
    return;
  }
  nvmlDevice_t device = nullptr;
  if (by_bus(pci_bus_id.c_str(), &device) != kNvmlSuccess) {
    why_ = "NVML does not know the GPU at PCI bus " + pci_bus_id;
    return;
  }
  device_ = device;
}

Nvml::~Nvml() {
  if (lib_) {
    if (device_) {
      if (auto shutdown = symbol<nvmlReturn_t (*)()>(lib_, "nvmlShutdown")) shutdown();
    }
    dlclose(lib_);
  }
}

namespace {
std::optional<unsigned> clock_query(void* lib, void* device, const char* fn, int type) {
  if (!device) return std::nullopt;
  auto f = symbol<nvmlReturn_t (*)(nvmlDevice_t, int, unsigned*)>(lib, fn);
  unsigned mhz = 0;
  if (f && f(device, type, &mhz) == kNvmlSuccess) return mhz;
  return std::nullopt;
}
}  // namespace

GpuConditions Nvml::conditions() const {
  GpuConditions c;
  if (!device_) return c;
  c.sm_clock_mhz = clock_query(lib_, device_, "nvmlDeviceGetClockInfo", kClockSm);
  c.mem_clock_mhz = clock_query(lib_, device_, "nvmlDeviceGetClockInfo", kClockMem);
  if (auto f = symbol<nvmlReturn_t (*)(nvmlDevice_t, int, unsigned*)>(lib_, "nvmlDeviceGetTemperature")) {
    unsigned t = 0;
    if (f(device_, kTemperatureGpu, &t) == kNvmlSuccess) c.temperature_c = t;
  }
  if (auto f = symbol<nvmlReturn_t (*)(nvmlDevice_t, unsigned*)>(lib_, "nvmlDeviceGetPowerUsage")) {
    unsigned mw = 0;
    if (f(device_, &mw) == kNvmlSuccess) c.power_w = mw / 1000.0;
  }
  // Renamed from "throttle" to "clocks event" reasons in newer drivers; same ABI.
  for (const char* name : {"nvmlDeviceGetCurrentClocksEventReasons", "nvmlDeviceGetCurrentClocksThrottleReasons"}) {
    auto f = symbol<nvmlReturn_t (*)(nvmlDevice_t, unsigned long long*)>(lib_, name);
    unsigned long long mask = 0;
    if (f && f(device_, &mask) == kNvmlSuccess) {
      c.throttle_reasons = mask;
      break;
    }
  }
  return c;
}

std::optional<unsigned> Nvml::max_sm_clock_mhz() const {
  return clock_query(lib_, device_, "nvmlDeviceGetMaxClockInfo", kClockSm);
}
std::optional<unsigned> Nvml::max_mem_clock_mhz() const {
  return clock_query(lib_, device_, "nvmlDeviceGetMaxClockInfo", kClockMem);
}

std::optional<double> Nvml::power_limit_w() const {
  if (!device_) return std::nullopt;
  auto f = symbol<nvmlReturn_t (*)(nvmlDevice_t, unsigned*)>(lib_, "nvmlDeviceGetEnforcedPowerLimit");
  unsigned mw = 0;
  if (f && f(device_, &mw) == kNvmlSuccess) return mw / 1000.0;
  return std::nullopt;
}

std::optional<bool> Nvml::ecc_enabled() const {
  if (!device_) return std::nullopt;
  auto f = symbol<nvmlReturn_t (*)(nvmlDevice_t, int*, int*)>(lib_, "nvmlDeviceGetEccMode");
  int current = 0, pending = 0;
  if (f && f(device_, &current, &pending) == kNvmlSuccess) return current != 0;
  return std::nullopt;
}

std::optional<std::string> Nvml::driver_version() const {
  if (!lib_ || !device_) return std::nullopt;
  auto f = symbol<nvmlReturn_t (*)(char*, unsigned)>(lib_, "nvmlSystemGetDriverVersion");
  std::vector<char> buf(96, '\0');
  if (f && f(buf.data(), static_cast<unsigned>(buf.size())) == kNvmlSuccess) return std::string(buf.data());
  return std::nullopt;
}

}  // namespace trainbench
