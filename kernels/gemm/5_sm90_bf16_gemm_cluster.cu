// gemm.wgmma, version 5: 2-CTA clusters with TMA multicast, a stmatrix + TMA-store epilogue
// (sm_90a only).
//
// What it changes from version 4 (warp-specialized, persistent, 128 x 256 x 64 tiles):
// - Clusters of two CTAs take two tiles side by side along n, (i, 2p) and (i, 2p + 1), which read
//   the same 256-row panel of A (tile_scheduler.cuh: ClusterPairScheduler). Each CTA loads half
//   of every A k-tile (128 rows) and multicasts it into both CTAs' shared memory
//   (cp.async.bulk.tensor ... .multicast::cluster, CTA mask 0b11): per CTA and k-tile 32 KiB
//   come from L2 instead of 48 KiB, and A is read once per pair.
// - A stage is refilled in both CTAs by both producers, so it is free only when the consumers
//   of both CTAs have released it: each "empty" barrier counts 16 arrivals, one per consumer warp
//   of the cluster (lane r of every consumer warp arrives on CTA r's, through mapa and
//   mbarrier.arrive.shared::cluster). Each CTA's "full" barrier still expects the whole stage,
//   48 KiB: its own B tile and its half of A, and the peer's half of A, whose bytes may land
//   before the local expect_tx (the phase cannot complete without the local producer's arrival).
// - Epilogue: the accumulators go to shared memory in 64 x 128-byte chunks (stmatrix for BF16
//   output, 8-byte stores for FP32), 128B-swizzled so the writes are free of bank conflicts, and
//   one thread per consumer warpgroup stores each chunk with a TMA tensor store. Two staging
//   buffers per warpgroup: a chunk is written while the TMA reads the previous one, and the last
//   store drains while the next tile's mainloop runs. The TMA clips the tails; no predicated
//   stores.
// 4 stages x 48 KiB + 4 x 8 KiB staging = 224 KiB of shared memory (227 KiB is the limit).
//
// The cluster protocol, for whoever debugs a hang: both CTAs of a cluster walk the same pairs and
// k-tiles (a tile off the matrix is computed again from its peer's operands and not stored), so
// every phase of every barrier gets its arrivals; cluster_sync() after the barrier inits (no
// multicast or remote arrival before the peer's barriers exist) and before exit (no remote
// arrival into a CTA that has left).
//
// Measured (H200, results/h200-sxm/gemm-square.log; tn, BF16 out, L2 cold): 769.6 TFLOP/s at 4096^3
// (0.984x gemm.cublas), 803.4 TFLOP/s at 8192^3 (1.009x).
//
// gemm.wgmma_128x128, version 5b: the same kernel on 128 x 128 tiles (ClusterTiles<128>: wgmma
// m64n128k16, 64 accumulators a thread, 6 stages of 32 KiB). Why: wave quantization. At
// 8192 x 1280 x 8192 (Llama 3 70B at TP = 8) the 256 x 128 tiles are 320, 160 pairs on the H200's
// 66 clusters: 2.4 waves, the third 40% full, and gemm.wgmma ran 0.846x cuBLAS there (0.842x at
// 1280 x 8192 x 8192) against 0.98-1.01x at shapes with many waves. 128 x 128 tiles make 4.85 waves
// at the price of a smaller tile (half the FLOPs per byte of A). The figures above scale with the
// tile: each CTA multicasts 64 of the 128 A rows, a stage is 32 KiB (its 16 KiB B tile and both
// 8 KiB halves of A, 24 KiB of it from L2), and 6 stages x 32 KiB + 2 x 16 KiB staging fill
// 224 KiB. Not yet run on a GPU; its measured ratio at each shape says whether gemm.wgmma should
// pick the width by shape.
#include "kernels/common/ptx.cuh"
#include "kernels/common/sm90_ptx.cuh"
#include "kernels/gemm/dispatch.cuh"
#include "kernels/gemm/gemm.cuh"
#include "kernels/gemm/sm90_tiles.cuh"
#include "kernels/gemm/tile_scheduler.cuh"

#include <cstdint>

