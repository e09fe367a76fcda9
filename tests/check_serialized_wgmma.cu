// Deliberately bad, never linked: a wgmma whose accumulators are touched before its
// wgmma.wait_group, which ptxas serializes. tests/CMakeLists.txt compiles it through
// scripts/nvcc-check-wgmma.sh and expects the launcher to fail the compile.
#include "kernels/common/sm90_ptx.cuh"

__global__ void serialized_wgmma(float* out, unsigned long long desc_a, unsigned long long desc_b, int steps) {
#if TRAINBENCH_SM90A
  namespace ptx = trainbench::kernels::ptx;
  float acc[64] = {};
  for (int s = 0; s < steps; ++s) {
    ptx::wgmma_fence();
    ptx::wgmma_m64n128k16_bf16<0, 0>(acc, desc_a + s, desc_b, true);
    ptx::wgmma_commit();
    acc[s % 64] += 1.f;  // an accumulator written while the wgmma is in flight
    ptx::wgmma_wait<0>();
  }
  for (int r = 0; r < 64; ++r) out[threadIdx.x * 64 + r] = acc[r];
#endif
}
