// A watchdog for work that may never finish. A kernel that hangs (an mbarrier wait that no arrival
// will satisfy, a spin on a flag never set) blocks its host thread inside a CUDA call for good, and
// only the end of the process frees the GPU. Without a watchdog that costs whatever outer time
// limit there is, and with it everything the process had yet to do. With one, the stretch of work
// that overran (a benchmark, a test) is named, what was done is saved by the callback, and the
// process ends at once with its own exit code, so that a caller can go on past the one that hung.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace trainbench {

class HangWatchdog {
 public:
  // Called on the watchdog's own thread with the name given to begin() and the timeout, once per
  // stretch that overran. It must not touch the GPU (the main thread is stuck in it); normally it
  // saves what it can and calls end_process_after_hang().
  using OnHang = std::function<void(const std::string& what, double timeout_s)>;

  // timeout_s <= 0: a watchdog that never fires (and starts no thread). Throws
  // std::invalid_argument for a timeout that is not finite or longer than kMaxTimeoutS.
  static constexpr double kMaxTimeoutS = 1e6;
  HangWatchdog(double timeout_s, OnHang on_hang);
  ~HangWatchdog();
  HangWatchdog(const HangWatchdog&) = delete;
  HangWatchdog& operator=(const HangWatchdog&) = delete;

  // A stretch of work named `what` starts now: it has timeout_s seconds to reach end(). While the
  // callback runs for a stretch, begin() and end() wait for it (it normally ends the process), so
  // that work the watchdog has given up on never goes on.
  void begin(std::string what);
  void end();
  double timeout_s() const { return timeout_s_; }

 private:
  void watch();

  double timeout_s_;
  OnHang on_hang_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::string what_;
  std::uint64_t stretch_ = 0;  // counts begin() calls; the one being watched
  bool active_ = false, stopping_ = false, firing_ = false;
  std::thread thread_;
};

// Flushes stdout, stderr and the log, then ends the process with `code` at once: no destructors
// and no CUDA teardown, which would wait for the kernel that hangs.
[[noreturn]] void end_process_after_hang(int code);

}  // namespace trainbench
