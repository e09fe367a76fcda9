// The Hopper GEMMs' host-side pieces, without a GPU: the wgmma shared-memory descriptor against
// the PTX ISA's bit layout and canonical layouts, the operand tiles (what TMA writes where must
// be what wgmma reads, also when two CTAs write a tile in slices), the accumulator fragment map
// the epilogues store from, the TMA-store staging layout, and the persistent tile schedulers.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <set>
#include <vector>

#include "kernels/common/sm90_layout.cuh"
#include "kernels/gemm/sm90_tiles.cuh"
#include "kernels/gemm/tile_scheduler.cuh"

namespace trainbench::kernels {
namespace {

// ---- the descriptor ------------------------------------------------------------------------

struct DecodedDescriptor {
  std::uint32_t start, leading, stride, base_offset, swizzle;
  std::uint64_t other_bits;  // bits no field owns: must be zero
};

// PTX ISA, "Matrix Descriptor Format": 13-0 start, 29-16 leading byte offset, 45-32 stride byte
// offset (each encoded (x & 0x3FFFF) >> 4), 51-49 base offset, 63-62 swizzle mode.
DecodedDescriptor decode(std::uint64_t d) {
  constexpr std::uint64_t kFields = 0x3FFFull | 0x3FFFull << 16 | 0x3FFFull << 32 | 0x7ull << 49 | 0x3ull << 62;
  return {static_cast<std::uint32_t>(d & 0x3FFF) << 4, static_cast<std::uint32_t>((d >> 16) & 0x3FFF) << 4,
          static_cast<std::uint32_t>((d >> 32) & 0x3FFF) << 4, static_cast<std::uint32_t>((d >> 49) & 0x7),
          static_cast<std::uint32_t>(d >> 62), d & ~kFields};
}

TEST(WgmmaDescriptor, FieldsSitWhereThePtxIsaPutsThem) {
  const std::uint64_t d = wgmma_descriptor(0x1F3A0, 0x2340, 0x3FFF0, WgmmaSwizzle::B128);
  EXPECT_EQ(d & 0x3FFF, 0x1F3Au);
  EXPECT_EQ((d >> 16) & 0x3FFF, 0x234u);
  EXPECT_EQ((d >> 32) & 0x3FFF, 0x3FFFu);
  EXPECT_EQ((d >> 49) & 0x7, 0u);
  EXPECT_EQ(d >> 62, 1u);
  EXPECT_EQ(decode(d).other_bits, 0u);
  // The swizzle codes: 0 none, 1 128B, 2 64B, 3 32B.
  EXPECT_EQ(wgmma_descriptor(0, 0, 0, WgmmaSwizzle::None) >> 62, 0u);
  EXPECT_EQ(wgmma_descriptor(0, 0, 0, WgmmaSwizzle::B64) >> 62, 2u);
  EXPECT_EQ(wgmma_descriptor(0, 0, 0, WgmmaSwizzle::B32) >> 62, 3u);
}

TEST(WgmmaDescriptor, MatchesThePtxIsaExamples) {
  // "MN-major, 64B swizzling, bf16": LBO 256 * sizeof(bf16) encodes as 32, SBO 512 * sizeof(bf16)
  // as 64. "K-major, 32B swizzling": LBO unused, encoded 1 (assumed).
  const DecodedDescriptor mn = decode(wgmma_descriptor(0, 256 * 2, 512 * 2, WgmmaSwizzle::B64));
  EXPECT_EQ(mn.leading >> 4, 32u);
  EXPECT_EQ(mn.stride >> 4, 64u);
  EXPECT_EQ(mn.swizzle, 2u);
  EXPECT_EQ((wgmma_descriptor(0, 16, 64 * 4, WgmmaSwizzle::B32) >> 16) & 0x3FFF, 1u);
}

TEST(WgmmaDescriptor, AddressesAreTakenModulo256KiBIn16ByteUnits) {
  EXPECT_EQ(wgmma_descriptor(0x40000 + 0x400, 0, 0, WgmmaSwizzle::None) & 0x3FFF, 0x40u);
  EXPECT_EQ(wgmma_descriptor(0x40F, 0, 0, WgmmaSwizzle::None) & 0x3FFF, 0x40u);
}

TEST(Swizzle128B, PermutesChunksWithinEachRowByTheRowIndex) {
  for (std::uint32_t block = 0; block < 4; ++block)
    for (std::uint32_t row = 0; row < 8; ++row) {
      std::set<std::uint32_t> chunks;
      for (std::uint32_t chunk = 0; chunk < 8; ++chunk) {
        const std::uint32_t addr = block * 1024 + row * 128 + chunk * 16 + 6;
        const std::uint32_t to = swizzle_128b(addr);
        EXPECT_EQ(to / 128, addr / 128) << "a chunk left its 128-byte row";
        EXPECT_EQ(to % 16, 6u) << "bytes inside a chunk move with it";
        EXPECT_EQ(to / 16 % 8, chunk ^ row);
        chunks.insert(to / 16 % 8);
      }
      EXPECT_EQ(chunks.size(), 8u);
    }
}

TEST(WgmmaShapes, Bf16TakesM64K16AndNMultiplesOf8UpTo256) {
  EXPECT_TRUE(is_wgmma_bf16_shape(64, 128, 16));
  EXPECT_TRUE(is_wgmma_bf16_shape(64, 256, 16));
  EXPECT_TRUE(is_wgmma_bf16_shape(64, 8, 16));
  EXPECT_TRUE(is_wgmma_bf16_shape(64, 136, 16));
  EXPECT_FALSE(is_wgmma_bf16_shape(128, 128, 16));
  EXPECT_FALSE(is_wgmma_bf16_shape(64, 264, 16));
  EXPECT_FALSE(is_wgmma_bf16_shape(64, 132, 16));
  EXPECT_FALSE(is_wgmma_bf16_shape(64, 128, 32));
}

// ---- operand tiles: TMA's writes against wgmma's reads -------------------------------------

// Where wgmma reads element (r, kk) (r < rows of the instruction, kk < 16) of an operand from
// its descriptor: the PTX ISA's canonical layouts for 128B swizzling, T = 8 BF16 per 16 bytes,
//   K-major:  ((8, m), (T, 2k)) : ((8T, SBO), (1, T))
//   MN-major: ((T, 8, m), (8, k)) : ((1, T, LBO), (8T, SBO))
// in elements, LBO and SBO in bytes, then the 128B swizzle applied to the byte address.
std::uint32_t wgmma_reads(std::uint64_t desc, bool k_major, int r, int kk) {
  const DecodedDescriptor d = decode(desc);
  EXPECT_EQ(d.swizzle, 1u);
  EXPECT_EQ(d.base_offset, 0u);
  const auto ur = static_cast<std::uint32_t>(r), uk = static_cast<std::uint32_t>(kk);
  const std::uint32_t addr = k_major ? d.start + (ur % 8) * 128 + (ur / 8) * d.stride + 2 * uk
                                     : d.start + 2 * (ur % 64) + (ur / 64) * d.leading + (uk % 8) * 128 +
                                           (uk / 8) * d.stride;
  return swizzle_128b(addr);
}

// Where TMA writes the operand's element (row, k) (global coordinates) of the tile at (row0, k0):
// box b holds x in [box_x, box_x + 64) and y in [box_y, box_y + kBoxOuter); element (x, y) of a
// box lands at swizzle_128b(box start + (y - box_y) * 128 + (x - box_x) * 2).
template <typename Tile>
std::uint32_t tma_writes(std::uint32_t tile_addr, int row0, int k0, int row, int k) {
  const int x = Tile::kKMajor ? k : row, y = Tile::kKMajor ? row : k;
  int found = -1;
  std::uint32_t at = 0;
  for (int b = 0; b < Tile::kBoxes; ++b) {
    const int dx = x - Tile::box_x(b, row0, k0), dy = y - Tile::box_y(b, row0, k0);
    if (dx < 0 || dx >= int(Tile::kBoxInner) || dy < 0 || dy >= int(Tile::kBoxOuter)) continue;
    EXPECT_EQ(found, -1) << "two boxes hold (" << row << ", " << k << ")";
    found = b;
    at = swizzle_128b(tile_addr + Tile::box_offset(b) + static_cast<std::uint32_t>(dy * 128 + dx * 2));
  }
  EXPECT_NE(found, -1) << "no box holds (" << row << ", " << k << ")";
  return at;
}

// For every wgmma the kernels issue on this tile (instruction rows `rows` at r0 = 0, rows, ...;
// k16 steps 0-3), every element wgmma reads is the element TMA wrote there.
template <typename Tile>
void expect_wgmma_reads_what_tma_wrote(int rows) {
  constexpr std::uint32_t kTile = 3 * 1024 * 40;  // some 1024-aligned shared-memory address
  const int row0 = 384, k0 = 4096;                 // any tile of the matrix
  const int tile_rows = static_cast<int>(Tile::kBytes / 128);
  std::set<std::uint32_t> read;
  for (int r0 = 0; r0 < tile_rows; r0 += rows)
    for (int ks = 0; ks < 4; ++ks) {
      const std::uint64_t desc = Tile::descriptor(kTile, r0, ks);
      for (int r = 0; r < rows; ++r)
        for (int kk = 0; kk < 16; ++kk) {
          const std::uint32_t got = wgmma_reads(desc, Tile::kKMajor, r, kk);
          ASSERT_EQ(got, tma_writes<Tile>(kTile, row0, k0, row0 + r0 + r, k0 + 16 * ks + kk))
              << (Tile::kKMajor ? "K-major" : "MN-major") << " tile of " << tile_rows << " rows: r0 " << r0 << " r "
              << r << " k " << 16 * ks + kk;
          read.insert(got / 2);
        }
    }
  // Between them the wgmmas read every element of the tile once.
  EXPECT_EQ(read.size(), Tile::kBytes / 2);
  EXPECT_GE(*read.begin() * 2, kTile);
  EXPECT_LT(*read.rbegin() * 2, kTile + Tile::kBytes);
}

TEST(Sm90OperandTile, KMajorWgmmaAReadsWhatTmaWrote) {
  expect_wgmma_reads_what_tma_wrote<Sm90OperandTile<128, true>>(64);
}
TEST(Sm90OperandTile, MnMajorWgmmaAReadsWhatTmaWrote) {
  expect_wgmma_reads_what_tma_wrote<Sm90OperandTile<128, false>>(64);
}
TEST(Sm90OperandTile, KMajorWgmmaBN128ReadsWhatTmaWrote) {
  expect_wgmma_reads_what_tma_wrote<Sm90OperandTile<128, true>>(128);
}
TEST(Sm90OperandTile, MnMajorWgmmaBN128ReadsWhatTmaWrote) {
  expect_wgmma_reads_what_tma_wrote<Sm90OperandTile<128, false>>(128);
}
TEST(Sm90OperandTile, KMajorWgmmaBN256ReadsWhatTmaWrote) {
  expect_wgmma_reads_what_tma_wrote<Sm90OperandTile<256, true>>(256);
}
TEST(Sm90OperandTile, MnMajorWgmmaBN256ReadsWhatTmaWrote) {
  expect_wgmma_reads_what_tma_wrote<Sm90OperandTile<256, false>>(256);
}

TEST(Sm90OperandTile, BoxesFitTheSwizzleSpanAndTmaLimits) {
  using K256 = Sm90OperandTile<256, true>;
  using Mn256 = Sm90OperandTile<256, false>;
  EXPECT_EQ(K256::kBoxInner * 2, 128u);  // 128B swizzle: the box's inner extent is at most 128 bytes
  EXPECT_LE(K256::kBoxOuter, 256u);      // TMA boxes hold at most 256 per dimension
  EXPECT_EQ(Mn256::kBoxes, 4);
  EXPECT_EQ(Mn256::kBoxBytes % 1024, 0u);  // every box starts on the swizzle pattern's period
  EXPECT_EQ(K256::kBytes, 256u * 64 * 2);
}

// Version 5's A tile, loaded by the two CTAs of a cluster in slices of half its rows (128 of 256;
// 64 of 128 in version 5b): every element the wgmmas read through the whole tile's descriptors is
// the one the slice holding it was written with, wherever that slice's boxes land.
template <int kRows, bool kKMajor>
void expect_wgmma_reads_what_the_slices_wrote() {
  using Sliced = Sm90SlicedOperandTile<kRows, kKMajor, 2>;
  using Whole = typename Sliced::Whole;
  using Slice = typename Sliced::Slice;
  constexpr std::uint32_t kTile = 5 * 1024 * 16;
  const int row0 = 768, k0 = 192;
  std::set<std::uint32_t> read;
  for (int ks = 0; ks < 4; ++ks) {
    const std::uint64_t desc = Whole::descriptor(kTile, 0, ks);
    for (int r = 0; r < kRows; ++r)
      for (int kk = 0; kk < 16; ++kk) {
        const int slice = r / Sliced::kSliceRows;
        const std::uint32_t got = wgmma_reads(desc, kKMajor, r, kk);
        ASSERT_EQ(got, tma_writes<Slice>(kTile + Sliced::slice_offset(slice), Sliced::slice_row0(slice, row0), k0,
                                         row0 + r, k0 + 16 * ks + kk))
            << (kKMajor ? "K-major" : "MN-major") << " row " << r << " k " << 16 * ks + kk;
        read.insert(got / 2);
      }
  }
  EXPECT_EQ(read.size(), Whole::kBytes / 2);
  EXPECT_EQ(Sliced::slice_offset(1), Whole::kBytes / 2);
}

TEST(Sm90SlicedOperandTile, KMajorWgmmaReadsWhatTheTwoSlicesWrote) {
  expect_wgmma_reads_what_the_slices_wrote<256, true>();
  expect_wgmma_reads_what_the_slices_wrote<128, true>();
}
TEST(Sm90SlicedOperandTile, MnMajorWgmmaReadsWhatTheTwoSlicesWrote) {
  expect_wgmma_reads_what_the_slices_wrote<256, false>();
  expect_wgmma_reads_what_the_slices_wrote<128, false>();
}

// ---- accumulators --------------------------------------------------------------------------

template <int kN>
void expect_accumulators_cover_the_tile_once() {
  std::vector<int> seen(64 * kN, 0);
  for (int thread = 0; thread < 128; ++thread)
    for (int reg = 0; reg < kN / 2; ++reg) {
      const WgmmaCoord at = wgmma_accumulator_coord(thread, reg);
      ASSERT_TRUE(at.row >= 0 && at.row < 64 && at.col >= 0 && at.col < kN) << thread << " " << reg;
      ++seen[at.row * kN + at.col];
      if (reg % 2 == 0) {
        // The pair the epilogue stores together: adjacent columns, the first even.
        const WgmmaCoord next = wgmma_accumulator_coord(thread, reg + 1);
        EXPECT_EQ(at.col % 2, 0);
        EXPECT_EQ(next.row, at.row);
        EXPECT_EQ(next.col, at.col + 1);
      }
      // Warp w holds rows 16w .. 16w + 15 (the PTX ISA's fragment figure for m64nNk16).
      EXPECT_EQ(at.row / 16, thread / 32);
    }
  for (int e = 0; e < 64 * kN; ++e) EXPECT_EQ(seen[e], 1) << "row " << e / kN << " col " << e % kN;
}

TEST(WgmmaAccumulators, N128FragmentsCoverTheTileOnce) { expect_accumulators_cover_the_tile_once<128>(); }
TEST(WgmmaAccumulators, N256FragmentsCoverTheTileOnce) { expect_accumulators_cover_the_tile_once<256>(); }

// An epilogue that loads one scale per row slot and per column slot (int8gemm.wgmma) must find
// every register's own row and column there: the slot's representative register lies in the same
// row (column) as the register, and the slots number the thread's 2 rows and N/4 columns once each.
template <int kN>
void expect_slots_name_each_registers_row_and_column() {
  for (int thread = 0; thread < 128; ++thread) {
    std::set<int> rows, cols;
    for (int reg = 0; reg < kN / 2; ++reg) {
      const WgmmaCoord at = wgmma_accumulator_coord(thread, reg);
      const int row_slot = wgmma_accumulator_row_slot(reg), col_slot = wgmma_accumulator_col_slot(reg);
      ASSERT_TRUE(row_slot >= 0 && row_slot < 2 && col_slot >= 0 && col_slot < kN / 4) << thread << " " << reg;
      EXPECT_EQ(wgmma_accumulator_coord(thread, 2 * row_slot).row, at.row) << thread << " " << reg;
      EXPECT_EQ(wgmma_accumulator_coord(thread, wgmma_col_slot_register(col_slot)).col, at.col) << thread << " " << reg;
      EXPECT_EQ(wgmma_accumulator_col_slot(wgmma_col_slot_register(col_slot)), col_slot);
      rows.insert(at.row);
      cols.insert(at.col);
    }
    EXPECT_EQ(rows.size(), 2u) << thread;
    EXPECT_EQ(cols.size(), static_cast<std::size_t>(kN / 4)) << thread;
  }
}

TEST(WgmmaAccumulators, RowAndColumnSlotsNameEachRegistersRowAndColumn) {
  expect_slots_name_each_registers_row_and_column<128>();
  expect_slots_name_each_registers_row_and_column<256>();
}

TEST(WgmmaAccumulators, MatchTheMmaSyncLayoutPerEightColumns) {
  // Thread 5 (warp 0, lane 5): d0, d1 at row 1, columns 2, 3; d2, d3 at row 9; d4 at column 10.
  EXPECT_EQ(wgmma_accumulator_coord(5, 0).row, 1);
  EXPECT_EQ(wgmma_accumulator_coord(5, 0).col, 2);
  EXPECT_EQ(wgmma_accumulator_coord(5, 3).row, 9);
  EXPECT_EQ(wgmma_accumulator_coord(5, 3).col, 3);
  EXPECT_EQ(wgmma_accumulator_coord(5, 4).col, 10);
  EXPECT_EQ(wgmma_accumulator_coord(127, 127).row, 63);
  EXPECT_EQ(wgmma_accumulator_coord(127, 127).col, 255);
}

// ---- the TMA-store epilogue's staging ------------------------------------------------------

// stmatrix .x4 as the PTX ISA defines it: element (r, 2 (L % 4) + e) of matrix q comes from lane
// L = 4r + .. of the warp, register q, half e, and goes to the row address that lane 8q + r gave,
// plus 2 (2 (L % 4) + e) bytes. For every chunk of a warpgroup's 64 x 256 BF16 accumulators, each
// element must land where the TMA box reads the accumulator that wgmma left there: offset(row,
// col) of its own (row, col).
// Version 5's 256-column accumulators and version 5b's 128.
template <int kN>
void expect_stmatrix_puts_every_bf16_accumulator_where_the_tma_box_reads_it() {
  using Chunk = Sm90StoreChunk<std::uint16_t>;  // BF16's size; the layout depends on nothing else
  ASSERT_EQ(Chunk::kCols, 64);
  for (int chunk = 0; chunk < kN / Chunk::kCols; ++chunk) {
    std::vector<int> written(Chunk::kBytes / 2, 0);
    for (int warp = 0; warp < 4; ++warp)
      for (int p = 0; p < Chunk::kCols / 16; ++p)
        for (int q = 0; q < 4; ++q) {
          std::set<std::uint32_t> units;  // the 16-byte units matrix q's 8 rows go to
          for (int r = 0; r < 8; ++r) {
            const WgmmaCoord row_at = stmatrix_x4_row(warp, 8 * q + r, p);
            const std::uint32_t row_addr = Chunk::offset(row_at.row, row_at.col);
            ASSERT_EQ(row_addr % 16, 0u);
            units.insert(row_addr / 16 % 8);
            for (int c = 0; c < 8; ++c) {
              const int lane = 4 * r + c / 2, reg = stmatrix_x4_register(chunk, p, q) + c % 2;
              const WgmmaCoord acc = wgmma_accumulator_coord(32 * warp + lane, reg);
              const int col = acc.col - chunk * Chunk::kCols;
              ASSERT_TRUE(col >= 0 && col < Chunk::kCols) << "chunk " << chunk << " reg " << reg;
              const std::uint32_t to = row_addr + 2u * static_cast<std::uint32_t>(c);
              ASSERT_EQ(to, Chunk::offset(acc.row, col))
                  << "warp " << warp << " p " << p << " matrix " << q << " row " << r << " column " << c;
              ++written[to / 2];
            }
          }
          // The 8 rows of one matrix are one shared-memory wavefront: 8 different bank groups.
          EXPECT_EQ(units.size(), 8u) << "warp " << warp << " p " << p << " matrix " << q;
        }
    for (std::size_t e = 0; e < written.size(); ++e) ASSERT_EQ(written[e], 1) << "chunk " << chunk << " element " << e;
  }
}

TEST(Sm90StoreChunk, StmatrixPutsEveryBf16AccumulatorWhereTheTmaBoxReadsIt) {
  expect_stmatrix_puts_every_bf16_accumulator_where_the_tma_box_reads_it<256>();
  expect_stmatrix_puts_every_bf16_accumulator_where_the_tma_box_reads_it<128>();
}

// The transposed staging of the FP8 kernels (store_accumulators_tma_transposed): stmatrix .x4
// .trans stores column c of matrix q (its rows r = 0..7, from lane 4r + c / 2, register q, half
// c % 2) as the 16 bytes at the row address that lane 8q + c gave, element r at byte 2r. A
// warpgroup's accumulators are 64 rows i by 128 columns j; chunk j / 64 of the staging holds C^T
// rows j % 64 of 64 i each. Every accumulator must land where the TMA box reads element (j, i),
// each element once, and the 8 rows of each matrix in 8 different 16-byte bank groups.
TEST(Sm90StoreChunk, TransposedStmatrixPutsEveryFp8KernelAccumulatorWhereTheTmaBoxReadsIt) {
  using Chunk = Sm90StoreChunk<std::uint16_t>;  // BF16's size
  constexpr int kN = 128;                      // the FP8 kernels' tile columns (j)
  ASSERT_EQ(Chunk::kRows, 64);
  ASSERT_EQ(Chunk::kCols, 64);  // the warpgroup's 64 rows i
  for (int chunk = 0; chunk < kN / Chunk::kRows; ++chunk) {
    std::vector<int> written(Chunk::kBytes / 2, 0);
    for (int warp = 0; warp < 4; ++warp)
      for (int pc = 0; pc < Chunk::kRows / 16; ++pc) {
        const int p = chunk * (Chunk::kRows / 16) + pc;
        for (int q = 0; q < 4; ++q) {
          std::set<std::uint32_t> units;
          for (int c = 0; c < 8; ++c) {
            const WgmmaCoord row_at = stmatrix_x4_trans_row(warp, 8 * q + c, p);
            ASSERT_GE(row_at.row - chunk * Chunk::kRows, 0);
            ASSERT_LT(row_at.row - chunk * Chunk::kRows, Chunk::kRows);
            const std::uint32_t row_addr = Chunk::offset(row_at.row - chunk * Chunk::kRows, row_at.col);
            ASSERT_EQ(row_addr % 16, 0u);
            units.insert(row_addr / 16 % 8);
            for (int r = 0; r < 8; ++r) {
              const int lane = 4 * r + c / 2, reg = stmatrix_x4_trans_register(p, q) + c % 2;
              ASSERT_LT(reg, kN / 2);
              const WgmmaCoord acc = wgmma_accumulator_coord(32 * warp + lane, reg);  // (i, j)
              const std::uint32_t to = row_addr + 2u * static_cast<std::uint32_t>(r);
              ASSERT_EQ(to, Chunk::offset(acc.col - chunk * Chunk::kRows, acc.row))
                  << "warp " << warp << " p " << p << " matrix " << q << " column " << c << " row " << r;
              ++written[to / 2];
            }
          }
          EXPECT_EQ(units.size(), 8u) << "warp " << warp << " p " << p << " matrix " << q;
        }
      }
    for (std::size_t e = 0; e < written.size(); ++e) ASSERT_EQ(written[e], 1) << "chunk " << chunk << " element " << e;
  }
}

// FP32: 8-byte stores of each accumulator pair, 32 columns per chunk; every element once, and each
// warp-wide store touches every bank at most twice (256 bytes: two wavefronts at best).
TEST(Sm90StoreChunk, Fp32PairsCoverTheChunkOnceWithoutExtraBankConflicts) {
  using Chunk = Sm90StoreChunk<float>;
  ASSERT_EQ(Chunk::kCols, 32);
  for (int chunk = 0; chunk < 256 / Chunk::kCols; ++chunk) {
    std::vector<int> written(Chunk::kBytes / 4, 0);
    for (int e = 0; e < Chunk::kCols / 2; e += 2) {
      const int reg = chunk * Chunk::kCols / 2 + e;
      for (int warp = 0; warp < 4; ++warp) {
        std::vector<int> bank(32, 0);
        for (int lane = 0; lane < 32; ++lane) {
          const WgmmaCoord at = wgmma_accumulator_coord(32 * warp + lane, reg);
          const int col = at.col - chunk * Chunk::kCols;
          ASSERT_TRUE(col >= 0 && col < Chunk::kCols);
          const std::uint32_t to = Chunk::offset(at.row, col);
          ASSERT_EQ(to % 8, 0u);
          ++written[to / 4];
          ++written[to / 4 + 1];
          ++bank[to / 4 % 32];
          ++bank[(to / 4 + 1) % 32];
        }
        for (int b = 0; b < 32; ++b) EXPECT_LE(bank[b], 2) << "chunk " << chunk << " reg " << reg << " bank " << b;
      }
    }
    for (std::size_t w = 0; w < written.size(); ++w) ASSERT_EQ(written[w], 1) << "chunk " << chunk << " word " << w;
  }
}

// ---- the tile scheduler --------------------------------------------------------------------

TEST(TileScheduler, EveryTileExactlyOnceForRandomShapesAndSmCounts) {
  std::mt19937 rng(20261201);
  std::uniform_int_distribution<int> tiles(1, 90), group(1, 16), sms(1, 200);
  for (int trial = 0; trial < 400; ++trial) {
    const GroupedTileOrder order{.tiles_i = tiles(rng), .tiles_j = tiles(rng), .group = group(rng)};
    const int sm_count = sms(rng);
    const PersistentTileScheduler sched{order, persistent_grid_size(order.num_tiles(), sm_count)};
    ASSERT_GE(sched.ctas, 1);
    ASSERT_LE(sched.ctas, sm_count);
    std::vector<int> visits(static_cast<std::size_t>(order.num_tiles()), 0);
    for (int cta = 0; cta < sched.ctas; ++cta) {
      int taken = 0;
      for (int t = sched.first(cta); t < order.num_tiles(); t = sched.next(t)) {
        const TileCoord c = order.tile(t);
        ASSERT_TRUE(c.i >= 0 && c.i < order.tiles_i && c.j >= 0 && c.j < order.tiles_j)
            << "tile " << t << " of " << order.tiles_i << " x " << order.tiles_j << " group " << order.group;
        ++visits[static_cast<std::size_t>(c.i * order.tiles_j + c.j)];
        ++taken;
      }
      EXPECT_GE(taken, 1) << "CTA " << cta << " of " << sched.ctas << " has no tile";
    }
    for (std::size_t v = 0; v < visits.size(); ++v)
      ASSERT_EQ(visits[v], 1) << "tile (" << v / order.tiles_j << ", " << v % order.tiles_j << ") of "
                              << order.tiles_i << " x " << order.tiles_j << ", group " << order.group << ", "
                              << sm_count << " SMs";
  }
}

TEST(TileScheduler, TilesRunningTogetherShareABandOfOperandA) {
  // 64 x 128 tiles (a 16384 x 16384 problem at 256 x 128), bands of 8, 132 SMs: the first wave
  // of CTAs touches 8 tiles along m and 17 along n instead of 2 along m and all 128 along n.
  const GroupedTileOrder order{.tiles_i = 64, .tiles_j = 128, .group = 8};
  std::set<int> is, js;
  for (int t = 0; t < 132; ++t) {
    is.insert(order.tile(t).i);
    js.insert(order.tile(t).j);
  }
  EXPECT_EQ(is.size(), 8u);
  EXPECT_EQ(js.size(), 17u);
}

TEST(TileScheduler, NeverMoreCtasThanTiles) {
  EXPECT_EQ(persistent_grid_size(1, 132), 1);
  EXPECT_EQ(persistent_grid_size(131, 132), 131);
  EXPECT_EQ(persistent_grid_size(8192, 132), 132);
}

// Version 5: every tile on the matrix exactly once; the two tiles of a pair share their A panel
// (same i, j side by side); both CTAs of a cluster run the same number of tiles (each waits on
// the other's loads and barrier arrivals every k-tile: an uneven count deadlocks); and a tile off
// the matrix (the second of a pair when tiles_j is odd) loads its peer's operands and is not
// stored.
TEST(ClusterPairScheduler, EveryTileExactlyOnceBothCtasInStepForRandomShapesClustersAndTails) {
  std::mt19937 rng(20261202);
  std::uniform_int_distribution<int> tiles(1, 90), group(1, 16), clusters(1, 100);
  int off_matrix = 0;
  for (int trial = 0; trial < 400; ++trial) {
    const int tiles_i = tiles(rng), tiles_j = trial % 4 == 0 ? 1 : tiles(rng), max_clusters = clusters(rng);
    const ClusterPairScheduler sched = cluster_pair_scheduler(tiles_i, tiles_j, group(rng), max_clusters);
    ASSERT_GE(sched.clusters, 1);
    ASSERT_LE(sched.clusters, max_clusters);
    ASSERT_LE(sched.clusters, sched.pairs.num_tiles());
    std::vector<int> visits(static_cast<std::size_t>(tiles_i * tiles_j), 0);
    for (int cluster = 0; cluster < sched.clusters; ++cluster) {
      int taken[2] = {0, 0};
      for (int rank = 0; rank < ClusterPairScheduler::kClusterSize; ++rank)
        for (int t = sched.first(cluster); t < sched.pairs.num_tiles(); t = sched.next(t)) {
          const TileCoord c = sched.tile(t, rank), peer = sched.tile(t, 1 - rank);
          ++taken[rank];
          ASSERT_EQ(c.i, peer.i) << "a pair's tiles must share their A panel";
          ASSERT_EQ(c.j / 2, peer.j / 2);
          ASSERT_TRUE(c.i >= 0 && c.i < tiles_i && c.j >= 0) << "tile " << t;
          const TileCoord loaded = sched.loaded(c);
          ASSERT_TRUE(loaded.i == c.i && loaded.j >= 0 && loaded.j < tiles_j) << "loads outside the tile grid";
          if (sched.on_matrix(c)) {
            ASSERT_EQ(loaded.j, c.j);
            ++visits[static_cast<std::size_t>(c.i * tiles_j + c.j)];
          } else {
            ++off_matrix;
            ASSERT_EQ(rank, 1) << "only a pair's second tile may fall off the matrix";
            ASSERT_EQ(tiles_j % 2, 1);
            ASSERT_EQ(c.j, tiles_j);
            ASSERT_EQ(loaded.j, peer.j) << "the off-matrix CTA recomputes its peer's tile";
          }
        }
      EXPECT_GE(taken[0], 1) << "cluster " << cluster << " of " << sched.clusters << " has no pair";
      ASSERT_EQ(taken[0], taken[1]) << "the CTAs of cluster " << cluster << " would wait on each other forever";
    }
    for (std::size_t v = 0; v < visits.size(); ++v)
      ASSERT_EQ(visits[v], 1) << "tile (" << v / static_cast<std::size_t>(tiles_j) << ", "
                              << v % static_cast<std::size_t>(tiles_j) << ") of " << tiles_i << " x " << tiles_j << ", "
                              << max_clusters << " clusters";
  }
  EXPECT_GT(off_matrix, 0) << "no trial had a pair with its second tile off the matrix";
}

TEST(ClusterPairScheduler, OddTileCountLeavesTheLastPairOfEveryRowHalfOffTheMatrix) {
  // gpu_test_gemm.cu's 2056 x 4104: 9 x 33 tiles of 256 x 128, 9 x 17 pairs on 66 clusters (132 SMs).
  const ClusterPairScheduler sched = cluster_pair_scheduler(9, 33, 8, 66);
  EXPECT_EQ(sched.pairs.num_tiles(), 9 * 17);
  EXPECT_EQ(sched.clusters, 66);
  int off = 0;
  for (int t = 0; t < sched.pairs.num_tiles(); ++t) {
    const TileCoord second = sched.tile(t, 1);
    if (!sched.on_matrix(second)) {
      ++off;
      EXPECT_EQ(second.j, 33);
      EXPECT_EQ(sched.loaded(second).j, 32);
      EXPECT_TRUE(sched.on_matrix(sched.tile(t, 0)));
    }
  }
  EXPECT_EQ(off, 9);
}

}  // namespace
}  // namespace trainbench::kernels
