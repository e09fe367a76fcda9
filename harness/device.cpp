#include "harness/device.hpp"

#include <dlfcn.h>

#include <array>
#include <cstdio>

#include <cuda_runtime_api.h>
#include <fmt/format.h>

#include "harness/error.hpp"

namespace trainbench {

void throw_cuda_error(cudaError_t status, const char* call, const char* file, int line) {
  throw Error(fmt::format("CUDA call {} failed at {}:{}: {} ({})", call, file, line,
                          cudaGetErrorString(status), cudaGetErrorName(status)));
}

std::string DeviceInfo::arch_string() const { return fmt::format("sm_{}{}", cc_major, cc_minor); }

std::string no_gpu_message(const std::string& cuda_reason) {
  return fmt::format(
      "no usable NVIDIA GPU: {}; `trainbench device` and `trainbench run` "
      "need a GPU and its driver, while `trainbench list`, `compare`, `check`, `project`, `--help` and `--version` work without one.",
      cuda_reason);
}

namespace {
bool driver_library_present() {
  void* lib = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL);
  if (lib) dlclose(lib);
  return lib != nullptr;
}

int attribute(cudaDeviceAttr attr, int index) {
  int value = 0;
  TB_CUDA_CHECK(cudaDeviceGetAttribute(&value, attr, index));
  return value;
}

template <typename T>
void put_optional(nlohmann::ordered_json& j, const char* key, const std::optional<T>& v) {
  j[key] = v ? nlohmann::ordered_json(*v) : nlohmann::ordered_json(nullptr);
}
template <typename T>
void get_optional(const nlohmann::json& j, const char* key, std::optional<T>& v) {
  if (j.contains(key) && !j.at(key).is_null()) v = j.at(key).get<T>();
  else v.reset();
}
}  // namespace

std::string gpu_unavailable_reason() {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    cudaGetLastError();  // clear the sticky status for whoever asks next
    // Static cudart reports a missing libcuda as "driver insufficient"; say which it is.
    if (status == cudaErrorInsufficientDriver && !driver_library_present())
      return "no NVIDIA driver is installed (libcuda.so.1 not found)";
    return cudaGetErrorString(status);
  }
  return count == 0 ? "no CUDA-capable device is detected" : "";
}

Device::Device(int index) {
  if (const std::string why = gpu_unavailable_reason(); !why.empty()) throw Error(no_gpu_message(why));
  int count = 0;
  TB_CUDA_CHECK(cudaGetDeviceCount(&count));
  if (index < 0 || index >= count)
    throw Error(fmt::format("GPU index {} does not exist: this machine has {} GPU(s), indices 0 to {}",
                            index, count, count - 1));
  TB_CUDA_CHECK(cudaSetDevice(index));

  cudaDeviceProp prop{};
  TB_CUDA_CHECK(cudaGetDeviceProperties(&prop, index));
  info_.index = index;
  info_.name = prop.name;
  info_.cc_major = prop.major;
  info_.cc_minor = prop.minor;
  info_.sm_count = prop.multiProcessorCount;
  info_.memory_bytes = prop.totalGlobalMem;
  info_.l2_bytes = static_cast<std::uint64_t>(prop.l2CacheSize);
  info_.smem_per_block_optin = prop.sharedMemPerBlockOptin;
  info_.mem_bus_width_bits = attribute(cudaDevAttrGlobalMemoryBusWidth, index);
  TB_CUDA_CHECK(cudaDriverGetVersion(&info_.driver_api_version));
  TB_CUDA_CHECK(cudaRuntimeGetVersion(&info_.runtime_version));

  std::array<char, 32> bus{};
  TB_CUDA_CHECK(cudaDeviceGetPCIBusId(bus.data(), static_cast<int>(bus.size()), index));
  nvml_ = std::make_unique<Nvml>(bus.data());
  info_.nvml_status = nvml_->available() ? "ok" : nvml_->why_unavailable();
  const int runtime_sm_mhz = attribute(cudaDevAttrClockRate, index) / 1000;
  const int runtime_mem_mhz = attribute(cudaDevAttrMemoryClockRate, index) / 1000;
  info_.sm_clock_max_mhz = static_cast<int>(nvml_->max_sm_clock_mhz().value_or(static_cast<unsigned>(runtime_sm_mhz)));
  info_.mem_clock_max_mhz = static_cast<int>(nvml_->max_mem_clock_mhz().value_or(static_cast<unsigned>(runtime_mem_mhz)));
  info_.power_limit_w = nvml_->power_limit_w();
  info_.ecc_enabled = nvml_->ecc_enabled();
  if (!info_.ecc_enabled) info_.ecc_enabled = attribute(cudaDevAttrEccEnabled, index) != 0;
  info_.driver_version = nvml_->driver_version().value_or("");
}

