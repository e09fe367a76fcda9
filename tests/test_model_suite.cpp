// `run --suite model:NAME`: a model's per-GPU ops at their exact shapes.
#include <gtest/gtest.h>

#include "bench/model_suite.hpp"
#include "harness/error.hpp"

namespace trainbench {
namespace {

bool has_op(const Suite& s, const Op& op) {
  for (const auto& e : s.entries)
    if (op_family(e.op) == op_family(op) && op_label(e.op) == op_label(op)) return true;
  return false;
}

TEST(ModelSuite, Llama3_70bAtTp8HoldsItsPerGpuShapes) {
  ModelSuiteOptions o;
  o.tp = 8;
  o.seq = 8192;
  const Suite s = model_suite("model:llama-3-70b", o);
  EXPECT_EQ(s.name, "model:llama-3-70b");
  // QKV forward: 8192 tokens x (64 + 2 x 8) heads x 128 / 8 = 1280 outputs, K = hidden 8192.
  EXPECT_TRUE(has_op(s, Gemm{8192, 1280, 8192, "tn", "bf16", "bf16"}));
  // Its wgrad: m = out features 1280, n = in features 8192, k = tokens.
  EXPECT_TRUE(has_op(s, Gemm{1280, 8192, 8192, "nt", "bf16", "bf16"}));
  // Attention: 8 query heads and 1 KV head per GPU, causal, both passes.
  EXPECT_TRUE(has_op(s, Attention{1, 8, 1, 8192, 8192, 128, true, "fwd"}));
  EXPECT_TRUE(has_op(s, Attention{1, 8, 1, 8192, 8192, 128, true, "bwd"}));
  for (const auto& e : s.entries) {
    EXPECT_FALSE(e.impls.empty()) << op_label(e.op);
    for (const auto& impl : e.impls) EXPECT_NE(impl, "gemm.simt");
  }
}

// With FP8 GEMMs, the FP8 layers are DeepSeek-V3-style scaled GEMMs, measured by the impls that take them.
TEST(ModelSuite, Fp8LayersAreScaledGemmsForTheFp8Impls) {
  ModelSuiteOptions o;
  o.tp = 8;
  o.seq = 8192;
  o.precision = "fp8";
  const Suite s = model_suite("model:llama-3-70b", o);
  bool found = false;
  for (const auto& e : s.entries) {
    if (const auto* g = std::get_if<ScaledGemm>(&e.op)) {
      found = found || (g->m == 8192 && g->n == 1280 && g->k == 8192 && g->a_scale == "1x128");
      EXPECT_FALSE(e.impls.empty());
      for (const auto& impl : e.impls) EXPECT_EQ(impl.rfind("fp8gemm.", 0), 0u) << impl;
    }
    // The output head stays BF16.
    if (const auto* g = std::get_if<Gemm>(&e.op)) {
      EXPECT_EQ(g->dtype, "bf16");
    }
  }
  EXPECT_TRUE(found);
}

TEST(ModelSuite, DistinctShapesOnly) {
  const Suite s = model_suite("model:gpt-3-175b", ModelSuiteOptions{});
  for (std::size_t i = 0; i < s.entries.size(); ++i)
    for (std::size_t j = i + 1; j < s.entries.size(); ++j)
      EXPECT_FALSE(op_family(s.entries[i].op) == op_family(s.entries[j].op) &&
                   op_label(s.entries[i].op) == op_label(s.entries[j].op));
}

TEST(ModelSuite, UnknownModelOrBadLayoutIsAnError) {
  EXPECT_TRUE(is_model_suite("model:llama-3-8b"));
  EXPECT_FALSE(is_model_suite("quick"));
  EXPECT_THROW(model_suite("model:gpt-5", ModelSuiteOptions{}), Error);
  ModelSuiteOptions bad;
  bad.tp = 7;  // divides neither heads nor hidden
  EXPECT_THROW(model_suite("model:llama-3-70b", bad), Error);
}

}  // namespace
}  // namespace trainbench
