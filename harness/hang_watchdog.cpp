#include "harness/hang_watchdog.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include <spdlog/spdlog.h>

namespace trainbench {

HangWatchdog::HangWatchdog(double timeout_s, OnHang on_hang) : timeout_s_(timeout_s), on_hang_(std::move(on_hang)) {
  if (!std::isfinite(timeout_s_) || timeout_s_ > kMaxTimeoutS)
    throw std::invalid_argument("a hang timeout must be a finite number of seconds up to 1e6, not " +
                                std::to_string(timeout_s_));
  if (timeout_s_ > 0) thread_ = std::thread([this] { watch(); });
}

HangWatchdog::~HangWatchdog() {
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void HangWatchdog::begin(std::string what) {
  {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return !firing_; });
    what_ = std::move(what);
    ++stretch_;
    active_ = true;
  }
  changed_.notify_all();
}

void HangWatchdog::end() {
  {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return !firing_; });
    active_ = false;
  }
  changed_.notify_all();
}

void HangWatchdog::watch() {
  const auto timeout = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(timeout_s_));
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (!active_) {
      changed_.wait(lock, [&] { return stopping_ || active_; });
      continue;
    }
    const std::uint64_t stretch = stretch_;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    if (changed_.wait_until(lock, deadline, [&] { return stopping_ || !active_ || stretch_ != stretch; })) continue;
    // The same stretch is still running at its deadline. begin() and end() wait while firing_.
    const std::string what = what_;
    firing_ = true;
    lock.unlock();
    on_hang_(what, timeout_s_);
    lock.lock();
    firing_ = false;
    changed_.notify_all();
    // Fire once per stretch: wait for the next one (or the end).
    changed_.wait(lock, [&] { return stopping_ || stretch_ != stretch || !active_; });
  }
}

void end_process_after_hang(int code) {
  if (auto logger = spdlog::default_logger()) logger->flush();
  std::fflush(stdout);
  std::fflush(stderr);
  std::_Exit(code);
}

}  // namespace trainbench
