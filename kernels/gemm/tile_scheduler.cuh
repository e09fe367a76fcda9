// The persistent GEMM's tile scheduler: a fixed grid of CTAs (about one per SM) walks the output
// tiles in an L2-friendly order. Host and device; tests/test_sm90_gemm.cpp checks that every
// tile is visited exactly once for random shapes and SM counts.
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

// One CTA per SM, but never more CTAs than tiles.
__host__ __device__ constexpr int persistent_grid_size(int num_tiles, int sm_count) {
  return num_tiles < sm_count ? num_tiles : sm_count;
}

}  // namespace trainbench::kernels
