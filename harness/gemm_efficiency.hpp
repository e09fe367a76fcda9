// How a GEMM's shape costs it throughput: the quantization model of NVIDIA's "Matrix
// Multiplication Background User's Guide" (https://docs.nvidia.com/deeplearning/performance/
// dl-performance-matrix-multiplication/index.html, "Dimension Quantization Effects"). The output is
// cut into tiles, one per CTA; a partial tile at an edge costs a whole one (tile quantization), and
// tiles run in waves of one per SM, the last wave partly idle (wave quantization). With fewer tiles
// than SMs, libraries split K across CTAs (cuBLAS's split-K, CUTLASS's stream-K) to fill the machine;
// the model takes the best of the two tile orientations and of the splits that keep a slice of K
// at least `min_split_k` deep.
//
// The factor is the fraction of the machine's tile slots doing useful work over the whole GEMM. A
// best-shape throughput (whose factor is about 1) times a shape's factor is that shape's projected
// throughput; a measured GEMM's throughput divided by its own factor and times another shape's
// projects the measurement to the other shape. What it leaves out (the k loop's prologue and
// epilogue, L2 reuse, the library's heuristics) stays in the measured efficiency.
#pragma once
#include <cstdint>

namespace trainbench {

struct GemmTiling {
  double tile_long = 256;   // the tile's long side, along the output's longer dimension or the other
  double tile_short = 128;
  double sms = 0;           // 0: unknown, tile quantization only
  double min_split_k = 512; // a split-K slice keeps at least this much of K
};

// In (0, 1]: useful multiply-adds over the multiply-adds the tiles and waves occupy.
double gemm_quantization_efficiency(std::uint64_t m, std::uint64_t n, std::uint64_t k, const GemmTiling& tiling);

}  // namespace trainbench
