// Reference models: every value sourced, parameter counts as published, and the FLOP conventions
// against the hand formulas of PaLM, Megatron-LM 2021 and Korthikanti et al. 2022.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "harness/error.hpp"
#include "harness/model.hpp"

namespace trainbench {
namespace {

const ModelSpec& model(const char* id) { return ModelTable::builtin().by_id(id); }

TEST(ModelTable, BuiltinHasTheIssueModelsEachSourced) {
  for (const char* id : {"gpt-3-175b", "llama-2-7b", "llama-2-13b", "llama-2-70b", "llama-3-8b", "llama-3-70b",
                         "llama-3-405b", "deepseek-v3", "mixtral-8x7b", "llama-3.2-1b", "qwen3-235b-a22b", "kimi-k2"}) {
    const ModelSpec& m = model(id);
    EXPECT_EQ(m.group, "reference") << id;
    for (const char* f : {"layers", "hidden", "heads", "vocab", "seq_len"}) EXPECT_TRUE(m.sources.count(f)) << id << f;
  }
}

// Published totals: Llama 3 8B/70B and 3.1 405B, Llama 2 7B, GPT-3 175B, Mixtral 46.7B/12.9B active,
// DeepSeek-V3 671B/37B active (main model, MTP module excluded), Llama 3.2 1.23B, Qwen3 235B/22B
// active (its model card), Kimi K2 32.6B active (arXiv 2507.20534; its total below).
TEST(ModelSpec, ParameterCountsMatchThePublishedOnes) {
  auto near = [](double got, double want, double tol) { return std::fabs(got / want - 1) < tol; };
  EXPECT_TRUE(near(model("llama-3-8b").total_params(), 8.03e9, 0.01)) << model("llama-3-8b").total_params();
  EXPECT_TRUE(near(model("llama-3-70b").total_params(), 70.6e9, 0.01)) << model("llama-3-70b").total_params();
  EXPECT_TRUE(near(model("llama-3-405b").total_params(), 405.9e9, 0.01)) << model("llama-3-405b").total_params();
  EXPECT_TRUE(near(model("llama-2-7b").total_params(), 6.74e9, 0.01)) << model("llama-2-7b").total_params();
  EXPECT_TRUE(near(model("gpt-3-175b").total_params(), 175e9, 0.01)) << model("gpt-3-175b").total_params();
  EXPECT_TRUE(near(model("mixtral-8x7b").total_params(), 46.7e9, 0.01)) << model("mixtral-8x7b").total_params();
  EXPECT_TRUE(near(model("mixtral-8x7b").active_params(), 12.9e9, 0.01)) << model("mixtral-8x7b").active_params();
  EXPECT_TRUE(near(model("deepseek-v3").total_params(), 671e9, 0.005)) << model("deepseek-v3").total_params();
  EXPECT_TRUE(near(model("deepseek-v3").active_params(), 37e9, 0.03)) << model("deepseek-v3").active_params();
  EXPECT_TRUE(near(model("llama-3.2-1b").total_params(), 1.236e9, 0.01)) << model("llama-3.2-1b").total_params();
  EXPECT_TRUE(near(model("qwen3-235b-a22b").total_params(), 235e9, 0.005)) << model("qwen3-235b-a22b").total_params();
  EXPECT_TRUE(near(model("qwen3-235b-a22b").active_params(), 22e9, 0.02)) << model("qwen3-235b-a22b").active_params();
  // Kimi K2: its report says 1.04T, its model card 1T; the config's shapes (one dense layer, as its
  // checkpoint's layer-0 MLP shapes confirm) give 1.026T, between the two.
  EXPECT_TRUE(near(model("kimi-k2").total_params(), 1.0264e12, 0.002)) << model("kimi-k2").total_params();
  EXPECT_TRUE(near(model("kimi-k2").active_params(), 32.6e9, 0.015)) << model("kimi-k2").active_params();
}

TEST(Flops, SixNDForTheWeightsPlusTheAttentionTerm) {
  const ModelSpec& m = model("llama-3-70b");
  const double seq = 8192;
  const double attention = 12.0 * 80 * 64 * 128 * seq / 2;  // PaLM's 12 L H Q T, halved for the causal mask
  EXPECT_DOUBLE_EQ(model_flops_per_token(m, 8192), 6 * m.matmul_params_active() + attention);
  // 6 N D for D tokens: the weights part scales with tokens only.
  const double D = 15e12;
  EXPECT_NEAR((model_flops_per_token(m, 8192) - attention) * D / (6 * m.matmul_params_active() * D), 1.0, 1e-12);
  // The matmul parameters: everything but the input embedding (a lookup); the untied LM head counts.
  EXPECT_DOUBLE_EQ(m.matmul_params_active(), m.total_params() - m.embedding_params() - 2.0 * 80 * 8192 - 8192);
}

TEST(Flops, PalmAppendixB) {
  const ModelSpec& m = model("gpt-3-175b");
  const double L = 96, H = 96, Q = 128, T = 2048;
  EXPECT_DOUBLE_EQ(model_flops_per_token(m, 2048, {false, false}), 6 * m.matmul_params_active() + 12 * L * H * Q * T);
}

// Megatron-LM 2021 (Narayanan et al., eq. in §5.1): 96 B s l h^2 (1 + s/6h + V/16lh) per iteration with
// full recomputation; Korthikanti et al. 2022: 72 B s l h^2 (1 + s/6h + V/12lh) without.
TEST(Flops, MegatronAndKorthikantiFormulas) {
  for (const char* id : {"megatron-1.7b", "megatron-145.6b", "megatron-1008b"}) {
    const ModelSpec& m = model(id);
    const double B = 512, s = 2048, l = double(m.layers), h = double(m.hidden), V = double(m.vocab);
    const double megatron = 96 * B * s * l * h * h * (1 + s / (6 * h) + V / (16 * l * h));
    const double korthikanti = 72 * B * s * l * h * h * (1 + s / (6 * h) + V / (12 * l * h));
    EXPECT_NEAR(model_flops_per_token(m, 2048, {false, true}) * B * s / megatron, 1.0, 1e-12) << id;
    EXPECT_NEAR(model_flops_per_token(m, 2048, {false, false}) * B * s / korthikanti, 1.0, 1e-12) << id;
  }
}

TEST(Flops, MoeCountsActiveExperts) {
  const ModelSpec& m = model("mixtral-8x7b");
  EXPECT_LT(m.matmul_params_active(), 0.3 * m.total_params());
  const ModelSpec& d = model("deepseek-v3");
  // MLA attention: QK^T over 128 + 64, PV over 128.
  EXPECT_EQ(d.qk_dim(), 192u);
  EXPECT_EQ(d.v_dim(), 128u);
  EXPECT_EQ(d.moe_layers(), 58u);
}

std::string parse_error(const std::string& text) {
  try {
    ModelTable::parse(text, "m.json");
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), kExitUsage);
    return e.what();
  }
  return "";
}