void to_json(nlohmann::ordered_json& j, const DeviceInfo& d) {
  j = nlohmann::ordered_json{{"index", d.index},
                     {"name", d.name},
                     {"compute_capability", fmt::format("{}.{}", d.cc_major, d.cc_minor)},
                     {"sm_count", d.sm_count},
                     {"memory_bytes", d.memory_bytes},
                     {"l2_bytes", d.l2_bytes},
                     {"smem_per_block_optin_bytes", d.smem_per_block_optin},
                     {"sm_clock_max_mhz", d.sm_clock_max_mhz},
                     {"mem_clock_max_mhz", d.mem_clock_max_mhz},
                     {"mem_bus_width_bits", d.mem_bus_width_bits},
                     {"driver_api_version", d.driver_api_version},
                     {"runtime_version", d.runtime_version},
                     {"driver_version", d.driver_version},
                     {"nvml_status", d.nvml_status}};
  put_optional(j, "power_limit_w", d.power_limit_w);
  put_optional(j, "ecc_enabled", d.ecc_enabled);
}

void from_json(const nlohmann::json& j, DeviceInfo& d) {
  j.at("index").get_to(d.index);
  j.at("name").get_to(d.name);
  const auto cc = j.at("compute_capability").get<std::string>();
  if (std::sscanf(cc.c_str(), "%d.%d", &d.cc_major, &d.cc_minor) != 2)
    throw Error("device.compute_capability \"" + cc + "\" is not of the form MAJOR.MINOR");
  j.at("sm_count").get_to(d.sm_count);
  j.at("memory_bytes").get_to(d.memory_bytes);
  j.at("l2_bytes").get_to(d.l2_bytes);
  j.at("smem_per_block_optin_bytes").get_to(d.smem_per_block_optin);
  j.at("sm_clock_max_mhz").get_to(d.sm_clock_max_mhz);
  j.at("mem_clock_max_mhz").get_to(d.mem_clock_max_mhz);
  j.at("mem_bus_width_bits").get_to(d.mem_bus_width_bits);
  j.at("driver_api_version").get_to(d.driver_api_version);
  j.at("runtime_version").get_to(d.runtime_version);
  j.at("driver_version").get_to(d.driver_version);
  j.at("nvml_status").get_to(d.nvml_status);
  get_optional(j, "power_limit_w", d.power_limit_w);
  get_optional(j, "ecc_enabled", d.ecc_enabled);
}

void to_json(nlohmann::ordered_json& j, const GpuConditions& c) {
  j = nlohmann::ordered_json::object();
  put_optional(j, "sm_clock_mhz", c.sm_clock_mhz);
  put_optional(j, "mem_clock_mhz", c.mem_clock_mhz);
  put_optional(j, "temperature_c", c.temperature_c);
  put_optional(j, "power_w", c.power_w);
  put_optional(j, "throttle_reasons", c.throttle_reasons);
  j["throttle_reason_names"] = c.throttle_reasons ? throttle_reason_names(*c.throttle_reasons) : "unknown";
}

void from_json(const nlohmann::json& j, GpuConditions& c) {
  get_optional(j, "sm_clock_mhz", c.sm_clock_mhz);
  get_optional(j, "mem_clock_mhz", c.mem_clock_mhz);
  get_optional(j, "temperature_c", c.temperature_c);
  get_optional(j, "power_w", c.power_w);
  get_optional(j, "throttle_reasons", c.throttle_reasons);
}

}  // namespace trainbench
