// gemm.wgmma_tma, version 3: Hopper tensor cores through wgmma, fed by TMA (sm_90a only).
//
// What it changes from version 2 (mma.sync):
// - Operand tiles reach shared memory by TMA (cp.async.bulk.tensor): one thread asks for a
//   whole k-tile of each operand, the copy engine computes the addresses, writes the 128-byte
//   swizzle and zero-fills whatever lies outside the matrix (the M, N and K tails), and arrival
//   is counted in bytes on an mbarrier (expect_tx) instead of per-thread cp.async groups.
// - The multiply is wgmma.mma_async m64n128k16: a warpgroup (4 warps) multiplies a 64x16 by a
//   16x128 tile straight from shared memory through matrix descriptors (no ldmatrix, no operand
//   fragments in registers), asynchronously. K-major and M/N-major operands both work through
//   the instruction's transpose bits, so the three layouts read their tiles as TMA wrote them.
// - A 4-stage ring with a "full" and an "empty" mbarrier per stage: everyone waits "full" with
//   the phase parity; once all 8 warps have released a stage ("empty"), thread 0 refills it.
//   wgmma_wait<1> keeps one k-tile's wgmmas in flight while the previous k-tile's stage is
//   released.
// Tiles: 128 (n) x 128 (m) x 64 (k) per 256-thread CTA; warpgroup w computes rows 64w .. 64w + 63
// of the CTA's C^T tile (sm90_tiles.cuh says why C^T), 64 FP32 accumulators per thread;
// 4 stages x 32 KiB of shared memory. Not yet: warp specialization (thread 0 both loads and
// computes), a persistent grid, clusters, a TMA-store epilogue (versions 4 and 5).
//
// Measured (H200, results/h200-sxm/gemm-square.log; tn, BF16 out, L2 cold): 583.4 TFLOP/s at 4096^3
// (0.746x gemm.cublas), 580.0 TFLOP/s at 8192^3 (0.728x).
#include "kernels/common/ptx.cuh"
#include "kernels/common/sm90_ptx.cuh"
#include "kernels/gemm/dispatch.cuh"
#include "kernels/gemm/gemm.cuh"
#include "kernels/gemm/sm90_tiles.cuh"

#include <cstdint>