constexpr const char* kGood = R"({"models": [{"id": "tiny", "name": "Tiny", "layers": 2, "hidden": 64,
  "heads": 4, "kv_heads": 2, "head_dim": 16, "ffn_hidden": 256, "vocab": 1000, "activation": "swiglu",
  "tied_embeddings": true, "learned_positions": 0, "seq_len": 128,
  "sources": {"layers,hidden,heads,kv_heads,head_dim,ffn_hidden,vocab,activation,tied_embeddings,learned_positions,seq_len": "test"}}]})";

TEST(ModelTable, ParseErrorsNameTheFileTheModelAndTheField) {
  EXPECT_NO_THROW(ModelTable::parse(kGood, "m.json"));
  // A file of another schema version would be misread: refused.
  std::string other = kGood;
  other.replace(other.find('{'), 1, R"({"schema": "trainbench.models/2", )");
  EXPECT_THROW(ModelTable::parse(other, "m.json"), Error);
  std::string same = kGood;
  same.replace(same.find('{'), 1, R"({"schema": "trainbench.models/1", )");
  EXPECT_NO_THROW(ModelTable::parse(same, "m.json"));
  std::string bad = kGood;
  bad.replace(bad.find("\"hidden\": 64,"), 13, "");
  std::string msg = parse_error(bad);
  EXPECT_NE(msg.find("m.json"), std::string::npos) << msg;
  EXPECT_NE(msg.find("\"tiny\""), std::string::npos) << msg;
  EXPECT_NE(msg.find("\"hidden\" is missing"), std::string::npos) << msg;

  bad = kGood;
  bad.replace(bad.find("swiglu"), 6, "relu6");
  EXPECT_NE(parse_error(bad).find("activation"), std::string::npos);

  bad = kGood;
  bad.replace(bad.find("\"kv_heads\": 2"), 13, "\"kv_heads\": 3");
  EXPECT_NE(parse_error(bad).find("kv_heads"), std::string::npos);

  bad = kGood;
  bad.replace(bad.find("layers,hidden"), 13, "hidden");
  msg = parse_error(bad);
  EXPECT_NE(msg.find("\"layers\" has no source"), std::string::npos) << msg;

  EXPECT_NE(parse_error("{not json").find("not valid JSON"), std::string::npos);
}

TEST(ModelTable, UsersAddAModelWithAFile) {
  const auto path = std::filesystem::temp_directory_path() / "trainbench-test-models.json";
  std::ofstream(path) << kGood;
  const ModelTable t = ModelTable::with_file(path.string());
  EXPECT_EQ(t.by_id("tiny").layers, 2u);
  EXPECT_EQ(t.by_id("llama-3-70b").layers, 80u);  // the built-in ones stay
  std::filesystem::remove(path);
  try {
    ModelTable::builtin().by_id("nonesuch");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("llama-3-70b"), std::string::npos);  // lists the choices
  }
  EXPECT_THROW(ModelTable::with_file("/nonexistent/models.json"), Error);
}

}  // namespace
}  // namespace trainbench
