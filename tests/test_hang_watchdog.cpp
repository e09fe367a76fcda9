// The hang watchdog: it names the stretch of work that overran, once, and never one that ended in
// time; with end_process_after_hang the process ends with kExitHung at once.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
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

TEST(HangWatchdog, NamesTheStretchThatOverranOnce) {
  Fired fired;
  HangWatchdog dog(0.05, [&](const std::string& what, double timeout_s) {
    EXPECT_DOUBLE_EQ(timeout_s, 0.05);
    const std::lock_guard lock(fired.mutex);
    fired.names.push_back(what);
  });
  dog.begin("first");
  dog.end();  // in time
  dog.begin("stuck");
  std::this_thread::sleep_for(400ms);  // eight timeouts: it still fires once for this stretch
  EXPECT_EQ(fired.get(), std::vector<std::string>{"stuck"});
  dog.end();
  dog.begin("stuck again");  // a new stretch has its own timeout
  std::this_thread::sleep_for(300ms);
  dog.end();
  EXPECT_EQ(fired.get(), (std::vector<std::string>{"stuck", "stuck again"}));
}

TEST(HangWatchdog, StretchesThatEndInTimeNeverFire) {
  std::atomic<int> fired{0};
  HangWatchdog dog(0.2, [&](const std::string&, double) { ++fired; });
  for (int i = 0; i < 20; ++i) {  // 20 x 20 ms: twice the timeout in all, but each stretch well under it
    dog.begin("quick " + std::to_string(i));
    std::this_thread::sleep_for(20ms);
    dog.end();
  }
  std::this_thread::sleep_for(300ms);  // idle after end(): nothing is watched
  EXPECT_EQ(fired.load(), 0);
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
