// Device memory for benchmark cases, and the fills every verification needs:
// random contents from a fixed seed (never zeros), poison, and an exact comparison.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include <cuda_runtime_api.h>

namespace trainbench {

class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  // Throws Error (exit 2) naming `what`, the size asked for and the memory free when the
  // allocation fails.
  DeviceBuffer(std::size_t bytes, const std::string& what);
  ~DeviceBuffer();
  DeviceBuffer(DeviceBuffer&& other) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  void* get() const { return ptr_; }
  template <typename T>
  T* as() const { return static_cast<T*>(ptr_); }
  std::size_t bytes() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  std::size_t bytes_ = 0;
};

// Fills `bytes` with a hash of (seed, index): reproducible, and no zero 32-bit words.
void fill_random_bytes(void* dst, std::size_t bytes, std::uint64_t seed, cudaStream_t stream);
// Sets every byte to `value` (0xFF: NaN for every float format).
void fill_poison(void* dst, std::size_t bytes, unsigned char value, cudaStream_t stream);
// Number of bytes that differ; synchronizes the stream.
std::uint64_t count_mismatched_bytes(const void* a, const void* b, std::size_t bytes, cudaStream_t stream);

}  // namespace trainbench
