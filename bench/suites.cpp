#include "bench/suites.hpp"

#include <fmt/format.h>

#include "harness/error.hpp"

namespace trainbench {
namespace {

constexpr std::uint64_t MiB = 1ull << 20;

std::vector<SuiteEntry> memory_entries(std::initializer_list<std::uint64_t> sizes) {
  std::vector<SuiteEntry> out;
  for (auto bytes : sizes) out.push_back({Copy{bytes}, {"memory.copy", "memory.cudaMemcpy"}});
  return out;
}

// Every BF16 GEMM impl, ours simplest first, then the vendor's.
const std::vector<std::string> kGemmImpls = {"gemm.simt", "gemm.mma", "gemm.cublas", "gemm.cublaslt"};

std::vector<SuiteEntry> gemm_square_entries() {
  std::vector<SuiteEntry> out;
  for (std::uint64_t size = 512; size <= 16384; size *= 2)
    out.push_back({Gemm{.m = size, .n = size, .k = size}, kGemmImpls});
  return out;
}

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
  std::vector<SuiteEntry> quick = memory_entries({1024 * MiB});
  quick.push_back({Gemm{.m = 4096, .n = 4096, .k = 4096}, {"gemm.cublas", "gemm.mma"}});
  quick.push_back({Quantize{4096, 7168, "1x128", false}, {"quant.e4m3"}});
  all.push_back({"quick", "a few minutes on an H100: one point of each op family", quick});
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
  throw Error(fmt::format("unknown suite \"{}\"; known suites: {} (`trainbench list` describes them)", name,
                          fmt::join(names, ", ")));
}

std::string benchmark_name(const Op& op, const std::string& impl) {
  return op_family(op) + "/" + impl + "/" + op_label(op);
}

}  // namespace trainbench
