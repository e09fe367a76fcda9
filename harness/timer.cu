#include "harness/timer.hpp"

#include <algorithm>
#include <vector>

#include "harness/error.hpp"

namespace trainbench {
namespace {

__device__ __forceinline__ unsigned long long global_timer_ns() {
  unsigned long long t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}

__device__ __forceinline__ unsigned sm_id() {
  unsigned id;
  asm volatile("mov.u32 %0, %%smid;" : "=r"(id));
  return id;
}

// Holds the stream until the host sets *release, or gives up after timeout_ns and says so.
__global__ void blocking_kernel(const volatile int* release, int* timed_out, unsigned long long timeout_ns) {
  const unsigned long long start = global_timer_ns();
  while (*release == 0) {
    if (global_timer_ns() - start > timeout_ns) {
      *timed_out = 1;
      return;
    }
  }
}

// One block per SM (where the scheduler puts them): thread 0 records its SM's cycle counter
// and the global nanosecond timer.
__global__ void clock_probe_kernel(unsigned long long* slots, int sm_count) {
  if (threadIdx.x != 0) return;
  const unsigned id = sm_id();
  if (id >= static_cast<unsigned>(sm_count)) return;
  const unsigned long long clk = clock64();
  const unsigned long long ns = global_timer_ns();
  slots[2 * id] = clk;
  slots[2 * id + 1] = ns;
}

// Reads the flush buffer so that every L2 line now holds clean data of this buffer.
__global__ void l2_flush_kernel(const uint4* __restrict__ buffer, std::size_t n_vec, unsigned* sink) {
  unsigned acc = 0;
  for (std::size_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n_vec; i += gridDim.x * blockDim.x) {
    const uint4 v = __ldcg(buffer + i);
    acc ^= v.x ^ v.y ^ v.z ^ v.w;
  }
  if (acc == 0x9e3779b9u) *sink = acc;  // keeps the loads; practically never taken
}

__global__ void spin_kernel(unsigned long long ns) {
  const unsigned long long start = global_timer_ns();
  while (global_timer_ns() - start < ns) {
  }
}

constexpr unsigned long long kBlockingTimeoutNs = 5'000'000'000ull;

}  // namespace

void launch_spin_kernel(std::uint64_t ns, cudaStream_t stream) {
  spin_kernel<<<1, 1, 0, stream>>>(ns);
  TB_CUDA_CHECK(cudaGetLastError());
}

GpuTimer::GpuTimer(const DeviceInfo& device, cudaStream_t stream, bool l2_flush)
    : stream_(stream), sm_count_(device.sm_count) {
  TB_CUDA_CHECK(cudaEventCreate(&start_));
  TB_CUDA_CHECK(cudaEventCreate(&stop_));
  if (l2_flush) {
    flush_bytes_ = 3 * std::max<std::uint64_t>(device.l2_bytes, 1u << 20);
    TB_CUDA_CHECK(cudaMalloc(&flush_buffer_, flush_bytes_));
    TB_CUDA_CHECK(cudaMemset(flush_buffer_, 0x5a, flush_bytes_));
    TB_CUDA_CHECK(cudaMalloc(&flush_sink_, sizeof(unsigned)));
  }
  void* mapped = nullptr;
  TB_CUDA_CHECK(cudaHostAlloc(&mapped, 2 * sizeof(int), cudaHostAllocMapped));
  release_flag_ = static_cast<volatile int*>(mapped);
  timed_out_ = static_cast<int*>(mapped) + 1;
  const std::size_t probe_words = 4 * static_cast<std::size_t>(sm_count_);
  TB_CUDA_CHECK(cudaMalloc(&probes_, probe_words * sizeof(unsigned long long)));
  TB_CUDA_CHECK(cudaMallocHost(&probes_host_, probe_words * sizeof(unsigned long long)));
}

GpuTimer::~GpuTimer() {
  cudaEventDestroy(start_);
  cudaEventDestroy(stop_);
  cudaFree(flush_buffer_);
  cudaFree(flush_sink_);
  cudaFreeHost(const_cast<int*>(release_flag_));
  cudaFree(probes_);
  cudaFreeHost(probes_host_);
}

void GpuTimer::flush_l2() {
  const std::size_t n_vec = flush_bytes_ / 16;
  l2_flush_kernel<<<sm_count_ * 4, 512, 0, stream_>>>(static_cast<const uint4*>(flush_buffer_), n_vec, flush_sink_);
  TB_CUDA_CHECK(cudaGetLastError());
}

Sample GpuTimer::time(const std::function<void(cudaStream_t)>& launch) {
  const std::size_t probe_bytes = 4 * static_cast<std::size_t>(sm_count_) * sizeof(unsigned long long);
  TB_CUDA_CHECK(cudaMemsetAsync(probes_, 0, probe_bytes, stream_));
  if (flush_buffer_) flush_l2();

  *release_flag_ = 0;
  *timed_out_ = 0;
  int* release_dev = nullptr;
  int* timed_out_dev = nullptr;
  TB_CUDA_CHECK(cudaHostGetDevicePointer(reinterpret_cast<void**>(&release_dev), const_cast<int*>(release_flag_), 0));
  TB_CUDA_CHECK(cudaHostGetDevicePointer(reinterpret_cast<void**>(&timed_out_dev), timed_out_, 0));
  blocking_kernel<<<1, 1, 0, stream_>>>(release_dev, timed_out_dev, kBlockingTimeoutNs);
  TB_CUDA_CHECK(cudaGetLastError());

  clock_probe_kernel<<<sm_count_, 32, 0, stream_>>>(probes_, sm_count_);
  TB_CUDA_CHECK(cudaEventRecord(start_, stream_));
  launch(stream_);
  TB_CUDA_CHECK(cudaGetLastError());
  TB_CUDA_CHECK(cudaEventRecord(stop_, stream_));
  clock_probe_kernel<<<sm_count_, 32, 0, stream_>>>(probes_ + 2 * sm_count_, sm_count_);
  TB_CUDA_CHECK(cudaMemcpyAsync(probes_host_, probes_, probe_bytes, cudaMemcpyDeviceToHost, stream_));

  __atomic_store_n(const_cast<int*>(release_flag_), 1, __ATOMIC_SEQ_CST);
  TB_CUDA_CHECK(cudaStreamSynchronize(stream_));
  if (*timed_out_)
    throw Error("the blocking kernel timed out before the timed launch was queued: the launch "
                "function enqueued too much work or synchronized; time a single enqueue per sample");

  float ms = 0;
  TB_CUDA_CHECK(cudaEventElapsedTime(&ms, start_, stop_));
  return Sample{ms * 1e-3, effective_clock_mhz()};
}

double GpuTimer::effective_clock_mhz() const {
  std::vector<double> mhz;
  const unsigned long long* before = probes_host_;
  const unsigned long long* after = probes_host_ + 2 * sm_count_;
  for (int sm = 0; sm < sm_count_; ++sm) {
    const unsigned long long c0 = before[2 * sm], t0 = before[2 * sm + 1];
    const unsigned long long c1 = after[2 * sm], t1 = after[2 * sm + 1];
    if (t0 == 0 || t1 <= t0 || c1 <= c0) continue;  // this SM got no block in one of the probes
    mhz.push_back(static_cast<double>(c1 - c0) / static_cast<double>(t1 - t0) * 1e3);
  }
  if (mhz.empty()) return 0.0;
  std::nth_element(mhz.begin(), mhz.begin() + mhz.size() / 2, mhz.end());
  return mhz[mhz.size() / 2];
}

}  // namespace trainbench
