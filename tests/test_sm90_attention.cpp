// The Hopper attention forward's host-side pieces, without a GPU: what its wgmma descriptors read
// is what its TMA boxes wrote (Q and K as K-major operands of S = Q K^T, V as the N-major operand
// of O = P V), against the PTX ISA's canonical layouts; and P's register operand, packed from the
// S accumulators, holds the element of S it stands for.
#include <gtest/gtest.h>

#include <cstdint>
#include <set>

#include "kernels/attention/attention.cuh"
#include "kernels/attention/sm90_flash_tiles.cuh"
#include "kernels/common/sm90_layout.cuh"

namespace trainbench::kernels {
namespace {

struct Fields {
  std::uint32_t start, leading, stride, base_offset, swizzle;
};

// PTX ISA, "Matrix Descriptor Format": 13-0 start address, 29-16 leading byte offset, 45-32 stride
// byte offset (each stored >> 4), 51-49 base offset, 63-62 swizzle mode (1 = 128B).
Fields decode(std::uint64_t d) {
  return {static_cast<std::uint32_t>(d & 0x3FFF) << 4, static_cast<std::uint32_t>((d >> 16) & 0x3FFF) << 4,
          static_cast<std::uint32_t>((d >> 32) & 0x3FFF) << 4, static_cast<std::uint32_t>((d >> 49) & 0x7),
          static_cast<std::uint32_t>(d >> 62)};
}

// The byte wgmma reads for element (mn, k) (mn < the instruction's M or N, k < 16) of a BF16
// operand through its descriptor: the PTX ISA's canonical layouts for 128B swizzling (T = 8
// elements per 16 bytes), the 128B swizzle applied to the result,
//   K-major:  ((8, m), (T, 2k)) : ((8T, SBO), (1, T))
//   MN-major: ((T, 8, m), (8, k)) : ((1, T, LBO), (8T, SBO))
std::uint32_t wgmma_reads(std::uint64_t desc, bool k_major, int mn, int k) {
  const Fields f = decode(desc);
  EXPECT_EQ(f.swizzle, 1u);
  EXPECT_EQ(f.base_offset, 0u);
  const auto r = static_cast<std::uint32_t>(mn), kk = static_cast<std::uint32_t>(k);
  const std::uint32_t addr = k_major ? f.start + (r % 8) * 128 + (r / 8) * f.stride + 2 * kk
                                     : f.start + 2 * (r % 64) + (r / 64) * f.leading + (kk % 8) * 128 +
                                           (kk / 8) * f.stride;
  return swizzle_128b(addr);
}

// The byte TMA writes element (row, dim) of a FlashHeadTile to: box dim / 64, line `row`, the
// box's 128-byte lines swizzled like every TMA box with CU_TENSOR_MAP_SWIZZLE_128B.
template <typename Tile>
std::uint32_t tma_writes(std::uint32_t tile_addr, int row, int dim) {
  const int box = dim / 64;
  EXPECT_EQ(Tile::box_first_dim(box), 64 * box);
  return swizzle_128b(tile_addr + Tile::box_offset(box) + static_cast<std::uint32_t>(row) * 128u +
                      static_cast<std::uint32_t>(dim % 64) * 2u);
}

constexpr std::uint32_t kTileAddr = 1024 * 37;  // some 1024-aligned shared-memory address

// S = Q K^T: Q's rows r0 .. r0 + 63 (r0 = 64 consumer) as wgmma's A, all of K's rows as its B,
// each over every k16 step of the head dimension. Together they read every element once.
template <int kRows, int kHeadDim>
void expect_k_major_reads_what_tma_wrote(int instruction_rows) {
  using Tile = FlashHeadTile<kRows, kHeadDim>;
  std::set<std::uint32_t> read;
  for (int r0 = 0; r0 < kRows; r0 += instruction_rows)
    for (int ks = 0; ks < kHeadDim / 16; ++ks) {
      const std::uint64_t desc = Tile::k_major_descriptor(kTileAddr, r0, ks);
      for (int r = 0; r < instruction_rows; ++r)
        for (int k = 0; k < 16; ++k) {
          const std::uint32_t got = wgmma_reads(desc, true, r, k);
          ASSERT_EQ(got, tma_writes<Tile>(kTileAddr, r0 + r, 16 * ks + k))
              << kRows << " x " << kHeadDim << ": r0 " << r0 << " row " << r << " dim " << 16 * ks + k;
          read.insert(got / 2);
        }
    }
  EXPECT_EQ(read.size(), Tile::kBytes / 2);
  EXPECT_GE(*read.begin() * 2, kTileAddr);
  EXPECT_LT(*read.rbegin() * 2, kTileAddr + Tile::kBytes);
}

TEST(FlashHeadTile, QueryRowsAsWgmmaAReadWhatTmaWrote) {
  expect_k_major_reads_what_tma_wrote<128, 128>(64);  // head_dim 128: 2 consumers
  expect_k_major_reads_what_tma_wrote<192, 64>(64);   // head_dim 64: 3 consumers
}

TEST(FlashHeadTile, KeysAsWgmmaBOfSReadWhatTmaWrote) {
  expect_k_major_reads_what_tma_wrote<128, 128>(128);
  expect_k_major_reads_what_tma_wrote<128, 64>(128);
}

// O += P V: V as the N-major B (N = head dimensions, K = keys), k16 step kk over keys.
template <int kRows, int kHeadDim>
void expect_v_reads_what_tma_wrote() {
  using Tile = FlashHeadTile<kRows, kHeadDim>;
  std::set<std::uint32_t> read;
  for (int kk = 0; kk < kRows / 16; ++kk) {
    const std::uint64_t desc = Tile::n_major_descriptor(kTileAddr, kk);
    for (int dim = 0; dim < kHeadDim; ++dim)
      for (int k = 0; k < 16; ++k) {
        const std::uint32_t got = wgmma_reads(desc, false, dim, k);
        ASSERT_EQ(got, tma_writes<Tile>(kTileAddr, 16 * kk + k, dim))
            << kRows << " x " << kHeadDim << ": key " << 16 * kk + k << " dim " << dim;
        read.insert(got / 2);
      }
  }
  EXPECT_EQ(read.size(), Tile::kBytes / 2);
}

TEST(FlashHeadTile, ValuesAsNMajorWgmmaBOfPVReadWhatTmaWrote) {
  expect_v_reads_what_tma_wrote<128, 128>();
  expect_v_reads_what_tma_wrote<128, 64>();
}

TEST(FlashHeadTile, BoxesFitTmaAndTheSwizzle) {
  using Q64 = FlashHeadTile<192, 64>;
  using Kv128 = FlashHeadTile<128, 128>;
  EXPECT_EQ(Kv128::kBoxDims * 2, 128u);  // the box's inner extent is the 128-byte swizzle span
  EXPECT_LE(Q64::kBoxRows, 256u);        // TMA boxes hold at most 256 per dimension
  EXPECT_EQ(Kv128::kBoxes, 2);
  EXPECT_EQ(Q64::kBoxBytes % 1024, 0u);  // boxes start on the swizzle pattern's period
  EXPECT_EQ(Kv128::kBytes, 128u * 128 * 2);
  EXPECT_EQ(attention_fwd_wgmma_block_m(64), 192);
  EXPECT_EQ(attention_fwd_wgmma_block_m(128), 128);
  // A descriptor's start field holds 14 bits of address >> 4: the last k16 step of the biggest
  // tile still lands where it should at the top of the 227 KiB of shared memory.
  const std::uint32_t high = 195 * 1024;  // a 32 KiB tile ending at 227 KiB
  EXPECT_EQ(decode(Kv128::n_major_descriptor(high, 7)).start, high + 7 * 2048);
  EXPECT_EQ(decode(Kv128::k_major_descriptor(high, 0, 7)).start, high + Kv128::kBoxBytes + 3 * 32);
}

// ---- P as the register A operand ------------------------------------------------------------

TEST(WgmmaRegisterA, FragmentsCoverTheTileOnceInThePtxIsaLayout) {
  std::set<int> seen;
  for (int thread = 0; thread < 128; ++thread)
    for (int value = 0; value < 8; ++value) {
      const WgmmaCoord at = wgmma_register_a_coord(thread, value);
      ASSERT_TRUE(at.row >= 0 && at.row < 64 && at.col >= 0 && at.col < 16) << thread << " " << value;
      EXPECT_TRUE(seen.insert(at.row * 16 + at.col).second) << "thread " << thread << " value " << value;
      EXPECT_EQ(at.row / 16, thread / 32);  // warp w holds rows 16w .. 16w + 15
    }
  EXPECT_EQ(seen.size(), 64u * 16);
  // Lane 6 of warp 1 (PTX ISA figure for the A fragment, mma.m16n8k16 per warp): a0, a1 at row
  // 16 + 1, columns 4, 5; a2, a3 eight rows down; a4, a5 eight columns right.
  EXPECT_EQ(wgmma_register_a_coord(38, 0).row, 17);
  EXPECT_EQ(wgmma_register_a_coord(38, 1).col, 5);
  EXPECT_EQ(wgmma_register_a_coord(38, 2).row, 25);
  EXPECT_EQ(wgmma_register_a_coord(38, 4).col, 12);
  EXPECT_EQ(wgmma_register_a_coord(38, 7).row, 25);
  EXPECT_EQ(wgmma_register_a_coord(38, 7).col, 13);
}

TEST(FlashP, EachRegisterOperandValueIsTheScoreItStandsFor) {
  // S is 64 x 128 (m64n128 accumulators); P V takes it as 8 k16 steps of register operands.
  for (int thread = 0; thread < 128; ++thread)
    for (int kk = 0; kk < 8; ++kk)
      for (int value = 0; value < 8; ++value) {
        const WgmmaCoord p = wgmma_register_a_coord(thread, value);
        const int reg = flash_p_source_register(kk, value);
        ASSERT_LT(reg, 64);
        const WgmmaCoord s = wgmma_accumulator_coord(thread, reg);
        ASSERT_EQ(s.row, p.row) << "thread " << thread << " step " << kk << " value " << value;
        ASSERT_EQ(s.col, 16 * kk + p.col) << "thread " << thread << " step " << kk << " value " << value;
      }
}

}  // namespace
}  // namespace trainbench::kernels
