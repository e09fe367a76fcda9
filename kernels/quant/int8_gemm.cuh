// int8gemm.mma (2_sm80_int8_gemm_mma.cu): the scaled GEMM of scaled_gemm.cuh with s8 operands,
// one scale per row of a and one per column of C (per row of b), on sm_80 and later.
//
//   C(i, j) = sa[i] sb[j] sum_p a[i, p] b[j, p]     (exact s32 sums, scaled once in FP32)
//
// Because both scales are constant along k, the whole k sums in the tensor core's s32
// accumulators without loss; there is nothing to promote.
#pragma once
#include <cstdint>

#include <cuda_runtime_api.h>

#include "kernels/quant/scaled_gemm.cuh"

namespace trainbench::kernels {

inline constexpr int kInt8TileM = 128, kInt8TileN = 128;
inline constexpr int kInt8TileK = 128;  // s8: 128 bytes per operand row per stage
inline constexpr int kInt8MmaK = 32;    // k of one mma.sync m16n8k32

// What int8_gemm_mma_sm80 requires (checked by the impl, not the launcher):
// - k a multiple of kInt8KAlign: a and b rows are read as 16-byte cp.async chunks, each whole in
//   k or wholly past it (zero-filled);
// - k at most kInt8MaxK, so that no s32 sum can wrap: kInt8MaxK * 128^2 = 2^30;
// - m a multiple of kInt8MAlign: each thread stores two adjacent BF16 of a column as one 4-byte
//   store, which needs c[j m + i] with i even to be 4-byte aligned and i + 1 < m;
// - n anything from 1 (rows of b past n are zero-filled, their stores skipped);
// - a_scale Row, b_scale Col, BF16 output (c_f32 false), 16-byte-aligned a and b.
inline constexpr int kInt8KAlign = 16;
inline constexpr int kInt8MaxK = 1 << 16;
inline constexpr int kInt8MAlign = 8;

// planned_k_splits (scaled_gemm.cuh) counts 128x128 tiles and k-blocks of 128: this kernel's.
static_assert(kInt8TileM == kFp8TileM && kInt8TileN == kFp8TileN && kInt8TileK == kScaleBlock);

// s32 bound: |a|, |b| <= 128, so |sum| <= k 2^14.
static_assert(static_cast<long long>(kInt8MaxK) * 128 * 128 < (1ll << 31), "s32 sums must not wrap");

// args.k_splits > 1 splits k (scaled_gemm.cuh; int8gemm.mma_splitk): each part's exact s32 sums
// go to args.workspace (split_k_workspace_bytes, 8-byte aligned: s32 pairs), and a second kernel
// adds them and scales once, so the output is the unsplit kernel's bit for bit.
// Throws std::invalid_argument when the scale layouts are not Row / Col, c_f32 is set, or the
// split is not 1 to ceil(k / 128) parts with a workspace.
void int8_gemm_mma_sm80(const ScaledGemmArgs& args, cudaStream_t stream);

// int8gemm.wgmma and int8gemm.wgmma_splitk (3_sm90_int8_gemm_wgmma.cu), sm_90a only: s8 wgmma
// m64n128k32 into s32, TMA and a 6-stage mbarrier ring, one producer and two consumer warpgroups,
// persistent over 128x128x128 tiles; the epilogue c = bf16(float(s32) sa[i] sb[j]) is
// int8_gemm_mma_sm80's expression, so the two give the same bits (the s32 sums are exact in both).
// The same requirements as int8_gemm_mma_sm80, and c 16-byte aligned (BF16 output leaves by TMA
// stores); args.k_splits > 1 as there, the s32 parts added by int8_split_k_sum. Throws
// std::invalid_argument naming what is wrong, std::runtime_error when the tensor maps cannot be
// encoded.
void int8_gemm_wgmma_sm90(const ScaledGemmArgs& args, cudaStream_t stream);

// The second kernel of a split INT8 GEMM (both kernels above): c = bf16(float(sum over the
// args.k_splits parts in args.workspace, [split][n][m] s32) sa[i] sb[j]). Needs m even (pairs of
// a column per thread) and the workspace 8-byte aligned; the callers check.
void int8_split_k_sum(const ScaledGemmArgs& args, cudaStream_t stream);

}  // namespace trainbench::kernels
