#include "bench/suites.hpp"

#include <fmt/format.h>

#include "bench/attention_oracle.hpp"
#include "harness/error.hpp"
#include "harness/suggest.hpp"
#include "kernels/quant/scaled_gemm.cuh"

namespace trainbench {
namespace {

constexpr std::uint64_t MiB = 1ull << 20;

std::vector<SuiteEntry> memory_entries(std::initializer_list<std::uint64_t> sizes) {
  std::vector<SuiteEntry> out;
  for (auto bytes : sizes) out.push_back({Copy{bytes}, {"memory.copy", "memory.cudaMemcpy"}});
  return out;
}

// Every BF16 GEMM impl, ours simplest first, then the vendor's.
const std::vector<std::string> kGemmImpls = {"gemm.simt",   "gemm.mma",           "gemm.mma_128x256",
                                             "gemm.wgmma_tma", "gemm.wgmma_ws",   "gemm.wgmma",
                                             "gemm.wgmma_128x128", "gemm.cublas", "gemm.cublaslt"};

std::vector<SuiteEntry> gemm_square_entries() {
  std::vector<SuiteEntry> out;
  for (std::uint64_t size = 512; size <= 16384; size *= 2)
    out.push_back({Gemm{.m = size, .n = size, .k = size}, kGemmImpls});
  return out;
}

// The attention impls that compute `op`: the fused kernels for their pass and cuDNN's (at every
// size: they need O(seq) memory), and the unfused reference only where its FP32 scores fit
// (kAttentionReferenceMaxScoreBytes).
std::vector<std::string> attention_impls(const Attention& op) {
  std::vector<std::string> impls;
  impls.push_back(op.pass == "fwd" ? "attention.fwd.mma" : "attention.bwd.mma");
  impls.push_back(op.pass == "fwd" ? "attention.fwd.mma_256" : "attention.bwd.mma_128");
  impls.push_back(op.pass == "fwd" ? "attention.fwd.wgmma" : "attention.bwd.wgmma");  // sm_90a: skipped elsewhere
  if (op.pass == "fwd") impls.push_back("attention.fwd.wgmma_persistent");
  impls.push_back("attention.cudnn");
  if (AttentionOracle::score_bytes(op) <= kAttentionReferenceMaxScoreBytes) impls.push_back("attention.reference");
  return impls;
}

void add_attention(std::vector<SuiteEntry>& out, const Attention& op) {
  if (auto impls = attention_impls(op); !impls.empty()) out.push_back({op, std::move(impls)});
}

constexpr std::uint64_t kAttentionTokens = 16384;  // tokens per batch: batch = kAttentionTokens / seq

std::vector<SuiteEntry> attention_entries() {
  std::vector<SuiteEntry> out;
  struct Heads {
    std::uint64_t heads, head_dim;
  };
  for (const Heads hd : {Heads{16, 128}, Heads{32, 64}})
    for (const bool causal : {false, true})
      for (const char* pass : {"fwd", "bwd"})
        for (std::uint64_t seq = 512; seq <= 16384; seq *= 2)
          add_attention(out, Attention{.batch = kAttentionTokens / seq, .heads_q = hd.heads, .heads_kv = hd.heads,
                                       .seq_q = seq, .seq_kv = seq, .head_dim = hd.head_dim, .causal = causal,
                                       .pass = pass});
  // Llama 3 at TP = 8, one sequence of 8192 per GPU, causal: 70B has 64 query heads and 8 KV
  // heads (8 and 1 per GPU), 405B 128 and 8 (16 and 1); head_dim 128 (arXiv 2407.21783, table 3).
  for (const std::uint64_t heads_q : {8, 16})
    for (const char* pass : {"fwd", "bwd"})
      add_attention(out, Attention{.batch = 1, .heads_q = heads_q, .heads_kv = 1, .seq_q = 8192, .seq_kv = 8192,
                                   .head_dim = 128, .causal = true, .pass = pass});
  return out;
}

// Accuracy as a result: each scaled-GEMM impl's error against FP64 sums of its dequantized
// operands as k doubles from 1024 to 65536, for both kinds of inputs (bench/fp8_inputs.hpp).
// Per-tensor scales put fp8gemm.wgmma (promoting every 128 of k into FP32) beside
// fp8gemm.wgmma_nopromote (all of k in the tensor core) on identical operands, with cuBLASLt
// (which promotes: fast accumulation off); 1x128 / 128x128 scales add DeepSeek-V3's own
// configuration, ours and cuBLASLt's; INT8's s32 sums are exact, so its line is what BF16 output
// rounding alone costs. m x n = 1024 x 2048 is 128 tiles of 128 x 128, one wave on an H100's 132
// SMs, so the times (promotion's cost, same shape, same operands) are those of a busy GPU, while
// the FP64 oracle stays small (1.4e11 multiply-adds at k = 65536).
std::vector<SuiteEntry> fp8_accuracy_entries() {
  constexpr std::uint64_t m = 1024, n = 2048;
  std::vector<SuiteEntry> out;
  for (const char* inputs : {"signed", "nonnegative"})
    for (std::uint64_t k = 1024; k <= 65536; k *= 2) {
      out.push_back({ScaledGemm{m, n, k, "e4m3", "tensor", "tensor", inputs},
                     {"fp8gemm.wgmma", "fp8gemm.wgmma_nopromote", "fp8gemm.cublaslt"},
                     true});
      out.push_back({ScaledGemm{m, n, k, "e4m3", "1x128", "128x128", inputs},
                     {"fp8gemm.wgmma", "fp8gemm.cublaslt_blockscaled"},
                     true});
      out.push_back({ScaledGemm{m, n, k, "s8", "row", "col", inputs}, {"int8gemm.mma", "int8gemm.cublaslt"}, true});
    }
  return out;
}

}  // namespace

bool splits_k_on_132_sms(std::uint64_t m, std::uint64_t n, std::uint64_t k) {
  return kernels::planned_k_splits(m, n, k, 132) > 1;
}

namespace {

std::vector<Suite> make_suites() {
  std::vector<Suite> all;
  // Sizes well past any L2 (50 MB on H100, 60 MB on H200, 126 MB on B200).
  all.push_back({"memory", "the memory roof: copy kernel vs cudaMemcpy D2D, 256 MiB to 4 GiB",
                 memory_entries({256 * MiB, 1024 * MiB, 4096 * MiB})});
  all.push_back({"gemm-square", "BF16 GEMM, square 512 to 16384 (tn, BF16 out), every gemm impl",
                 gemm_square_entries()});
  // The FP8 operands of DeepSeek-V3's GEMMs (arXiv 2412.19437): activations 1x128 (and the
  // transposed copy wgrad reads), weights 128x128, and a per-tensor cast for comparison.
  all.push_back({"quant", "BF16 -> FP8 E4M3 quantization at DeepSeek-V3's operand shapes",
                 {{Quantize{4096, 7168, "1x128", false}, {"quant.e4m3"}},
                  {Quantize{4096, 16384, "1x128", false}, {"quant.e4m3"}},
                  {Quantize{4096, 7168, "1x128", true}, {"quant.e4m3"}},
                  {Quantize{7168, 16384, "128x128", false}, {"quant.e4m3"}},
                  {Quantize{2112, 7168, "128x128", false}, {"quant.e4m3"}},
                  {Quantize{8192, 8192, "tensor", false}, {"quant.e4m3"}}}});
  all.push_back({"attention",
                 "BF16 attention, seq 512 to 16384 at 16384 tokens per batch (16 heads of 128, 32 of 64), causal and "
                 "full, fwd and bwd; Llama 3 70B and 405B at TP=8 (8 or 16 query heads on 1 KV head, seq 8192)",
                 attention_entries()});
  // DeepSeek-V3's FP8 GEMM shapes (M x N x K, as DeepGEMM's README benchmarks them) and square
  // 4096 and 8192: fine-grained scales for our kernel and cuBLASLt's block-scaled mode,
  // per-tensor scales for the promotion comparison and cuBLASLt's classic FP8 path. BF16
  // gemm.wgmma and gemm.cublas at 8192^3 are in gemm-square.
  {
    std::vector<SuiteEntry> fp8;
    struct Mnk {
      std::uint64_t m, n, k;
    };
    const Mnk shapes[] = {{4096, 7168, 16384}, {4096, 4096, 7168}, {128, 7168, 16384}, {4096, 32768, 512},
                          {4096, 7168, 2048},  {4096, 2112, 7168}, {4096, 4096, 4096}, {8192, 8192, 8192}};
    for (const Mnk s : shapes) {
      std::vector<std::string> fine = {"fp8gemm.wgmma", "fp8gemm.wgmma_overlap", "fp8gemm.wgmma_multicast",
                                       "fp8gemm.cublaslt_blockscaled"},
                               tensor = {"fp8gemm.wgmma", "fp8gemm.wgmma_overlap", "fp8gemm.wgmma_nopromote",
                                         "fp8gemm.cublaslt"};
      // Elsewhere fp8gemm.wgmma_splitk is fp8gemm.wgmma_overlap: listed where it splits on an H100
      // or H200 (132 SMs), 128 x 7168 x 16384 (56 tiles) among these shapes.
      if (splits_k_on_132_sms(s.m, s.n, s.k)) {
        fine.insert(fine.begin() + 2, "fp8gemm.wgmma_splitk");
        tensor.insert(tensor.begin() + 2, "fp8gemm.wgmma_splitk");
      }
      fp8.push_back(
          {ScaledGemm{.m = s.m, .n = s.n, .k = s.k, .dtype = "e4m3", .a_scale = "1x128", .b_scale = "128x128"}, fine});
      fp8.push_back(
          {ScaledGemm{.m = s.m, .n = s.n, .k = s.k, .dtype = "e4m3", .a_scale = "tensor", .b_scale = "tensor"}, tensor});
    }
    all.push_back({"fp8",
                   "FP8 E4M3 GEMM at DeepSeek-V3's shapes and square 4096, 8192: 1x128/128x128 scales (ours, cuBLASLt "
                   "block-scaled) and per-tensor (ours with and without promotion, cuBLASLt)",
                   fp8});
    // The same shapes in INT8 (s8 operands, one scale per row of A and per column of C), ours
    // beside cuBLASLt's s32 matmul plus a scale kernel.
    std::vector<SuiteEntry> int8;
    for (const Mnk s : shapes) {
      std::vector<std::string> impls = {"int8gemm.mma", "int8gemm.wgmma", "int8gemm.cublaslt"};
      if (splits_k_on_132_sms(s.m, s.n, s.k)) {
        impls.insert(impls.begin() + 1, "int8gemm.mma_splitk");
        impls.insert(impls.begin() + 3, "int8gemm.wgmma_splitk");
      }
      int8.push_back(
          {ScaledGemm{.m = s.m, .n = s.n, .k = s.k, .dtype = "s8", .a_scale = "row", .b_scale = "col"}, impls});
    }
    all.push_back({"int8",
                   "INT8 GEMM (s8, per-row / per-column scales, BF16 out) at DeepSeek-V3's shapes and square 4096, "
                   "8192: ours (mma.sync and wgmma; each with k split at 128x7168x16384) and cuBLASLt (s32 out plus a scale "
                   "kernel)",
                   int8});
  }
  all.push_back({"fp8-accuracy",
                 "error of every FP8 and INT8 GEMM impl against FP64 sums of the dequantized operands, k = 1024 to "
                 "65536, with and without promotion, signed and non-negative inputs, 1024 x 2048 outputs",
                 fp8_accuracy_entries()});
  std::vector<SuiteEntry> quick = memory_entries({1024 * MiB});
  quick.push_back({Gemm{.m = 4096, .n = 4096, .k = 4096}, {"gemm.cublas", "gemm.mma"}});
  quick.push_back({Quantize{4096, 7168, "1x128", false}, {"quant.e4m3"}});
  quick.push_back({Attention{.batch = 4, .heads_q = 16, .heads_kv = 16, .seq_q = 4096, .seq_kv = 4096, .head_dim = 128,
                             .causal = true, .pass = "fwd"},
                   {"attention.fwd.mma", "attention.fwd.wgmma", "attention.cudnn"}});
  quick.push_back({Attention{.batch = 4, .heads_q = 16, .heads_kv = 16, .seq_q = 4096, .seq_kv = 4096, .head_dim = 128,
                             .causal = true, .pass = "bwd"},
                   {"attention.bwd.mma", "attention.bwd.wgmma", "attention.cudnn"}});
  all.push_back({"quick", "one point of each op family (7 s on the H200 at --budget 0.5, results/h200-sxm/logs)", quick});
  std::vector<SuiteEntry> full;
  for (const auto& s : all)
    if (s.name != "quick") full.insert(full.end(), s.entries.begin(), s.entries.end());
  all.push_back({"full", "every suite above, once", full});
  return all;
}

}  // namespace

const std::vector<Suite>& suites() {
  static const std::vector<Suite> all = make_suites();
  return all;
}

const Suite& find_suite(const std::string& name) {
  std::vector<std::string> names;
  for (const auto& s : suites()) {
    if (s.name == name) return s;
    names.push_back(s.name);
  }
  throw Error(fmt::format("unknown suite \"{}\"{}; known suites: {} (`trainbench list` describes them)", name,
                          did_you_mean(name, names), fmt::join(names, ", ")));
}

std::string benchmark_name(const Op& op, const std::string& impl) {
  return op_family(op) + "/" + impl + "/" + op_label(op);
}

}  // namespace trainbench
