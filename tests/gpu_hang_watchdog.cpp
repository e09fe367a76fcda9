// The GPU tests' hang watchdog: where TRAINBENCH_TEST_HANG_TIMEOUT is set to a number of seconds,
// a test still running after it (a kernel that hangs: a lost mbarrier arrival, a wrong expect_tx)
// is named on a line of its own,
//     [  HUNG    ] Suite.Test (did not finish within N s)
// and the process ends at once with exit code 3 (kExitHung), its earlier tests' verdicts printed.
// scripts/gpu-session.sh then runs the tests it had left, so that one hang costs its timeout and
// not the rest of the process's tests. Unset (the default, and under compute-sanitizer, which runs
// tests many times slower): no watchdog.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "harness/error.hpp"
#include "harness/hang_watchdog.hpp"

namespace trainbench {
namespace {

class HangListener : public ::testing::EmptyTestEventListener {
 public:
  explicit HangListener(double timeout_s)
      : watchdog_(timeout_s, [](const std::string& what, double timeout) {
          std::printf("[  HUNG    ] %s (did not finish within %g s)\n", what.c_str(), timeout);
          end_process_after_hang(kExitHung);
        }) {}
  void OnTestStart(const ::testing::TestInfo& test) override {
    watchdog_.begin(std::string(test.test_suite_name()) + "." + test.name());
  }
  void OnTestEnd(const ::testing::TestInfo&) override { watchdog_.end(); }

 private:
  HangWatchdog watchdog_;
};

// Appended before main() runs the tests (gtest_main), where the variable asks for it.
[[maybe_unused]] const bool kInstalled = [] {
  const char* set = std::getenv("TRAINBENCH_TEST_HANG_TIMEOUT");
  if (!set || !*set) return false;
  char* end = nullptr;
  const double timeout_s = std::strtod(set, &end);
  if (*end != '\0' || !(timeout_s > 0 && timeout_s <= HangWatchdog::kMaxTimeoutS)) {
    std::fprintf(stderr, "TRAINBENCH_TEST_HANG_TIMEOUT=%s is not a number of seconds from 0 to 1e6: no hang watchdog\n",
                 set);
    return false;
  }
  ::testing::UnitTest::GetInstance()->listeners().Append(new HangListener(timeout_s));
  return true;
}();

// The watchdog's own check (tests/test_gtest_shard.sh, through scripts/gtest-shard.sh): a test that
// hangs where TRAINBENCH_TEST_SELF_HANG is set, and is skipped, saying so, everywhere else.
TEST(HangWatchdogSelfCheck, HangsWhenAsked) {
  if (!std::getenv("TRAINBENCH_TEST_SELF_HANG"))
    GTEST_SKIP() << "hangs only for the hang watchdog's own check (TRAINBENCH_TEST_SELF_HANG, tests/test_gtest_shard.sh)";
  std::this_thread::sleep_for(std::chrono::minutes(10));
  FAIL() << "the hang watchdog did not end the process (is TRAINBENCH_TEST_HANG_TIMEOUT set?)";
}

// And a test well within the timeout: it must pass, not be taken to hang.
TEST(HangWatchdogSelfCheck, EndsInTime) {
  if (!std::getenv("TRAINBENCH_TEST_SELF_HANG"))
    GTEST_SKIP() << "runs only in the hang watchdog's own check (TRAINBENCH_TEST_SELF_HANG, tests/test_gtest_shard.sh)";
  std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

}  // namespace
}  // namespace trainbench
