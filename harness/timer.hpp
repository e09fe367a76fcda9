// Timing one launch on the GPU, the way nvbench's cold mode does it:
//   L2 flush (unless hot) -> a blocking kernel holds the stream while the host queues
//   clock probe, start event, the launch, stop event, clock probe -> the host releases it.
// So launch latency stays out of the event pair, the cache starts cold, and each sample
// carries the effective SM clock it ran at (clock64 cycles over %globaltimer nanoseconds,
// per SM, median over SMs).
#pragma once
#include <cstdint>
#include <functional>

#include <cuda_runtime_api.h>

#include "harness/device.hpp"
#include "harness/stats.hpp"

namespace trainbench {

class GpuTimer {
 public:
  // l2_flush: read a buffer of 3x the L2 size before every sample (clean lines: no write-back
  // lands inside the timed region).
  GpuTimer(const DeviceInfo& device, cudaStream_t stream, bool l2_flush);
  ~GpuTimer();
  GpuTimer(const GpuTimer&) = delete;
  GpuTimer& operator=(const GpuTimer&) = delete;

  // Times one call of `launch` (which enqueues its work on the stream it is given).
  Sample time(const std::function<void(cudaStream_t)>& launch);
  std::uint64_t flush_bytes() const { return flush_bytes_; }

 private:
  void flush_l2();
  double effective_clock_mhz() const;

  cudaStream_t stream_;
  int sm_count_;
  cudaEvent_t start_ = nullptr, stop_ = nullptr;
  std::uint64_t flush_bytes_ = 0;
  void* flush_buffer_ = nullptr;
  unsigned* flush_sink_ = nullptr;
  volatile int* release_flag_ = nullptr;  // host-mapped: the host writes, the blocking kernel reads
  int* timed_out_ = nullptr;              // host-mapped: the blocking kernel reports a timeout
  unsigned long long* probes_ = nullptr;  // device: [2][sm_count][2] (clock64, globaltimer)
  unsigned long long* probes_host_ = nullptr;
};

// Launches a kernel that spins for `ns` nanoseconds of %globaltimer: a kernel of known length,
// for testing the timer.
void launch_spin_kernel(std::uint64_t ns, cudaStream_t stream);

}  // namespace trainbench
