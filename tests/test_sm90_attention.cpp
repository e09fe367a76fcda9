// The Hopper attention kernels' host-side pieces, without a GPU: what their wgmma descriptors read
// is what their TMA boxes (or, for the backward's dS^T, its own stores) wrote (Q and K as K-major
// operands of S = Q K^T, V as the N-major operand of O = P V; in the backward K, V, Q and dO the
// same ways, dS^T as dQ's M-major A, K as its N-major B), against the PTX ISA's canonical layouts;
// P's register operand, packed from the S accumulators, holds the element of S it stands for; and
// the backward's dQ staging holds each element once where TMA reads it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <tuple>
#include <vector>

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
  expect_k_major_reads_what_tma_wrote<176, 128>(176);  // head_dim 128 without a causal mask: m64n176k16
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
  expect_v_reads_what_tma_wrote<176, 128>();  // 11 k16 steps of keys
}

// 176-key blocks where FlashAttention-3 uses them (head_dim 128, no causal mask), 128 elsewhere;
// the 176-key tiles are whole swizzle periods, and Q with two stages of K and V fits in the
// 227 KiB a block may have.
TEST(FlashHeadTile, ForwardKeyBlocksOf176AtHeadDim128WithoutACausalMask) {
  EXPECT_EQ(attention_fwd_wgmma_block_n(128, false), 176);
  EXPECT_EQ(attention_fwd_wgmma_block_n(128, true), 128);
  EXPECT_EQ(attention_fwd_wgmma_block_n(64, false), 128);
  EXPECT_EQ(attention_fwd_wgmma_block_n(64, true), 128);
  using Kv176 = FlashHeadTile<176, 128>;
  EXPECT_EQ(Kv176::kBoxBytes % 1024, 0u);
  EXPECT_LE(Kv176::kBoxRows, 256u);
  using Q128 = FlashHeadTile<128, 128>;
  EXPECT_LE(Q128::kBytes + 2 * 2 * Kv176::kBytes + 1024 + 8 * 10, 227u * 1024);
  // The last k16 step of the top tile still addressable (14 bits of address >> 4).
  const std::uint32_t high = 227 * 1024 - Kv176::kBytes;
  EXPECT_EQ(decode(Kv176::n_major_descriptor(high, 10)).start, high + 10 * 2048);
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

// Version 3's tiles cover every (m-block, query head, batch) exactly once in attention_work_item's
// order: causal, the longest blocks of every head first; full, consecutive tiles in one head (they
// share K and V). The GQA KV head by integer division; a persistent grid's CTAs (the snake) then
// cover them too.
TEST(AttentionFwdTiles, CoverEveryBlockOnceInTheDealingOrder) {
  for (const AttentionShape s :
       {AttentionShape{2, 16, 16, 1024, 1024, 128, true}, AttentionShape{3, 32, 32, 777, 777, 64, true},
        AttentionShape{2, 8, 2, 3000, 1000, 128, true}, AttentionShape{1, 1, 1, 1, 1, 64, false},
        AttentionShape{2, 16, 16, 1024, 1024, 128, false}, AttentionShape{3, 6, 2, 777, 500, 64, false}}) {
    const int block_m = attention_fwd_wgmma_block_m(s.head_dim);
    const int m_blocks = attention_ceil_div(s.seq_q, block_m);
    const int tiles = attention_fwd_wgmma_tiles(s);
    ASSERT_EQ(tiles, m_blocks * s.heads_q * s.batch);
    std::set<std::tuple<int, int, int>> seen;
    for (int t = 0; t < tiles; ++t) {
      const AttentionFwdTile tile = attention_fwd_wgmma_tile(s, t);
      EXPECT_EQ(tile.row0 % block_m, 0);
      EXPECT_LT(tile.row0, s.seq_q);
      EXPECT_GE(tile.row0, 0);
      EXPECT_LT(tile.head, s.heads_q);
      EXPECT_LT(tile.batch, s.batch);
      EXPECT_EQ(tile.head_kv, tile.head / (s.heads_q / s.heads_kv));
      EXPECT_TRUE(seen.insert({tile.row0, tile.head, tile.batch}).second) << "tile " << t << " twice";
      if (s.causal) {
        if (t > 0) {
          EXPECT_LE(tile.row0, attention_fwd_wgmma_tile(s, t - 1).row0) << "longest blocks first";
        }
        if (t < s.heads_q * s.batch) {
          EXPECT_EQ(tile.row0, (m_blocks - 1) * block_m);
        }
      } else if (t % m_blocks == 0) {
        EXPECT_EQ(tile.row0, (m_blocks - 1) * block_m) << "a head starts with its last block";
      } else {
        const AttentionFwdTile before = attention_fwd_wgmma_tile(s, t - 1);
        EXPECT_EQ(before.row0, tile.row0 + block_m);
        EXPECT_EQ(before.head, tile.head);
        EXPECT_EQ(before.batch, tile.batch);
      }
    }
    EXPECT_EQ(static_cast<int>(seen.size()), tiles);
    for (const int ctas : {1, 7, 132, tiles}) {
      const int grid = std::min(ctas, tiles);
      std::vector<int> walked(static_cast<std::size_t>(tiles), 0);
      for (int cta = 0; cta < grid; ++cta)
        for (int round = 0; round * grid < tiles; ++round)
          if (const int t = attention_fwd_wgmma_walk(cta, grid, round); t < tiles)
            ++walked[static_cast<std::size_t>(t)];
      EXPECT_EQ(std::count(walked.begin(), walked.end(), 1), tiles) << ctas << " CTAs: every tile exactly once";
    }
    EXPECT_EQ(attention_fwd_wgmma_walk(5, tiles, 0), 5) << "one CTA per tile: CTA c takes tile c";
  }
}

// The walk's balance on 132 SMs, work counted as key blocks + 1 per tile. With head-major causal
// tiles at seq 512 (4 m-blocks per head, dividing 132), plain rounds gave a CTA the same m-block
// every round (1.47); ranked tiles and the snake each fix that.
double walk_imbalance(const AttentionShape& s, int ctas, bool snake) {
  const int tiles = attention_fwd_wgmma_tiles(s), block_m = attention_fwd_wgmma_block_m(s.head_dim);
  std::vector<double> work(static_cast<std::size_t>(ctas), 0.0);
  for (int cta = 0; cta < ctas; ++cta)
    for (int round = 0; round * ctas < tiles; ++round) {
      const int t = snake ? attention_fwd_wgmma_walk(cta, ctas, round) : round * ctas + cta;
      if (t >= tiles) continue;
      const AttentionFwdTile tile = attention_fwd_wgmma_tile(s, t);
      work[static_cast<std::size_t>(cta)] +=
          1 + attention_kv_block_end(tile.row0, block_m, attention_fwd_wgmma_block_n(s.head_dim, s.causal), s.seq_q,
                                     s.seq_kv, s.causal);
    }
  double total = 0, most = 0;
  for (const double w : work) {
    total += w;
    most = std::max(most, w);
  }
  return most / (total / ctas);
}

TEST(AttentionFwdTiles, TheSnakeBalancesCausalWorkAcrossAPersistentGrid) {
  const AttentionShape seq512{32, 16, 16, 512, 512, 128, true}, seq2048{8, 16, 16, 2048, 2048, 128, true};
  EXPECT_LT(walk_imbalance(seq512, 132, false), 1.05) << "ranked tiles alone";
  EXPECT_LT(walk_imbalance(seq512, 132, true), 1.05);
  EXPECT_LT(walk_imbalance(seq2048, 132, true), 1.05);
  EXPECT_LT(walk_imbalance(AttentionShape{32, 32, 32, 512, 512, 64, true}, 132, true), 1.05);
  // Llama 3 70B and 405B per GPU (one KV head, seq 8192): 1.77 and 1.53 with head-major tiles.
  EXPECT_LT(walk_imbalance(AttentionShape{1, 8, 1, 8192, 8192, 128, true}, 132, true), 1.05);
  EXPECT_LT(walk_imbalance(AttentionShape{1, 16, 1, 8192, 8192, 128, true}, 132, true), 1.05);
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
  // S is 64 x 176 at most (m64n176 accumulators, 88 per thread); P V takes it as 11 k16 steps of
  // register operands (8 for 128-key blocks, the first 8 of these).
  for (int thread = 0; thread < 128; ++thread)
    for (int kk = 0; kk < 11; ++kk)
      for (int value = 0; value < 8; ++value) {
        const WgmmaCoord p = wgmma_register_a_coord(thread, value);
        const int reg = flash_p_source_register(kk, value);
        ASSERT_LT(reg, 88);
        const WgmmaCoord s = wgmma_accumulator_coord(thread, reg);
        ASSERT_EQ(s.row, p.row) << "thread " << thread << " step " << kk << " value " << value;
        ASSERT_EQ(s.col, 16 * kk + p.col) << "thread " << thread << " step " << kk << " value " << value;
      }
}

// ---- the backward (4_sm90_flash_bwd_wgmma.cu) ------------------------------------------------

// Its tiles: K and V of 128 keys, Q and dO of kBlockM query rows (64 at head_dim 128, 128 at
// 64). S^T = K Q^T and dP^T = V dO^T read K and V as K-major A (each consumer its 64 keys) and Q,
// dO as K-major B (all kBlockM rows); dV += P^T dO and dK += dS^T Q read dO and Q as N-major B.
TEST(FlashBackwardTiles, OperandsOfSdPdVdKReadWhatTmaWrote) {
  EXPECT_EQ(attention_bwd_wgmma_block_m(128), 64);
  EXPECT_EQ(attention_bwd_wgmma_block_m(64), 128);
  expect_k_major_reads_what_tma_wrote<128, 128>(64);  // K, V as A, head_dim 128
  expect_k_major_reads_what_tma_wrote<128, 64>(64);   // head_dim 64
  expect_k_major_reads_what_tma_wrote<64, 128>(64);   // Q, dO as B (N = 64 rows), head_dim 128
  expect_k_major_reads_what_tma_wrote<128, 64>(128);  // N = 128 rows, head_dim 64
  expect_v_reads_what_tma_wrote<64, 128>();           // Q, dO as N-major B, K = 64 rows
  expect_v_reads_what_tma_wrote<128, 64>();           // K = 128 rows
}

// dQ = dS K, per consumer a 64 x 64 part over all 128 keys: A is dS read M-major from the dS^T
// tile (rows the keys, 128-byte lines of 64 queries; query box qb), B is K read N-major (head
// dimensions 64 db ..). Element (query, key) of A must be where the consumers stored dS^T(key,
// query), element (key, dim) of B where TMA wrote K.
template <int kBlockM, int kHeadDim>
void expect_dq_operands_read_what_was_written() {
  using DsTile = FlashHeadTile<128, kBlockM>;
  using KvTile = FlashHeadTile<128, kHeadDim>;
  for (int part = 0; part < 2; ++part) {
    const int qb = kHeadDim == 128 ? 0 : part, db = kHeadDim == 128 ? part : 0;
    std::set<std::uint32_t> read_a, read_b;
    for (int kk = 0; kk < 128 / 16; ++kk) {
      const std::uint64_t a = DsTile::n_major_descriptor(kTileAddr + DsTile::box_offset(qb), kk);
      const std::uint64_t b = KvTile::n_major_descriptor(kTileAddr + KvTile::box_offset(db), kk);
      for (int mn = 0; mn < 64; ++mn)
        for (int k = 0; k < 16; ++k) {
          const int key = 16 * kk + k;
          const std::uint32_t got_a = wgmma_reads(a, false, mn, k);
          ASSERT_EQ(got_a, kTileAddr + DsTile::element_offset(key, 64 * qb + mn)) << "query " << mn << " key " << key;
          ASSERT_EQ(got_a, tma_writes<DsTile>(kTileAddr, key, 64 * qb + mn));
          read_a.insert(got_a / 2);
          const std::uint32_t got_b = wgmma_reads(b, false, mn, k);
          ASSERT_EQ(got_b, tma_writes<KvTile>(kTileAddr, key, 64 * db + mn)) << "key " << key << " dim " << mn;
          read_b.insert(got_b / 2);
        }
    }
    EXPECT_EQ(read_a.size(), 64u * 128);  // one query box of dS^T, whole
    EXPECT_EQ(read_b.size(), 64u * 128);  // one head-dimension box of K, whole
  }
}

TEST(FlashBackwardTiles, DqOperandsReadWhatWasWritten) {
  expect_dq_operands_read_what_was_written<64, 128>();
  expect_dq_operands_read_what_was_written<128, 64>();
}

// The consumers' dS^T stores: register j of k16 step kk (packed from accumulators
// flash_p_source_register(kk, 2j), + 1) of thread t in consumer c goes to key row 64c + its
// accumulator row, query column its accumulator column. Every element of the tile is written
// once, each 32-bit store holds the adjacent queries of one key, and the 32 lanes of a warp's
// store land in 32 different banks.
template <int kBlockM>
void expect_ds_stores_cover_the_tile() {
  using DsTile = FlashHeadTile<128, kBlockM>;
  std::set<std::uint32_t> written;
  for (int consumer = 0; consumer < 2; ++consumer)
    for (int kk = 0; kk < kBlockM / 16; ++kk)
      for (int j = 0; j < 4; ++j)
        for (int warp = 0; warp < 4; ++warp) {
          std::set<std::uint32_t> banks;
          for (int lane = 0; lane < 32; ++lane) {
            const int thread = 32 * warp + lane;
            const WgmmaCoord lo = wgmma_accumulator_coord(thread, flash_p_source_register(kk, 2 * j));
            const WgmmaCoord hi = wgmma_accumulator_coord(thread, flash_p_source_register(kk, 2 * j + 1));
            ASSERT_EQ(hi.row, lo.row);
            ASSERT_EQ(hi.col, lo.col + 1);
            // The kernel's address: key row 64c + acc_row + 8 (j % 2), query 8 (2 kk + j / 2) + col_lane.
            const WgmmaCoord first = wgmma_accumulator_coord(thread, 0);
            const int key = 64 * consumer + first.row + 8 * (j % 2), query = 8 * (2 * kk + j / 2) + first.col;
            ASSERT_EQ(key, 64 * consumer + lo.row);
            ASSERT_EQ(query, lo.col);
            const std::uint32_t at = DsTile::element_offset(key, query);
            ASSERT_EQ(at % 4, 0u);
            ASSERT_EQ(DsTile::element_offset(key, query + 1), at + 2);
            EXPECT_TRUE(written.insert(at).second) << "key " << key << " query " << query;
            banks.insert(at / 4 % 32);
          }
          EXPECT_EQ(banks.size(), 32u) << "step " << kk << " register " << j << " warp " << warp;
        }
  EXPECT_EQ(written.size(), DsTile::kBytes / 4);
}

TEST(FlashBackwardTiles, DsStoresCoverTheTileOnceWithoutBankConflicts) {
  expect_ds_stores_cover_the_tile<64>();
  expect_ds_stores_cover_the_tile<128>();
}

// dQ staging: the m64n64 accumulators (register 4c + 2 half + e at row r, column 8c + col) are
// stored as pairs to FlashDqStaging::offset, which must put element (row, col) in line `row` of
// box col / 32, where a TMA box of 64 rows x 32 FP32 columns, 128B-swizzled, reads it: the
// swizzle moves 16-byte chunks within a line only. Every element once; a warp's 8-byte stores
// take the two wavefronts 256 bytes need.
TEST(FlashBackwardTiles, DqStagingHoldsEachElementOnceWhereTmaReadsIt) {
  std::set<std::uint32_t> written;
  for (int warp = 0; warp < 4; ++warp)
    for (int c = 0; c < 8; ++c)
      for (int half = 0; half < 2; ++half) {
        std::map<std::uint32_t, int> per_bank;
        for (int lane = 0; lane < 32; ++lane) {
          const int thread = 32 * warp + lane;
          const WgmmaCoord at = wgmma_accumulator_coord(thread, 4 * c + 2 * half);
          const std::uint32_t off = FlashDqStaging::offset(at.row, at.col);
          ASSERT_EQ(off % 8, 0u);
          ASSERT_EQ(FlashDqStaging::offset(at.row, at.col + 1), off + 4);
          const int box = at.col / FlashDqStaging::kBoxCols;
          EXPECT_EQ(off / FlashDqStaging::kBoxBytes, std::uint32_t(box));
          EXPECT_EQ(off % FlashDqStaging::kBoxBytes / 128, std::uint32_t(at.row));  // its own line
          // The chunk within the line: (col % 32) / 4 XOR the row's place in its group of 8.
          EXPECT_EQ(off % 128 / 16, std::uint32_t((at.col % 32) / 4 ^ at.row % 8));
          for (std::uint32_t b = 0; b < 2; ++b) {
            EXPECT_TRUE(written.insert(off + 4 * b).second) << at.row << " " << at.col + int(b);
            ++per_bank[(off + 4 * b) / 4 % 32];
          }
        }
        for (const auto& [bank, n] : per_bank) EXPECT_LE(n, 2) << "bank " << bank;
      }
  EXPECT_EQ(written.size(), FlashDqStaging::kBytes / 4);
}

}  // namespace
}  // namespace trainbench::kernels
