// The hang watchdog: it names the stretch of work that overran, once, and never one that ended in
// time; with end_process_after_hang the process ends with kExitHung at once.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <limits>
#include <stdexcept>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "harness/error.hpp"
#include "harness/hang_watchdog.hpp"

namespace trainbench {
namespace {

using namespace std::chrono_literals;

struct Fired {
  std::mutex mutex;
  std::vector<std::string> names;
  std::vector<std::string> get() {
    const std::lock_guard lock(mutex);
    return names;
  }
};

// Waits up to 10 s (a loaded CI machine) for `fired` to reach `count`.
bool fired_within(Fired& fired, std::size_t count) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (fired.get().size() < count && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
  return fired.get().size() >= count;
}

TEST(HangWatchdog, NamesTheStretchThatOverranOncePerStretch) {
  Fired fired;
  HangWatchdog dog(0.05, [&](const std::string& what, double timeout_s) {
    EXPECT_DOUBLE_EQ(timeout_s, 0.05);
    const std::lock_guard lock(fired.mutex);
    fired.names.push_back(what);
  });
  dog.begin("stuck");
  ASSERT_TRUE(fired_within(fired, 1));
  std::this_thread::sleep_for(300ms);  // six more timeouts of the same stretch: no second call
  EXPECT_EQ(fired.get(), std::vector<std::string>{"stuck"});
  dog.end();
  dog.begin("stuck again");  // a new stretch has its own timeout
  ASSERT_TRUE(fired_within(fired, 2));
  dog.end();
  EXPECT_EQ(fired.get(), (std::vector<std::string>{"stuck", "stuck again"}));
}

TEST(HangWatchdog, StretchesThatEndInTimeNeverFire) {
  std::atomic<int> fired{0};
  HangWatchdog dog(1.0, [&](const std::string&, double) { ++fired; });
  for (int i = 0; i < 20; ++i) {  // 20 x 10 ms: each stretch well under the timeout
    dog.begin("quick " + std::to_string(i));
    std::this_thread::sleep_for(10ms);
    dog.end();
  }
  std::this_thread::sleep_for(1500ms);  // idle after end(): nothing is watched
  EXPECT_EQ(fired.load(), 0);
}

// The work the watchdog gave up on must not go on while the callback saves what was done: end()
// (and begin()) wait for it.
TEST(HangWatchdog, EndWaitsForTheCallbackThatGaveUpOnTheStretch) {
  std::atomic<bool> started{false}, finished{false};
  HangWatchdog dog(0.02, [&](const std::string&, double) {
    started = true;
    std::this_thread::sleep_for(300ms);
    finished = true;
  });
  dog.begin("overran");
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!started && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
  ASSERT_TRUE(started.load());
  dog.end();
  EXPECT_TRUE(finished.load());
}

TEST(HangWatchdog, RefusesATimeoutThatIsNotAFiniteNumberOfSecondsUpToAMillion) {
  const auto nothing = [](const std::string&, double) {};
  EXPECT_THROW(HangWatchdog(std::numeric_limits<double>::infinity(), nothing), std::invalid_argument);
  EXPECT_THROW(HangWatchdog(std::numeric_limits<double>::quiet_NaN(), nothing), std::invalid_argument);
  EXPECT_THROW(HangWatchdog(1e10, nothing), std::invalid_argument);  // would overflow the clock's ticks
  EXPECT_NO_THROW(HangWatchdog(HangWatchdog::kMaxTimeoutS, nothing));
}

TEST(HangWatchdog, ZeroTimeoutNeverFires) {
  std::atomic<int> fired{0};
  HangWatchdog dog(0, [&](const std::string&, double) { ++fired; });
  dog.begin("long");
  std::this_thread::sleep_for(100ms);
  dog.end();
  EXPECT_EQ(fired.load(), 0);
}

TEST(HangWatchdog, DestroyedWhileWatchingReturnsWithoutFiring) {
  std::atomic<int> fired{0};
  const auto start = std::chrono::steady_clock::now();
  {
    HangWatchdog dog(30, [&](const std::string&, double) { ++fired; });
    dog.begin("never ended");
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_EQ(fired.load(), 0);
}

TEST(HangWatchdogDeathTest, EndsTheProcessWithTheHungExitCodeAfterSaying) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        HangWatchdog dog(0.05, [](const std::string& what, double) {
          std::fprintf(stderr, "%s hung\n", what.c_str());
          end_process_after_hang(kExitHung);
        });
        dog.begin("kernel X");
        std::this_thread::sleep_for(10s);  // stands for a CUDA call that never returns
      },
      ::testing::ExitedWithCode(kExitHung), "kernel X hung");
}

}  // namespace
}  // namespace trainbench
