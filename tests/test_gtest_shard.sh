#!/usr/bin/env bash
# scripts/gtest-shard.sh with the GPU test binary's hang watchdog (tests/gpu_hang_watchdog.cpp): a
# test that hangs is named, its process ends with exit code 3, and the tests after it still run, in
# a new process, each once.
#     tests/test_gtest_shard.sh SHARD_SCRIPT GPU_TEST_BINARY WORK_DIR
set -uo pipefail
shard="$1" bin="$2" dir="$3"
mkdir -p "$dir"
log="$dir/shard.log"
: >"$log"
after=(RunCommand.AHangEndsTheRunAndResumeGoesOnPastIt RunCommand.AHangInVerifyOnlyIsNamedAndEndsTheRun)
TRAINBENCH_TEST_HANG_TIMEOUT=0.5 TRAINBENCH_TEST_SELF_HANG=1 SHARD_TIMEOUT=120 \
  "$shard" "$bin" "$log" HangWatchdogSelfCheck.HangsWhenAsked "${after[@]}"
rc=$?
fail() {
  echo "FAIL: $*"
  cat "$log"
  exit 1
}
[ "$rc" = 3 ] || fail "exit status $rc; expected 3 (a test hung)"
grep -qF '[  HUNG    ] HangWatchdogSelfCheck.HangsWhenAsked (did not finish within 0.5 s)' "$log" ||
  fail "no HUNG line naming the test"
[ "$(grep -cF '[ RUN      ] HangWatchdogSelfCheck.HangsWhenAsked' "$log")" = 1 ] || fail "the hung test ran again"
grep -qF 'going on past the hang with the 2 test(s) left' "$log" || fail "no second process for the tests left"
for t in "${after[@]}"; do
  [ "$(grep -cE "^\[ +(OK|SKIPPED|FAILED) +\] $t \(" "$log")" = 1 ] || fail "$t did not run exactly once after the hang"
done
echo "ok: the hung test named, the process ended with 3, the 2 tests after it run once each in a new process"
