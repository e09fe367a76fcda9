#include "harness/device_buffer.hpp"

#include <utility>

#include <fmt/format.h>

#include "harness/error.hpp"

namespace trainbench {

DeviceBuffer::DeviceBuffer(std::size_t bytes, const std::string& what) : bytes_(bytes) {
  const cudaError_t status = cudaMalloc(&ptr_, bytes);
  if (status != cudaSuccess) {
    cudaGetLastError();
    ptr_ = nullptr;
    std::size_t free_b = 0, total_b = 0;
    cudaMemGetInfo(&free_b, &total_b);
    throw Error(fmt::format("cannot allocate {:.2f} GiB for {} ({}); {:.2f} GiB of {:.2f} GiB are free: "
                            "choose a smaller shape or free GPU memory",
                            static_cast<double>(bytes) / (1ull << 30), what, cudaGetErrorString(status),
                            static_cast<double>(free_b) / (1ull << 30), static_cast<double>(total_b) / (1ull << 30)));
  }
}

DeviceBuffer::~DeviceBuffer() {
  if (ptr_) cudaFree(ptr_);
}

DeviceBuffer::DeviceBuffer(DeviceBuffer&& other) noexcept
    : ptr_(std::exchange(other.ptr_, nullptr)), bytes_(std::exchange(other.bytes_, 0)) {}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& other) noexcept {
  if (this != &other) {
    if (ptr_) cudaFree(ptr_);
    ptr_ = std::exchange(other.ptr_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

}  // namespace trainbench
