#include "harness/registry.hpp"

#include <fmt/format.h>

#include "harness/error.hpp"
#include "harness/suggest.hpp"

namespace trainbench {

std::string arch_label(const Impl& impl) {
  if (impl.max_arch == impl.min_arch) return fmt::format("sm_{}a", impl.min_arch);
  if (impl.max_arch) return fmt::format("sm_{}-{}", impl.min_arch, impl.max_arch);
  return fmt::format("sm_{}+", impl.min_arch);
}

std::string unavailable_reason(const Impl& impl, const DeviceInfo& device) {
  if (!impl.missing.empty()) return impl.missing;
  const int arch = device.arch();
  if (arch < impl.min_arch || (impl.max_arch && arch > impl.max_arch)) {
    const std::string need = impl.max_arch == impl.min_arch ? fmt::format("sm_{}a", impl.min_arch)
                             : impl.max_arch ? fmt::format("sm_{} to sm_{}", impl.min_arch, impl.max_arch)
                                             : fmt::format("sm_{} or newer", impl.min_arch);
    return fmt::format("needs {}; this GPU is {}", need, device.arch_string());
  }
  if (device.smem_per_block_optin < impl.min_smem_per_block)
    return fmt::format("needs {} bytes of shared memory per block; this GPU ({}, {}) allows {}", impl.min_smem_per_block,
                       device.name, device.arch_string(), device.smem_per_block_optin);
  return "";
}

std::string unavailable_at_op_reason(const Impl& impl, const Op& op, const DeviceInfo& device) {
  if (!impl.smem_per_block) return "";
  const std::uint64_t need = impl.smem_per_block(op);
  if (device.smem_per_block_optin >= need) return "";
  return fmt::format("needs {} bytes of shared memory per block at this shape; this GPU ({}, {}) allows {}", need,
                     device.name, device.arch_string(), device.smem_per_block_optin);
}

void Registry::add(Impl impl) {
  for (const auto& existing : impls_)
    if (existing.name == impl.name) throw Error("impl \"" + impl.name + "\" is registered twice");
  impls_.push_back(std::move(impl));
}

const Impl& Registry::find(const std::string& name) const {
  for (const auto& impl : impls_)
    if (impl.name == name) return impl;
  std::vector<std::string> names;
  for (const auto& impl : impls_) names.push_back(impl.name);
  throw Error(fmt::format("unknown impl \"{}\"{}; known: {}", name, did_you_mean(name, names), fmt::join(names, ", ")));
}

Registry& registry() {
  static Registry instance;
  return instance;
}

}  // namespace trainbench