namespace trainbench::kernels {
namespace {

constexpr int kTileJ = 128;  // rows of C^T (n), from B: two warpgroups of wgmma M = 64
constexpr int kTileI = 128;  // columns of C^T (m), from A: wgmma N
constexpr int kTileK = 64;
constexpr int kStages = 4;
constexpr int kWarpgroups = 2;
constexpr int kThreads = 128 * kWarpgroups;
static_assert(kTileJ == kWgmmaM * kWarpgroups && is_wgmma_bf16_shape(kWgmmaM, kTileI, kWgmmaK));

template <GemmLayout kLayout>
using TileB = Sm90OperandTile<kTileJ, b_k_major(kLayout)>;  // wgmma's A operand
template <GemmLayout kLayout>
using TileA = Sm90OperandTile<kTileI, a_k_major(kLayout)>;  // wgmma's B operand

constexpr std::uint32_t kStageBytes = (kTileJ + kTileI) * kTileK * 2;
// Stages, then a full and an empty barrier per stage; 1 KiB of slack to align the stages to
// 1024 bytes (the 128B swizzle pattern's period).
constexpr int kSmemBytes = kStages * kStageBytes + 2 * kStages * 8 + 1024;

template <GemmLayout kLayout, typename OutT>
__global__ void __launch_bounds__(kThreads, 1)
gemm_wgmma_tma_kernel(const __grid_constant__ CUtensorMap a_map, const __grid_constant__ CUtensorMap b_map,
                      OutT* __restrict__ c, int m, int n, int k) {
#if TRAINBENCH_SM90A
  using TB = TileB<kLayout>;
  using TA = TileA<kLayout>;
  static_assert(TB::kBytes + TA::kBytes == kStageBytes);
  // wgmma's transpose bits: 0 reads a K-major operand, 1 an M- (N-) major one.
  constexpr int kTransA = TB::kKMajor ? 0 : 1, kTransB = TA::kKMajor ? 0 : 1;

  extern __shared__ unsigned char smem[];
  const std::uint32_t base = (ptx::smem_addr(smem) + 1023u) & ~1023u;
  const auto b_tile = [&](int s) { return base + static_cast<std::uint32_t>(s) * kStageBytes; };
  const auto a_tile = [&](int s) { return b_tile(s) + TB::kBytes; };
  const auto full = [&](int s) { return base + kStages * kStageBytes + 8u * static_cast<std::uint32_t>(s); };
  const auto empty = [&](int s) { return full(kStages) + 8u * static_cast<std::uint32_t>(s); };

  const int tid = threadIdx.x, lane = tid % 32, wg = tid / 128;
  // A 1-D grid, i fastest: no 65535 limit on either dimension.
  const int tile = static_cast<int>(blockIdx.x), tiles_i = (m + kTileI - 1) / kTileI;
  const int i0 = tile % tiles_i * kTileI, j0 = tile / tiles_i * kTileJ;
  const int k_tiles = (k + kTileK - 1) / kTileK;

  if (tid == 0) {
    for (int s = 0; s < kStages; ++s) {
      ptx::mbarrier_init(full(s), 1);                 // the producer's arrive_expect_tx
      ptx::mbarrier_init(empty(s), kThreads / 32);    // one arrival per warp
    }
    ptx::fence_mbarrier_init();
    ptx::prefetch_tensor_map(&a_map);
    ptx::prefetch_tensor_map(&b_map);
  }
  __syncthreads();

  // The producer's position in the ring (thread 0 only). It waits "empty" with the flipped
  // parity: on fresh barriers that passes at once, for the first kStages loads.
  int load_stage = 0;
  std::uint32_t load_phase = 0;
  const auto load = [&](int kt) {
    ptx::mbarrier_wait(empty(load_stage), load_phase ^ 1u);
    ptx::mbarrier_arrive_expect_tx(full(load_stage), kStageBytes);
    load_operand_tile<TB>(b_tile(load_stage), b_map, full(load_stage), j0, kt * kTileK);
    load_operand_tile<TA>(a_tile(load_stage), a_map, full(load_stage), i0, kt * kTileK);
    if (++load_stage == kStages) {
      load_stage = 0;
      load_phase ^= 1u;
    }
  };
  if (tid == 0)
    for (int kt = 0; kt < kStages && kt < k_tiles; ++kt) load(kt);
  __syncwarp();

  float acc[kTileI / 2] = {};
  int stage = 0;
  std::uint32_t phase = 0;
  for (int kt = 0; kt < k_tiles; ++kt) {
    ptx::mbarrier_wait(full(stage), phase);
    ptx::fence_registers(acc);
    ptx::wgmma_fence();
#pragma unroll
    for (int ks = 0; ks < kTileK / kWgmmaK; ++ks)
      ptx::wgmma_m64n128k16_bf16<kTransA, kTransB>(acc, TB::descriptor(b_tile(stage), kWgmmaM * wg, ks),
                                                   TA::descriptor(a_tile(stage), 0, ks), true);
    ptx::wgmma_commit();
    ptx::wgmma_wait<1>();  // k-tile kt - 1's wgmmas are done: its stage may be overwritten
    ptx::fence_registers(acc);
    if (kt > 0) {
      const int released = (stage + kStages - 1) % kStages;
      if (lane == 0) ptx::mbarrier_arrive(empty(released));
      if (tid == 0 && kt - 1 + kStages < k_tiles) load(kt - 1 + kStages);  // into `released`
      __syncwarp();
    }
    if (++stage == kStages) {
      stage = 0;
      phase ^= 1u;
    }
  }
  ptx::wgmma_wait<0>();
  ptx::fence_registers(acc);

  store_accumulators<kTileI>(c, acc, m, n, i0, j0 + kWgmmaM * wg, tid % 128);
#else
  __trap();  // sm_90a only; the registry keeps other GPUs from launching it
#endif
}

}  // namespace

void gemm_wgmma_tma_sm90(const GemmArgs& args, cudaStream_t stream) {
  dispatch_gemm(args, [&]<GemmLayout kLayout, typename OutT>() {
    const auto kernel = gemm_wgmma_tma_kernel<kLayout, OutT>;
    static const cudaError_t opt_in =
        cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kSmemBytes);
    (void)opt_in;  // a failure surfaces at the launch, which the caller checks
    // Encoding a map is a driver call: keep the last pair (the timed loop repeats one problem).
    struct Maps {
      GemmArgs args;
      CUtensorMap a, b;
    };
    static thread_local Maps last{};
    if (last.args.a != args.a || last.args.b != args.b || last.args.m != args.m || last.args.n != args.n ||
        last.args.k != args.k) {
      last.a = operand_tensor_map<TileA<kLayout>>(args.a, args.m, args.k);
      last.b = operand_tensor_map<TileB<kLayout>>(args.b, args.n, args.k);
      last.args = args;
    }
    // C (m n elements) fits in memory, so the tile count fits in an int.
    const int grid = ((args.m + kTileI - 1) / kTileI) * ((args.n + kTileJ - 1) / kTileJ);
    kernel<<<grid, kThreads, kSmemBytes, stream>>>(last.a, last.b, static_cast<OutT*>(args.c), args.m, args.n,
                                                   args.k);
  });
}

}  // namespace trainbench::kernels
