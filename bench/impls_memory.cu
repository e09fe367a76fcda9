// The memory roof: our copy kernel beside cudaMemcpyAsync device-to-device.
#include <memory>

#include "bench/impls.hpp"
#include "harness/device_buffer.hpp"
#include "harness/error.hpp"
#include "kernels/memory/copy.cuh"

namespace trainbench {
namespace {

constexpr std::uint64_t kSeed = 20261123;

class CopyCase final : public Case {
 public:
  CopyCase(const Copy& op, const DeviceInfo& device, bool use_memcpy)
      : bytes_(op.bytes), sm_count_(device.sm_count), use_memcpy_(use_memcpy),
        src_(op.bytes, "the copy source"), dst_(op.bytes, "the copy destination") {}

  void prepare(cudaStream_t stream) override { fill_random_bytes(src_.get(), bytes_, kSeed, stream); }
  void poison(cudaStream_t stream) override { fill_poison(dst_.get(), bytes_, 0xFF, stream); }
  void launch(cudaStream_t stream) override {
    if (use_memcpy_) {
      TB_CUDA_CHECK(cudaMemcpyAsync(dst_.get(), src_.get(), bytes_, cudaMemcpyDeviceToDevice, stream));
    } else {
      kernels::copy_vec16(dst_.get(), src_.get(), bytes_, sm_count_, stream);
    }
  }
  Verification check(cudaStream_t stream) override {
    Verification v;
    v.error = static_cast<double>(count_mismatched_bytes(dst_.get(), src_.get(), bytes_, stream));
    v.tolerance = 0;
    v.detail = "bytes of the destination that differ from the source (exact)";
    return v;
  }

 private:
  std::size_t bytes_;
  int sm_count_;
  bool use_memcpy_;
  DeviceBuffer src_, dst_;
};

std::string copy_unsupported(const Op& op) {
  const auto& copy = std::get<Copy>(op);
  return copy.bytes == 0 ? "bytes must be positive" : "";
}

}  // namespace

void register_memory_impls(Registry& r) {
  r.add(Impl{.name = "memory.copy",
             .family = Copy::family,
             .description = "16-byte vector copy kernel, 4 loads in flight per thread (kernels/memory/copy.cu)",
             .vendor = false,
             .min_arch = 80,
             .max_arch = 0,
             .unsupported = copy_unsupported,
             .make = [](const Op& op, const DeviceInfo& d) -> std::unique_ptr<Case> {
               return std::make_unique<CopyCase>(std::get<Copy>(op), d, false);
             }});
  r.add(Impl{.name = "memory.cudaMemcpy",
             .family = Copy::family,
             .description = "cudaMemcpyAsync device-to-device (the CUDA runtime's copy)",
             .vendor = true,
             .min_arch = 80,
             .max_arch = 0,
             .unsupported = copy_unsupported,
             .make = [](const Op& op, const DeviceInfo& d) -> std::unique_ptr<Case> {
               return std::make_unique<CopyCase>(std::get<Copy>(op), d, true);
             }});
}

}  // namespace trainbench
