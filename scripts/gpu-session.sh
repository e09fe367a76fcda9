#!/usr/bin/env bash
# On a GPU machine, in one go (fits a 10-minute slot on an H100): build Release with tests, run the
# GPU tests, run compute-sanitizer over them, time the given suites, run the PyTorch peer on the
# same shapes (where PyTorch is installed) and compare. Everything (logs, results files) lands in
# the folder given as the argument.
#     scripts/gpu-session.sh OUTDIR [SUITE ...]      (default suites: memory)
# Environment: SANITIZERS (default "memcheck racecheck synccheck"; empty to skip them, e.g. in a
# second call that only times suites), SANITIZER_TIMEOUT (seconds per tool, default 150),
# SANITIZER_FILTER (which GPU tests they run, a gtest filter; default: our kernels' small shapes),
# SANITIZER_JOBS (processes per tool, each a gtest shard of those tests; default 1),
# GPU_TESTS=0 to skip the GPU tests (already run in an earlier call on the same machine),
# PREBUILT=DIR: trainbench and trainbench_gpu_tests built elsewhere (Release, 90a-real, the same
# CUDA major version), used instead of building where they start here (GPU tests then run as gtest
# shards, each bounded by GPU_TEST_TIMEOUT, default 300 s),
# GPU_TEST_JOBS (how many GPU test processes at once, default 1: correctness tests, so sharing the
# GPU costs them nothing but time; more finish sooner where the startup of each process dominates),
# SUITE_TIMEOUT (seconds per suite, its resumed runs included, default 400: a kernel that hangs
# costs at most that suite, not the call; each GPU test has its own 120 s limit in ctest).
# RUN_ARGS: more options for every `trainbench run` (e.g. "--budget 1" to fit more suites in a call).
# PEER_TIMEOUT: seconds for the PyTorch peer on one suite's shapes (default 120).
# HANG_TIMEOUT: seconds after which a benchmark is taken to hang (trainbench run --hang-timeout; a
# suite then goes on past it with --resume, at most HANG_RESUMES times, default 5); TEST_HANG_TIMEOUT
# (default 60): the same for a GPU test with PREBUILT (the shard goes on with the tests it had left).
# VERIFY="SUITE ..." first verifies every benchmark of those suites without timing them
# (`trainbench run --verify-only`, a verdict per line in verify-SUITE.log): the quickest answer to
# "does every kernel verify at every shape?".
# Needs the C++ dependencies found by CMake (scripts/install-deps.sh, or a prefix on
# CMAKE_PREFIX_PATH where no package registry is reachable), and for attention.cudnn cuDNN 9 (the
# system's, or pip's nvidia-cudnn-cu13 as PyTorch installs it: CMake looks in python3's
# site-packages) and the cuDNN frontend headers (pip's, or .device-extras/ from
# scripts/prepare-device-extras.sh, carried with the tree).
set -uo pipefail
out="${1:?usage: scripts/gpu-session.sh OUTDIR [SUITE ...]}"
shift
suites=("$@")
((${#suites[@]})) || suites=(memory)
root="$(cd "$(dirname "$0")/.." && pwd)"
mkdir -p "$out"
export PATH="/usr/local/cuda/bin:$PATH"
status=0
step() { echo "== $* ($(date +%H:%M:%S))"; }

# cuDNN's SDPA engines are compiled at run time: libnvrtc must be on the loader's path (the
# toolkit's). Then libcudnn dlopens its engine libraries from the loader's path too: put the folder
# of the one the build linked (pip's, where the system has none) first.
for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib; do
  if [ -d "$d" ] && [[ ":${LD_LIBRARY_PATH:-}:" != *":$d:"* ]]; then
    export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$d"
  fi
done
add_cudnn_to_loader_path() {
  [ -f "$1" ] && ! ldconfig -p 2>/dev/null | grep -q "libcudnn\.so\.9 " &&
    export LD_LIBRARY_PATH="$(dirname "$(readlink -f "$1")")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
}

# Binaries built elsewhere (PREBUILT) are used where they start and find every library here; the
# cuDNN they link is looked for where pip puts it. Otherwise: build.
prebuilt=""
if [ -n "${PREBUILT:-}" ]; then
  step "prebuilt binaries in $PREBUILT"
  if ! ldconfig -p 2>/dev/null | grep -q "libcudnn\.so\.9 "; then
    for site in $(python3 -c "import site, sysconfig; print(sysconfig.get_paths()['purelib'], *site.getsitepackages())" 2>/dev/null); do
      lib="$(find "$site/nvidia" -name 'libcudnn.so.9' 2>/dev/null | head -1)"
      [ -n "$lib" ] && { add_cudnn_to_loader_path "$lib"; break; }
    done
  fi
  missing="$(ldd "$PREBUILT/trainbench" "$PREBUILT/trainbench_gpu_tests" 2>&1 | grep -E "not found|No such file" || true)"
  if [ -z "$missing" ] && "$PREBUILT/trainbench" --version; then
    prebuilt="$PREBUILT"
  else
    echo "prebuilt binaries unusable here, building instead: ${missing:-trainbench --version failed}"
  fi
fi
if [ -n "$prebuilt" ]; then
  tb="$prebuilt/trainbench"
  gpu_tests="$prebuilt/trainbench_gpu_tests"
else
  step "build"
  cmake -S "$root" -B "$root/build/gpu" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90a-real >"$out/build.log" 2>&1 &&
    cmake --build "$root/build/gpu" -j "$(nproc)" >>"$out/build.log" 2>&1 || { tail -40 "$out/build.log"; exit 2; }
  grep -m2 "attention.cudnn" "$out/build.log"
  add_cudnn_to_loader_path "$(sed -n 's/^TRAINBENCH_CUDNN_LIBRARY:FILEPATH=//p' "$root/build/gpu/CMakeCache.txt")"
  tb="$root/build/gpu/trainbench"
  gpu_tests="$root/build/gpu/tests/trainbench_gpu_tests"
fi
export TRAINBENCH_EXE="$tb"  # the program the GPU tests of `trainbench run` start (tests/run_command.hpp)
"$tb" device | tee "$out/device.txt"
"$tb" device --json >"$out/device.json"

if [ "${GPU_TESTS:-1}" != 0 ]; then
  step "gpu tests"
  jobs="${GPU_TEST_JOBS:-1}"
  if [ -z "$prebuilt" ]; then
    (cd "$root/build/gpu" && ctest -L gpu --output-on-failure -V -j "$jobs") >"$out/gpu-tests.log" 2>&1 || status=1
    grep -E "tests passed|Failed|SKIPPED" "$out/gpu-tests.log" | tail -5
  else
    # No ctest without the build folder: the tests dealt round-robin into GPU_TEST_JOBS shards, one
    # process each, bounded by GPU_TEST_TIMEOUT; a test still running after TEST_HANG_TIMEOUT
    # seconds (default 60) is taken to hang, and its shard goes on with the tests it had left in a
    # new process (scripts/gtest-shard.sh). The timer's tests time a kernel of known duration: they
    # run alone, after the shards.
    mapfile -t all_tests < <("$gpu_tests" --gtest_list_tests --gtest_filter='-*TimerTest*' |
      awk '/^[^ ]/ { suite = $1 } /^  / { print suite $1 }')
    ((${#all_tests[@]})) || { echo "gpu tests: $gpu_tests listed no tests"; status=1; }
    pids=()
    for ((i = 0; i < jobs; ++i)); do
      shard=()
      for ((t = i; t < ${#all_tests[@]}; t += jobs)); do shard+=("${all_tests[$t]}"); done
      ((${#shard[@]})) || continue
      : >"$out/gpu-tests-$i.log"
      TRAINBENCH_TEST_HANG_TIMEOUT="${TEST_HANG_TIMEOUT:-60}" SHARD_TIMEOUT="${GPU_TEST_TIMEOUT:-300}" \
        "$root/scripts/gtest-shard.sh" "$gpu_tests" "$out/gpu-tests-$i.log" "${shard[@]}" &
      pids+=($!)
    done
    for i in "${!pids[@]}"; do
      wait "${pids[$i]}" || status=1
    done
    timeout 60 "$gpu_tests" --gtest_filter='*TimerTest*' >"$out/gpu-tests-timer.log" 2>&1 || status=1
    cat "$out"/gpu-tests-*.log >"$out/gpu-tests.log" && rm -f "$out"/gpu-tests-*.log
    echo "gpu tests: $(grep -c '^\[       OK \]' "$out/gpu-tests.log") passed," \
      "$(grep -cE '^\[  SKIPPED \] .*\([0-9]+ ms\)$' "$out/gpu-tests.log") skipped," \
      "$(grep -cE '^\[  FAILED  \] .*\([0-9]+ ms\)$' "$out/gpu-tests.log") failed"
    echo "gpu tests hung: $(grep -c '^\[  HUNG    \]' "$out/gpu-tests.log")"
    grep -E '^\[  FAILED  \] .*\([0-9]+ ms\)$|^\[  HUNG    \]|cut off' "$out/gpu-tests.log" | head -40
  fi
fi

# Each tool over the GPU tests of our kernels at small shapes (SANITIZER_FILTER, a gtest filter:
# not the larger shapes, which take minutes under a sanitizer, nor the vendor libraries, which are
# not ours to fix), bounded so that one slow tool cannot eat the call; a tool cut off by its
# timeout is reported as such, not as clean.
sanitizer_filter="${SANITIZER_FILTER:-*SmallShapes*:*AwkwardShapes*:*AwkwardSizes*:*SeeNoKey*:*LargestSums*:-*cublas*:*Cudnn*:*cudnn*}"
# The tests see TRAINBENCH_TEST_UNDER_SANITIZER=1 and leave out the shapes that only repeat their
# paths at scale (tests/gpu_test_support.hpp).
# SANITIZER_JOBS processes per tool (gtest shards of that filter, default 1): racecheck runs the
# small shapes tens of times slower than plain and left one process incomplete after 200 s on an
# H200, while the GPU sat mostly idle under it.
if command -v compute-sanitizer >/dev/null 2>&1; then
  for tool in ${SANITIZERS-memcheck racecheck synccheck}; do
    step "compute-sanitizer $tool"
    shards="${SANITIZER_JOBS:-1}"
    pids=()
    for ((i = 0; i < shards; ++i)); do
      GTEST_TOTAL_SHARDS="$shards" GTEST_SHARD_INDEX="$i" TRAINBENCH_TEST_UNDER_SANITIZER=1 timeout "${SANITIZER_TIMEOUT:-150}" \
        compute-sanitizer --tool "$tool" --error-exitcode 3 "$gpu_tests" --gtest_filter="$sanitizer_filter" \
        >"$out/sanitizer-$tool-$i.log" 2>&1 &
      pids+=($!)
    done
    for i in "${!pids[@]}"; do
      wait "${pids[$i]}"
      rc=$?
      [ "$rc" = 124 ] && echo "compute-sanitizer $tool, shard $i of $shards: cut off after ${SANITIZER_TIMEOUT:-150} s (incomplete)" |
        tee -a "$out/sanitizer-$tool-$i.log"
      [ "$rc" = 0 ] || status=1
      tail -2 "$out/sanitizer-$tool-$i.log"
    done
    cat "$out"/sanitizer-"$tool"-*.log >"$out/sanitizer-$tool.log" && rm -f "$out"/sanitizer-"$tool"-*.log
  done
fi

for suite in ${VERIFY:-}; do
  step "verify suite $suite"
  timeout "${SUITE_TIMEOUT:-400}" "$tb" run --suite "$suite" --verify-only >"$out/verify-$suite.log" 2>&1
  rc=$?
  [ "$rc" = 124 ] && echo "verify $suite: cut off after ${SUITE_TIMEOUT:-400} s" | tee -a "$out/verify-$suite.log"
  [ "$rc" = 0 ] || status=1
  grep -E "FAILED|ERROR| verified on " "$out/verify-$suite.log" | tail -20
done

# A benchmark still running after HANG_TIMEOUT seconds (default: trainbench's own) is taken to hang:
# trainbench records it, saves the partial file and exits 3; the suite then goes on past it with
# --resume (up to HANG_RESUMES times), so that one kernel that hangs costs its timeout, not the suite.
for suite in "${suites[@]}"; do
  step "suite $suite"
  : >"$out/run-$suite.log"
  resume=()
  deadline=$(($(date +%s) + ${SUITE_TIMEOUT:-400}))  # for the suite, its resumed runs included
  for ((attempt = 0; ; ++attempt)); do
    timeout "$((deadline - $(date +%s) > 1 ? deadline - $(date +%s) : 1))" "$tb" run --suite "$suite" --out "$out/$suite.json" --force \
      ${HANG_TIMEOUT:+--hang-timeout "$HANG_TIMEOUT"} "${resume[@]}" ${RUN_ARGS:-} 2>&1 | tee -a "$out/run-$suite.log"
    rc=${PIPESTATUS[0]}
    partial="$out/$suite.partial.json"
    if [ "$rc" = 3 ] && [ -f "$partial" ] && ((attempt < ${HANG_RESUMES:-5})); then
      echo "suite $suite: a benchmark hung (recorded in $partial); going on past it with --resume" |
        tee -a "$out/run-$suite.log"
      resume=(--resume "$partial")
      continue
    fi
    break
  done
  [ "$rc" = 124 ] && echo "suite $suite: cut off after ${SUITE_TIMEOUT:-400} s (a kernel hangs, or the suite is too long for one call)" | tee -a "$out/run-$suite.log"
  [ "$rc" = 3 ] && echo "suite $suite: stopped after ${HANG_RESUMES:-5} hangs; what was done is in $out/$suite.partial.json" | tee -a "$out/run-$suite.log"
  [ "$rc" = 0 ] || status=1
  if [ -f "$out/$suite.json" ] && python3 -c "import torch" 2>/dev/null; then
    step "PyTorch peer on the $suite shapes"
    timeout "${PEER_TIMEOUT:-120}" python3 "$root/scripts/peers/torch_peer.py" --like "$out/$suite.json" \
      --out "$out/$suite-torch.json" --force 2>&1 | tee "$out/peer-$suite.log"
    rc=${PIPESTATUS[0]}
    [ "$rc" = 124 ] && echo "PyTorch peer on $suite: cut off after ${PEER_TIMEOUT:-120} s" | tee -a "$out/peer-$suite.log"
    [ "$rc" = 0 ] || status=1
    [ -f "$out/$suite-torch.json" ] && "$tb" compare "$out/$suite.json" "$out/$suite-torch.json" \
      --pair memory.cudaMemcpy=torch.copy --pair gemm.cublas=torch.matmul --pair attention.cudnn=torch.sdpa.cudnn \
      --pair fp8gemm.cublaslt=torch.scaled_mm --pair int8gemm.cublaslt=torch.int_mm \
      | tee "$out/compare-$suite-torch.txt"
  fi
done
step "done (status $status)"
exit "$status"