namespace trainbench::kernels {
namespace {

constexpr int kTileJ = 128;  // rows of C^T (n), from B: two consumer warpgroups of wgmma M = 64
constexpr int kTileK = 64;
constexpr int kConsumers = 2;
constexpr int kThreads = 128 * (1 + kConsumers);
constexpr int kProducerRegisters = 40, kConsumerRegisters = 232;
constexpr int kClusterSize = ClusterPairScheduler::kClusterSize;
// The launch gives each thread 65536 / kThreads registers in steps of 8 (168 here), and
// setmaxnreg.inc waits until registers are free: what the producer gives back must pay exactly for
// what the consumers take, or they wait forever.
static_assert((65536 / kThreads / 8 * 8 - kProducerRegisters) * 128 ==
              (kConsumerRegisters - 65536 / kThreads / 8 * 8) * 128 * kConsumers);
constexpr std::uint32_t kStagingBytes = 2 * Sm90StoreChunk<float>::kBytes;  // per consumer warpgroup
static_assert(Sm90StoreChunk<float>::kBytes == Sm90StoreChunk<__nv_bfloat16>::kBytes);

// The tile width along m, kTileI columns of C^T from A (wgmma N, shared by the cluster's pair):
// 256 (gemm.wgmma) or 128 (gemm.wgmma_128x128, version 5b). As many stages as fit: 4 of 48 KiB,
// or 6 of 32 KiB.
template <int kTileI_>
struct ClusterTiles {
  static constexpr int kTileI = kTileI_;
  static_assert(kTileJ == kWgmmaM * kConsumers && is_wgmma_bf16_shape(kWgmmaM, kTileI, kWgmmaK) &&
                (kTileI == 128 || kTileI == 256));
  static constexpr int kBandTiles = 2048 / kTileI;  // pairs along m per band of the tile order: 2048 rows of A
  static constexpr std::uint32_t kStageBytes = (kTileJ + kTileI) * kTileK * 2;
  static constexpr int kStages = kTileI == 256 ? 4 : 6;
  // Stages, staging buffers (1024-aligned, as the 128B swizzle needs), a full and an empty barrier
  // per stage, and 1 KiB of slack to align the base.
  static constexpr int kSmemBytes = kStages * kStageBytes + kConsumers * kStagingBytes + 2 * kStages * 8 + 1024;
  static_assert(kSmemBytes <= 227 * 1024, "more shared memory than an sm_90 CTA may opt into");
  template <GemmLayout kLayout>
  using TileB = Sm90OperandTile<kTileJ, b_k_major(kLayout)>;  // wgmma's A operand, this CTA's own
  template <GemmLayout kLayout>
  using TileA = Sm90SlicedOperandTile<kTileI, a_k_major(kLayout), kClusterSize>;  // wgmma's B, shared
};

template <GemmLayout kLayout, typename OutT, typename Tiles>
__global__ void __launch_bounds__(kThreads, 1)
gemm_wgmma_cluster_kernel(const __grid_constant__ CUtensorMap a_map, const __grid_constant__ CUtensorMap b_map,
                          const __grid_constant__ CUtensorMap c_map, int k, ClusterPairScheduler sched) {
#if TRAINBENCH_SM90A
  constexpr int kTileI = Tiles::kTileI, kStages = Tiles::kStages;
  constexpr std::uint32_t kStageBytes = Tiles::kStageBytes;
  using TB = typename Tiles::template TileB<kLayout>;
  using TA = typename Tiles::template TileA<kLayout>;
  static_assert(TB::kBytes + TA::Whole::kBytes == kStageBytes);
  constexpr int kTransA = TB::kKMajor ? 0 : 1, kTransB = TA::Whole::kKMajor ? 0 : 1;
  constexpr auto kClusterMask = static_cast<std::uint16_t>((1u << kClusterSize) - 1);  // both CTAs

  extern __shared__ unsigned char smem[];
  const std::uint32_t base = (ptx::smem_addr(smem) + 1023u) & ~1023u;
  const auto b_tile = [&](int s) { return base + static_cast<std::uint32_t>(s) * kStageBytes; };
  const auto a_tile = [&](int s) { return b_tile(s) + TB::kBytes; };
  const auto staging = [&](int consumer) {
    return base + kStages * kStageBytes + static_cast<std::uint32_t>(consumer) * kStagingBytes;
  };
  const auto full = [&](int s) { return staging(kConsumers) + 8u * static_cast<std::uint32_t>(s); };
  const auto empty = [&](int s) { return full(kStages) + 8u * static_cast<std::uint32_t>(s); };

  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32, wg = tid / 128;
  const int rank = static_cast<int>(ptx::cluster_ctarank());
  const int cluster = static_cast<int>(ptx::cluster_id_x());
  const int k_tiles = (k + kTileK - 1) / kTileK;

  if (tid == 0) {
    for (int s = 0; s < kStages; ++s) {
      ptx::mbarrier_init(full(s), 1);                               // the local producer's arrive_expect_tx
      ptx::mbarrier_init(empty(s), kClusterSize * kConsumers * 4);  // every consumer warp of the cluster
    }
    ptx::fence_mbarrier_init();
  }
  ptx::cluster_sync();

  if (wg == 0) {
    // Producer: this CTA's B tile, and its half of the pair's A tile into both CTAs. Its ring
    // position runs on across tiles; "empty" waits take the flipped parity, which fresh barriers
    // pass at once.
    ptx::setmaxnreg_dec<kProducerRegisters>();
    if (warp == 0 && ptx::elect_one()) {
      ptx::prefetch_tensor_map(&a_map);
      ptx::prefetch_tensor_map(&b_map);
      int stage = 0;
      std::uint32_t phase = 0;
      for (int t = sched.first(cluster); t < sched.pairs.num_tiles(); t = sched.next(t)) {
        const TileCoord tile = sched.loaded(sched.tile(t, rank));
        for (int kt = 0; kt < k_tiles; ++kt) {
          ptx::mbarrier_wait(empty(stage), phase ^ 1u);
          ptx::mbarrier_arrive_expect_tx(full(stage), kStageBytes);
          load_operand_tile<TB>(b_tile(stage), b_map, full(stage), tile.j * kTileJ, kt * kTileK);
          load_operand_slice_multicast<TA>(a_tile(stage), rank, a_map, full(stage), tile.i * kTileI, kt * kTileK,
                                           kClusterMask);
          if (++stage == kStages) {
            stage = 0;
            phase ^= 1u;
          }
        }
      }
    }
  } else {
    // Consumers: warpgroup 1 + w computes rows 64w .. 64w + 63 of the CTA's C^T tile.
    ptx::setmaxnreg_inc<kConsumerRegisters>();
    const int consumer = wg - 1, thread = tid % 128;
    if (thread == 0) ptx::prefetch_tensor_map(&c_map);
    // Stage s is free in this CTA once both CTAs' consumers are done with it: tell both.
    const auto release = [&](int s) {
      if (lane < kClusterSize) ptx::mbarrier_arrive_cluster(ptx::map_shared_rank(empty(s), lane));
    };
    float acc[kTileI / 2] = {};
    int stage = 0;
    std::uint32_t phase = 0;
    for (int t = sched.first(cluster); t < sched.pairs.num_tiles(); t = sched.next(t)) {
      const TileCoord tile = sched.tile(t, rank);
      int previous = 0;
      for (int kt = 0; kt < k_tiles; ++kt) {
        ptx::mbarrier_wait(full(stage), phase);
        ptx::fence_registers(acc);
        ptx::wgmma_fence();
#pragma unroll
        for (int ks = 0; ks < kTileK / kWgmmaK; ++ks) {
          const std::uint64_t desc_b = TB::descriptor(b_tile(stage), kWgmmaM * consumer, ks);
          const std::uint64_t desc_a = TA::Whole::descriptor(a_tile(stage), 0, ks);
          if constexpr (kTileI == 256) {
            ptx::wgmma_m64n256k16_bf16<kTransA, kTransB>(acc, desc_b, desc_a, kt > 0 || ks > 0);
          } else {
            ptx::wgmma_m64n128k16_bf16<kTransA, kTransB>(acc, desc_b, desc_a, kt > 0 || ks > 0);
          }
        }
        ptx::wgmma_commit();
        ptx::wgmma_wait<1>();  // k-tile kt - 1's wgmmas are done: release its stage
        ptx::fence_registers(acc);
        if (kt > 0) release(previous);
        previous = stage;
        if (++stage == kStages) {
          stage = 0;
          phase ^= 1u;
        }
      }
      ptx::wgmma_wait<0>();
      ptx::fence_registers(acc);
      release(previous);
      if (sched.on_matrix(tile))
        store_accumulators_tma<kTileI, OutT>(c_map, staging(consumer), acc, tile.i * kTileI,
                                             tile.j * kTileJ + kWgmmaM * consumer, thread, 1 + consumer);
    }
    if (thread == 0) ptx::bulk_wait_group<0>();  // the staging buffers must outlive the stores
  }
  ptx::cluster_sync();  // the peer may still arrive on this CTA's empty barriers
#else
  __trap();  // sm_90a only; the registry keeps other GPUs from launching it
#endif
}

template <typename Tiles>
void launch(const GemmArgs& args, cudaStream_t stream) {
  dispatch_gemm(args, [&]<GemmLayout kLayout, typename OutT>() {
    const auto kernel = gemm_wgmma_cluster_kernel<kLayout, OutT, Tiles>;
    cudaLaunchConfig_t config{};
    cudaLaunchAttribute cluster{};
    cluster.id = cudaLaunchAttributeClusterDimension;
    cluster.val.clusterDim.x = kClusterSize;
    cluster.val.clusterDim.y = 1;
    cluster.val.clusterDim.z = 1;
    config.blockDim = dim3(kThreads);
    config.dynamicSmemBytes = Tiles::kSmemBytes;
    config.stream = stream;
    config.attrs = &cluster;
    config.numAttrs = 1;
    // How many 2-CTA clusters fit on the GPU at once: fewer than half the SMs where a GPC has an
    // odd number of them. Failures surface at the launch, which the caller checks.
    static const int max_clusters = [&] {
      cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, Tiles::kSmemBytes);
      cudaLaunchConfig_t query = config;
      query.gridDim = dim3(kClusterSize);
      int clusters = 0;
      if (cudaOccupancyMaxActiveClusters(&clusters, kernel, &query) != cudaSuccess || clusters < 1) {
        const int pairs = current_device_sm_count() / kClusterSize;
        clusters = pairs > 0 ? pairs : 1;
      }
      return clusters;
    }();
    struct Maps {
      GemmArgs args;
      CUtensorMap a, b, c;
    };
    static thread_local Maps last{};  // encoding is a driver call; the timed loop repeats one problem
    if (last.args.a != args.a || last.args.b != args.b || last.args.c != args.c || last.args.m != args.m ||
        last.args.n != args.n || last.args.k != args.k) {
      last.a = operand_tensor_map<typename Tiles::template TileA<kLayout>::Slice>(args.a, args.m, args.k);
      last.b = operand_tensor_map<typename Tiles::template TileB<kLayout>>(args.b, args.n, args.k);
      // C^T: n rows of m contiguous elements (C is column-major), one store chunk per box.
      constexpr auto cols = static_cast<std::uint32_t>(Sm90StoreChunk<OutT>::kCols);
      constexpr auto rows = static_cast<std::uint32_t>(Sm90StoreChunk<OutT>::kRows);
      const auto m = static_cast<std::uint64_t>(args.m), n = static_cast<std::uint64_t>(args.n);
      if constexpr (sizeof(OutT) == 4) last.c = make_tensor_map_f32_2d_sw128(args.c, m, n, cols, rows);
      else last.c = make_tensor_map_bf16_2d_sw128(args.c, m, n, cols, rows);
      last.args = args;
    }
    const ClusterPairScheduler sched = cluster_pair_scheduler(
        (args.m + Tiles::kTileI - 1) / Tiles::kTileI, (args.n + kTileJ - 1) / kTileJ, Tiles::kBandTiles, max_clusters);
    config.gridDim = dim3(static_cast<unsigned>(kClusterSize * sched.clusters));
    cudaLaunchKernelEx(&config, kernel, last.a, last.b, last.c, args.k, sched);
  });
}

}  // namespace

void gemm_wgmma_cluster_sm90(const GemmArgs& args, cudaStream_t stream) { launch<ClusterTiles<256>>(args, stream); }
void gemm_wgmma_cluster_128_sm90(const GemmArgs& args, cudaStream_t stream) { launch<ClusterTiles<128>>(args, stream); }

}  // namespace trainbench::kernels
