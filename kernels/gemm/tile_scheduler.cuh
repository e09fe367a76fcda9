// The persistent GEMMs' tile schedulers: a fixed grid of CTAs (about one per SM), or of 2-CTA
// clusters, walks the output tiles in an L2-friendly order. Host and device;
// tests/test_sm90_gemm.cpp checks that every tile is visited exactly once for random shapes and
// SM counts.
#pragma once
#include <cuda_runtime.h>

namespace trainbench::kernels {

struct TileCoord {
  int i, j;  // tile indices along m (rows of C, from A) and along n (columns of C, from B)
};

// Linear tile index -> tile, in bands of `group` tiles along i: inside a band the order runs
// down i first, then across j. The CTAs running at one moment take consecutive indices, so
// they share a few i-tiles (operand A) and a few j-tiles (operand B) and read each from L2
// instead of HBM; in plain row order 132 CTAs would each need their own A rows.
struct GroupedTileOrder {
  int tiles_i = 0, tiles_j = 0, group = 1;

  __host__ __device__ constexpr int num_tiles() const { return tiles_i * tiles_j; }

  __host__ __device__ constexpr TileCoord tile(int linear) const {
    const int band_tiles = group * tiles_j;
    const int band = linear / band_tiles;
    const int first_i = band * group;
    const int rows = tiles_i - first_i < group ? tiles_i - first_i : group;  // the last band may be short
    const int in_band = linear - band * band_tiles;
    return {first_i + in_band % rows, in_band / rows};
  }
};

// CTA `cta` of `ctas` takes tiles cta, cta + ctas, cta + 2 ctas, ... of the order:
//   for (int t = sched.first(cta); t < sched.order.num_tiles(); t = sched.next(t)) ...
struct PersistentTileScheduler {
  GroupedTileOrder order;
  int ctas = 1;

  __host__ __device__ constexpr int first(int cta) const { return cta; }
  __host__ __device__ constexpr int next(int linear) const { return linear + ctas; }
};

// The current device's SM count (at least 1, so that a failed query still gives a launchable
// grid): what the persistent kernels' launchers size their grids by. Host only.
inline int current_device_sm_count() {
  int device = 0, sms = 0;
  cudaGetDevice(&device);
  cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device);
  return sms > 0 ? sms : 1;
}

// One CTA per SM, but never more CTAs than tiles.
__host__ __device__ constexpr int persistent_grid_size(int num_tiles, int sm_count) {
  return num_tiles < sm_count ? num_tiles : sm_count;
}

// Version 5's clusters of two CTAs: cluster c of `clusters` takes pairs c, c + clusters, ... of
// the grouped order over pairs of tiles (tiles_i x ceil(tiles_j / 2)), and its CTA of rank r
// computes tile (i, 2p + r) of pair (i, p). The two tiles of a pair read the same panel of A,
// which is what the CTAs multicast to each other.
//   for (int t = sched.first(cluster); t < sched.pairs.num_tiles(); t = sched.next(t)) ...
// Where tiles_j is odd the last pair of every row i has its second tile off the matrix. Its CTA
// must still run the pair's whole pipeline (its peer waits on its half of A and on its barrier
// arrivals), so it loads and computes its peer's tile again (loaded()) and stores nothing
// (on_matrix() is false). Both CTAs of a cluster thus run the same number of tiles and k-tiles.
struct ClusterPairScheduler {
  static constexpr int kClusterSize = 2;
  GroupedTileOrder pairs;
  int tiles_j = 0;  // the tile count along j; pairs.tiles_j is half of it, rounded up
  int clusters = 1;

  __host__ __device__ constexpr int first(int cluster) const { return cluster; }
  __host__ __device__ constexpr int next(int linear) const { return linear + clusters; }
  __host__ __device__ constexpr TileCoord tile(int linear, int rank) const {
    const TileCoord p = pairs.tile(linear);
    return {p.i, kClusterSize * p.j + rank};
  }
  __host__ __device__ constexpr bool on_matrix(TileCoord t) const { return t.j < tiles_j; }
  __host__ __device__ constexpr TileCoord loaded(TileCoord t) const { return {t.i, on_matrix(t) ? t.j : tiles_j - 1}; }
};

// At most max_clusters clusters (as many as fit on the GPU at once), never more than pairs.
__host__ __device__ constexpr ClusterPairScheduler cluster_pair_scheduler(int tiles_i, int tiles_j, int group,
                                                                          int max_clusters) {
  const GroupedTileOrder pairs{.tiles_i = tiles_i,
                               .tiles_j = (tiles_j + ClusterPairScheduler::kClusterSize - 1) /
                                          ClusterPairScheduler::kClusterSize,
                               .group = group};
  return {.pairs = pairs, .tiles_j = tiles_j, .clusters = persistent_grid_size(pairs.num_tiles(), max_clusters)};
}

}  // namespace trainbench::kernels
