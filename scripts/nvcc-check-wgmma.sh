#!/bin/sh
# Compiler launcher for the CUDA kernels (CMake's CUDA_COMPILER_LAUNCHER on trainbench_kernels):
# runs the compile command as given and fails it when ptxas reports that it serialized
# wgmma.mma_async ("C7510 .. C7515: Potential Performance Loss: wgmma.mma_async instructions are
# serialized ..."). ptxas prints that as "info", not as a warning, so neither -Werror nor
# -Xptxas -Werror stops the build, yet it costs much of the tensor cores' throughput.
# tests/CMakeLists.txt checks that this launcher does fail such a compile.
out=$("$@" 2>&1)
rc=$?
[ -n "$out" ] && printf '%s\n' "$out" >&2
[ "$rc" -ne 0 ] && exit "$rc"
if printf '%s\n' "$out" | grep -q 'wgmma.*serialized'; then
  echo "error: ptxas serialized wgmma.mma_async (lines above). Keep the accumulators out of every instruction" \
       "between a wgmma and its wgmma.wait_group, and out of local memory." >&2
  exit 1
fi
exit 0
