#!/usr/bin/env bash
# scripts/gtest-shard.sh with the GPU test binary's hang watchdog (tests/gpu_hang_watchdog.cpp): a
# test that hangs is named, its process ends with exit code 3, and the tests after it still run, in
# a new process, once.
#     tests/test_gtest_shard.sh SHARD_SCRIPT GPU_TEST_BINARY WORK_DIR
set -uo pipefail
shard="$1" bin="$2" dir="$3"
mkdir -p "$dir"
log="$dir/shard.log"
: >"$log"
TRAINBENCH_TEST_HANG_TIMEOUT=2 TRAINBENCH_TEST_SELF_HANG=1 SHARD_TIMEOUT=120 \
  "$shard" "$bin" "$log" HangWatchdogSelfCheck.HangsWhenAsked HangWatchdogSelfCheck.EndsInTime
rc=$?
fail() {
  echo "FAIL: $*"
  cat "$log"
  exit 1
}
[ "$rc" = 3 ] || fail "exit status $rc; expected 3 (a test hung)"
grep -qF '[  HUNG    ] HangWatchdogSelfCheck.HangsWhenAsked (did not finish within 2 s)' "$log" ||
  fail "no HUNG line naming the test"
[ "$(grep -cF '[ RUN      ] HangWatchdogSelfCheck.HangsWhenAsked' "$log")" = 1 ] || fail "the hung test ran again"
grep -qF 'going on past the hang with the 1 test(s) left' "$log" || fail "no second process for the test left"
[ "$(grep -cE '^\[       OK \] HangWatchdogSelfCheck.EndsInTime \(' "$log")" = 1 ] ||
  fail "the test after the hang did not pass exactly once"
grep -qF '[  HUNG    ] HangWatchdogSelfCheck.EndsInTime' "$log" && fail "a test within the timeout was taken to hang"
echo "ok: the hung test named, the process ended with 3, the test after it passed once in a new process"
