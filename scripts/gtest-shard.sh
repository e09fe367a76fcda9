#!/usr/bin/env bash
# Runs the named tests of a GoogleTest binary in one process, bounded by a timeout; where one hangs
# (exit code 3, after tests/gpu_hang_watchdog.cpp printed "[  HUNG    ] NAME" for it: set
# TRAINBENCH_TEST_HANG_TIMEOUT for that), goes on with the tests it had left in a new process, so
# that a kernel that hangs costs its timeout and not the tests after it. Everything goes to LOG.
#     scripts/gtest-shard.sh BINARY LOG TEST [TEST ...]
# Environment: SHARD_TIMEOUT (seconds for all of it, new processes included; default 300),
# HANG_RESUMES (new processes after hangs, default 5). Exit status: 0 when every process passed,
# else the last failing one's (3: a test hung, 124: cut off by SHARD_TIMEOUT).
set -uo pipefail
bin="${1:?usage: scripts/gtest-shard.sh BINARY LOG TEST [TEST ...]}"
log="${2:?usage: scripts/gtest-shard.sh BINARY LOG TEST [TEST ...]}"
shift 2
left=("$@")
status=0
deadline=$(($(date +%s) + ${SHARD_TIMEOUT:-300}))
for ((attempt = 0; ${#left[@]} > 0; ++attempt)); do
  filter="$(IFS=:; echo "${left[*]}")"
  remaining_s=$((deadline - $(date +%s)))
  if ((remaining_s <= 0)); then
    echo "gtest-shard: no time left of SHARD_TIMEOUT=${SHARD_TIMEOUT:-300} s for the ${#left[@]} test(s) left" >>"$log"
    status=124
    break
  fi
  timeout "$remaining_s" "$bin" --gtest_filter="$filter" >>"$log" 2>&1
  rc=$?
  [ "$rc" = 124 ] && echo "gtest-shard: cut off at the end of SHARD_TIMEOUT=${SHARD_TIMEOUT:-300} s" >>"$log"
  [ "$rc" = 0 ] || status=$rc
  { [ "$rc" = 3 ] && ((attempt < ${HANG_RESUMES:-5})); } || break
  # What the processes so far finished or hung on: the rest run in a new process.
  # ("[  FAILED  ] Inst/Suite.Test/param, where GetParam() = ... (12 ms)" for a parameterized test.)
  finished="$(sed -nE 's/^\[ +(OK|FAILED|SKIPPED|HUNG) +\] ([^ ,]+)[ ,].*/\2/p' "$log" | sort -u)"
  remaining=()
  for t in "${left[@]}"; do grep -qxF -- "$t" <<<"$finished" || remaining+=("$t"); done
  if ((${#remaining[@]} == ${#left[@]})); then
    echo "gtest-shard: exit code 3 but no test named as finished or hung; not going on" >>"$log"
    break
  fi
  left=("${remaining[@]}")
  ((${#left[@]})) && echo "gtest-shard: going on past the hang with the ${#left[@]} test(s) left, in a new process" >>"$log"
done
exit "$status"
