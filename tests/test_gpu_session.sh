#!/usr/bin/env bash
# scripts/gpu-session.sh's control flow on any machine, with PREBUILT binaries: the real GPU test
# binary (its tests skip without a GPU, and run through scripts/gtest-shard.sh's shards) and a
# stand-in for trainbench whose suite "hangs" exits 3 once, as a run whose benchmark hung does, and
# whose suite "hangs-always" exits 3 every time, and a PyTorch peer that hangs. The session must go
# on past the first with --resume, give up on the second after HANG_RESUMES, cut the peer off after
# PEER_TIMEOUT, time the others, and fail overall.
#     tests/test_gpu_session.sh SESSION_SCRIPT GPU_TEST_BINARY WORK_DIR
set -uo pipefail
session="$1" gpu_tests="$2" dir="$3"
rm -rf "$dir"
mkdir -p "$dir/prebuilt"
cp "$gpu_tests" "$dir/prebuilt/trainbench_gpu_tests"
calls="$dir/calls.log"
cat >"$dir/prebuilt/trainbench" <<STANDIN
#!/usr/bin/env bash
# Stands for trainbench in tests/test_gpu_session.sh: records each call, writes what run writes.
echo "\$*" >>"$calls"
case "\$1" in
  --version) echo "trainbench stand-in" ;;
  device) echo "{}" ;;
  run)
    shift
    out="" resume="" suite=""
    while ((\$#)); do
      case "\$1" in
        --out) out="\$2"; shift ;;
        --resume) resume="\$2"; shift ;;
        --suite) suite="\$2"; shift ;;
      esac
      shift
    done
    partial="\${out%.json}.partial.json"
    if [ "\$suite" = hangs-always ] || { [ "\$suite" = hangs ] && [ -z "\$resume" ]; }; then
      echo '{"benchmarks": []}' >"\$partial"
      echo "a benchmark made no progress for 30 s: taken to hang"
      exit 3
    fi
    echo '{"benchmarks": []}' >"\$out"
    rm -f "\$partial"
    ;;
esac
exit 0
STANDIN
chmod +x "$dir/prebuilt/trainbench"

# A python3 in front of the real one: PyTorch "is installed", and its peer hangs (PEER_TIMEOUT cuts it off).
mkdir -p "$dir/bin"
real_python3="$(command -v python3)"
cat >"$dir/bin/python3" <<STANDIN
#!/usr/bin/env bash
case "\$*" in
  "-c import torch") exit 0 ;;
  *torch_peer.py*) exec sleep 600 ;;
  *) exec "$real_python3" "\$@" ;;
esac
STANDIN
chmod +x "$dir/bin/python3"

PATH="$dir/bin:$PATH" PREBUILT="$dir/prebuilt" GPU_TEST_JOBS=3 SANITIZERS="" HANG_RESUMES=2 HANG_TIMEOUT=30 \
  SUITE_TIMEOUT=60 PEER_TIMEOUT=2 bash "$session" "$dir/out" quick hangs hangs-always >"$dir/session.log" 2>&1
rc=$?
fail() {
  echo "FAIL: $*"
  cat "$dir/session.log"
  exit 1
}
[ "$rc" = 1 ] || fail "session exit status $rc; expected 1 (a suite kept hanging)"
# The GPU tests: every one listed ran once, in shards, and skipped (no GPU here), none hung.
listed=$("$gpu_tests" --gtest_list_tests --gtest_filter='-*TimerTest*' | grep -c '^  ')
ran=$(grep -cE '^\[ +(OK|SKIPPED|FAILED) +\] .*\([0-9]+ ms\)$' "$dir/out/gpu-tests.log")
timer=$(grep -cE '^\[ +(OK|SKIPPED|FAILED) +\] .*TimerTest.*\([0-9]+ ms\)$' "$dir/out/gpu-tests.log")
[ "$((ran - timer))" = "$listed" ] || fail "the shards ran $((ran - timer)) GPU tests; $listed are listed"
grep -q "gpu tests hung: 0" "$dir/session.log" || fail "no hang count for the GPU tests"
# The suites: quick once; hangs resumed once from its partial file; hangs-always given up on.
[ -f "$dir/out/quick.json" ] || fail "quick.json not written"
[ -f "$dir/out/hangs.json" ] || fail "hangs.json not written after the resumed run"
[ "$(grep -c -- '--suite hangs --out' "$calls")" = 2 ] || fail "suite hangs: expected 2 runs"
grep -q -- "--suite hangs --out $dir/out/hangs.json --force --hang-timeout 30 --resume $dir/out/hangs.partial.json" "$calls" ||
  fail "suite hangs was not resumed from its partial file with the same options"
grep -q "going on past it with --resume" "$dir/out/run-hangs.log" || fail "run-hangs.log does not say it resumed"
[ "$(grep -c -- '--suite hangs-always --out' "$calls")" = 3 ] || fail "suite hangs-always: expected 1 + HANG_RESUMES = 3 runs"
grep -q "stopped after 2 hangs" "$dir/out/run-hangs-always.log" || fail "run-hangs-always.log does not say it gave up"
[ -f "$dir/out/hangs-always.partial.json" ] || fail "the partial file of the suite given up on was not kept"
# The PyTorch peer that hangs is cut off after each suite that wrote its file, and the session goes on.
grep -q "PyTorch peer on quick: cut off after 2 s" "$dir/session.log" || fail "the hanging peer was not cut off"
grep -q "PyTorch peer on hangs: cut off after 2 s" "$dir/session.log" || fail "no peer (cut off) after the resumed suite"
echo "ok: GPU tests sharded ($listed), a hung suite resumed once, a suite that keeps hanging given up after 2 resumes," \
  "a peer that hangs cut off"
