#!/usr/bin/env bash
# Quick start 2 of 2: install what is missing, build (warnings as errors), run every test.
# CPU tests always run; GPU tests (ctest label `gpu`) run where a GPU is present and are
# reported as skipped, with the reason, where none is.
#     scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
export PATH="/usr/local/cuda/bin:$PATH"
cmake --preset ci
cmake --build --preset ci -j "$(nproc)"
ctest --preset ci -j "$(nproc)"
# Say why GPU tests were skipped, if they were.
ctest --preset ci -L gpu -V 2>/dev/null | grep -m1 -o "no usable GPU: .*" | sed 's/^/gpu tests skipped: /' || true
