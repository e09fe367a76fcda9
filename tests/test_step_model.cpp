// The training-step model: per-GPU shapes of the expansion, FLOPs it runs against the hand count,
// collective formulas, layout checks, the published-run table, and the `project` command.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <optional>

#include <fmt/format.h>

#include "harness/chips.hpp"
#include "harness/comm.hpp"
#include "harness/error.hpp"
#include "harness/gemm_efficiency.hpp"
#include "harness/step_model.hpp"
#include "harness/validation.hpp"
#include "tests/run_command.hpp"
#include "tests/synthetic_results.hpp"

namespace trainbench {
namespace {

using testing::contains;

const ModelSpec& model(const char* id) { return ModelTable::builtin().by_id(id); }
const ChipSpec& chip(const char* id) { return ChipTable::builtin().by_id(id); }

Layout llama70b_tp8() {
  Layout l;
  l.tp = 8, l.pp = 1, l.dp = 128;
  l.seq = 8192;
  l.micro_batch = 1;
  l.global_batch_tokens = 4194304;  // 512 sequences: 4 micro-batches per replica
  return l;
}

const StepOp* find(const StepEstimate& e, const std::string& name, const std::string& phase) {
  for (const auto& s : e.ops)
    if (s.name == name && s.phase == phase) return &s;
  return nullptr;
}

Gemm gemm_of(const StepEstimate& e, const std::string& name, const std::string& phase) {
  const StepOp* s = find(e, name, phase);
  EXPECT_TRUE(s && s->op) << name << " " << phase;
  return s && s->op ? std::get<Gemm>(*s->op) : Gemm{};
}

TEST(Comm, RingFormulas) {
  const Link link{"test", 100, 1.0, 0};  // 100 GB/s, no latency
  EXPECT_DOUBLE_EQ(all_reduce_s(1e9, 8, link), 2.0 * 7 / 8 * 1e9 / 1e11);
  EXPECT_DOUBLE_EQ(reduce_scatter_s(1e9, 8, link), 7.0 / 8 * 1e9 / 1e11);
  EXPECT_DOUBLE_EQ(all_gather_s(1e9, 8, link), reduce_scatter_s(1e9, 8, link));
  EXPECT_DOUBLE_EQ(all_to_all_s(1e9, 4, link), 3.0 / 4 * 1e9 / 1e11);
  EXPECT_DOUBLE_EQ(p2p_s(1e9, link), 0.01);
  EXPECT_DOUBLE_EQ(all_reduce_s(1e9, 1, link), 0.0);
  const Link slow{"half", 100, 0.5, 1e-6};
  EXPECT_DOUBLE_EQ(all_reduce_s(1e9, 2, slow), 2 * (0.5 * 1e9 / 5e10 + 1e-6));
}

// Llama 3 70B at TP 8: 64 query heads -> 8 per GPU, 8 KV heads -> 1, FFN 28672 -> 3584.
// Every default assumption lies in its own range, and the ranges refuse what no system has.
TEST(StepModel, AssumptionRanges) {
  for (const ChipSpec& chip : ChipTable::builtin().chips()) {
    const Assumptions a = Assumptions::defaults_for(chip);
    for (const auto& [name, item] : a.all())
      EXPECT_EQ(Assumptions::range_problem(name, item.value), "") << chip.id << " " << name << " = " << item.value;
  }
  EXPECT_NE(Assumptions::range_problem("goodput", 1.5), "");
  EXPECT_NE(Assumptions::range_problem("goodput", 0), "");
  EXPECT_NE(Assumptions::range_problem("attention_fwd_efficiency", 2), "");
  EXPECT_EQ(Assumptions::range_problem("tp_overlap", 0), "");
  EXPECT_NE(Assumptions::range_problem("tp_overlap", -0.1), "");
  EXPECT_EQ(Assumptions::range_problem("gemm_shape_model", 0), "");
  EXPECT_NE(Assumptions::range_problem("gemm_shape_model", 2), "");
  EXPECT_NE(Assumptions::range_problem("scale_up_domain", 3.5), "");
  EXPECT_NE(Assumptions::range_problem("scale_up_gbps", 0), "");
  EXPECT_EQ(Assumptions::range_problem("scale_up_latency_s", 0), "");
  EXPECT_NE(Assumptions::range_problem("scale_out_gbps", std::numeric_limits<double>::infinity()), "");
  EXPECT_NE(Assumptions::range_problem("goodput", std::nan("")), "");
  EXPECT_EQ(Assumptions::range_problem("ep_node_limit", 0), "");
  EXPECT_EQ(Assumptions::range_problem("ep_node_limit", 4), "");
  EXPECT_NE(Assumptions::range_problem("ep_node_limit", 2.5), "");
  EXPECT_NE(Assumptions::range_problem("ep_node_limit", -1), "");
  EXPECT_NE(Assumptions::range_problem("ep_dispatch_bytes", 0), "");
}

TEST(StepModel, Llama3_70bGemmShapesAtTp8) {
  const auto& c = chip("h100-sxm");
  const StepEstimate e = estimate_step(model("llama-3-70b"), llama70b_tp8(), c, Assumptions::defaults_for(c));
  auto expect = [](const Gemm& g, std::uint64_t m, std::uint64_t n, std::uint64_t k, const char* layout) {
    EXPECT_EQ(g.m, m);
    EXPECT_EQ(g.n, n);
    EXPECT_EQ(g.k, k);
    EXPECT_EQ(g.layout, layout);
  };
  expect(gemm_of(e, "attn.qkv", "fwd"), 8192, (8 + 2) * 128, 8192, "tn");
  expect(gemm_of(e, "attn.qkv.dgrad", "bwd"), 8192, 8192, 1280, "nn");
  expect(gemm_of(e, "attn.qkv.wgrad", "bwd"), 1280, 8192, 8192, "nt");
  expect(gemm_of(e, "attn.out", "fwd"), 8192, 8192, 1024, "tn");
  expect(gemm_of(e, "mlp.up", "fwd"), 8192, 2 * 3584, 8192, "tn");
  expect(gemm_of(e, "mlp.down", "fwd"), 8192, 8192, 3584, "tn");
  expect(gemm_of(e, "lm_head", "fwd"), 8192, 128256 / 8, 8192, "tn");
  const StepOp* att = find(e, "attn.core", "fwd");
  ASSERT_TRUE(att && att->op);
  const auto& a = std::get<Attention>(*att->op);
  EXPECT_EQ(a.heads_q, 8u);
  EXPECT_EQ(a.heads_kv, 1u);
  EXPECT_EQ(a.seq_q, 8192u);
  EXPECT_EQ(a.head_dim, 128u);
  EXPECT_TRUE(a.causal);
  // 80 layers x 4 micro-batches.
  EXPECT_DOUBLE_EQ(find(e, "attn.qkv", "fwd")->count, 320);
  EXPECT_EQ(find(e, "attn.qkv", "recompute"), nullptr);
}

// What the expansion runs, summed over the GPUs, is the hand count: 3x the forward matmuls, the fused
// attention's 1 + 2.5 forwards, and the recomputed forward.
TEST(StepModel, ExecutedFlopsEqualTheHandCount) {
  const auto& c = chip("h100-sxm");
  const auto a = Assumptions::defaults_for(c);
  for (Recompute r : {Recompute::None, Recompute::Selective, Recompute::Full}) {
    Layout l = llama70b_tp8();
    l.recompute = r;
    const StepEstimate e = estimate_step(model("llama-3-70b"), l, c, a);
    double flops = 0;
    for (const auto& s : e.ops) flops += s.flops * s.count;
    const double want = hardware_flops_per_token(model("llama-3-70b"), l) * l.global_batch_tokens / l.dp / l.tp;
    EXPECT_NEAR(flops / want, 1.0, 1e-9) << recompute_name(r);
    EXPECT_GE(e.hfu, e.mfu);
  }
  // Context parallelism (load-balanced): each of the CP ranks runs 1 / CP of every op, attention included.
  Layout l = llama70b_tp8();
  l.seq = 32768, l.cp = 4, l.dp = 32;
  const StepEstimate e = estimate_step(model("llama-3-70b"), l, c, a);
  double flops = 0;
  for (const auto& s : e.ops) flops += s.flops * s.count;
  const double want = hardware_flops_per_token(model("llama-3-70b"), l) * l.global_batch_tokens / l.dp / l.tp / l.cp;
  EXPECT_NEAR(flops / want, 1.0, 1e-9) << "cp 4";
}

// DeepSeek-V3 as it trained (no TP, PP 16, DP 128, 16 micro-batches), with EP `ep`.
Layout deepseek_v3_pp16(int ep) {
  Layout l;
  l.tp = 1, l.pp = 16, l.dp = 128, l.ep = ep;
  l.seq = 4096;
  l.global_batch_tokens = 4096.0 * 128 * 16;
  return l;
}

TEST(StepModel, MoeTokensPerExpertFromTopK) {
  const auto& c = chip("h800-sxm");
  const Layout l = deepseek_v3_pp16(8);
  const StepEstimate e = estimate_step(model("deepseek-v3"), l, c, Assumptions::defaults_for(c));
  // 4096 tokens x top-8 x EP 8 / 256 experts = 1024 tokens per local expert; 32 local experts.
  const Gemm up = gemm_of(e, "moe.expert.up", "fwd");
  EXPECT_EQ(up.m, 1024u);
  EXPECT_EQ(up.n, 2u * 2048);
  EXPECT_EQ(up.k, 7168u);
  const double stage_layers = 4;  // ceil(61 / 16), all MoE on the last stage
  EXPECT_DOUBLE_EQ(find(e, "moe.expert.up", "fwd")->count, stage_layers * 32 * 16);
  EXPECT_EQ(gemm_of(e, "attn.kv_down", "fwd").n, 512u + 64);
  bool has_a2a = false;
  for (const auto& comm : e.comm) has_a2a |= contains(comm.name, "all-to-all");
  EXPECT_TRUE(has_a2a);
}

// A copy, not a pointer: the estimate is often a temporary.
std::optional<CommItem> comm_item(const StepEstimate& e, const std::string& prefix) {
  for (const auto& c : e.comm)
    if (c.name.rfind(prefix, 0) == 0) return c;
  return std::nullopt;
}

// The EP traffic follows the bytes per dispatched element and the node limit: with the defaults (BF16 both ways,
// one copy per routed expert) against FP8 dispatch (3 of 4 bytes) and 4 domains for DeepSeek-V3's 8 experts (half
// the copies). Where the group stays in one scale-up domain, the node limit changes nothing.
TEST(StepModel, EpTrafficFollowsDispatchBytesAndTheNodeLimit) {
  const auto& c = chip("h800-sxm");
  const Layout l = deepseek_v3_pp16(64);
  auto ep_total = [&](std::vector<std::pair<const char*, double>> set, const Layout& layout) {
    Assumptions a = Assumptions::defaults_for(c);
    a.set("scale_out_latency_s", 0, "test: bandwidth only");
    a.set("scale_up_latency_s", 0, "test: bandwidth only");
    for (const auto& [name, v] : set) a.set(name, v, "test");
    const auto item = comm_item(estimate_step(model("deepseek-v3"), layout, c, a), "EP all-to-all");
    EXPECT_TRUE(item);
    return item ? item->total_s : 0.0;
  };
  const double base = ep_total({}, l);
  EXPECT_GT(base, 0);
  EXPECT_NEAR(ep_total({{"ep_dispatch_bytes", 1}}, l) / base, 0.75, 1e-9);
  EXPECT_NEAR(ep_total({{"ep_node_limit", 4}}, l) / base, 0.5, 1e-9);
  EXPECT_NEAR(ep_total({{"ep_node_limit", 16}}, l) / base, 1.0, 1e-9);  // 8 experts reach at most 8 domains
  const Layout inside = deepseek_v3_pp16(8);  // 8 GPUs: one HGX board
  EXPECT_NEAR(ep_total({{"ep_node_limit", 4}}, inside) / ep_total({}, inside), 1.0, 1e-9);
  // Full recomputation repeats the forward's pair: 3 pairs instead of 2.
  Layout full = l;
  full.recompute = Recompute::Full;
  EXPECT_NEAR(ep_total({}, full) / base, 1.5, 1e-9);
}

// tp_overlap and pp_overlap hide their traffic behind compute, up to that compute's time.
TEST(StepModel, TpAndPpOverlapHideTrafficBehindCompute) {
  const auto& c = chip("h100-sxm");
  Layout l = llama70b_tp8();
  l.pp = 4, l.dp = 32;
  auto exposed = [&](const char* prefix, const char* name, double v) {
    Assumptions a = Assumptions::defaults_for(c);
    a.set(name, v, "test");
    const auto item = comm_item(estimate_step(model("llama-3-70b"), l, c, a), prefix);
    EXPECT_TRUE(item) << prefix;
    return item ? std::pair{item->total_s, item->exposed_s} : std::pair{0.0, 0.0};
  };
  const auto [tp_total, tp_none] = exposed("TP", "tp_overlap", 0);
  EXPECT_DOUBLE_EQ(tp_none, tp_total);
  EXPECT_NEAR(exposed("TP", "tp_overlap", 0.5).second, tp_total / 2, 1e-12);  // the GEMMs take longer than that
  EXPECT_NEAR(exposed("TP", "tp_overlap", 1).second, 0, 1e-12);
  const auto [pp_total, pp_none] = exposed("PP", "pp_overlap", 0);
  EXPECT_GT(pp_total, 0);
  EXPECT_DOUBLE_EQ(pp_none, pp_total);
  EXPECT_NEAR(exposed("PP", "pp_overlap", 1).second, 0, 1e-12);
}

// Interleaving (vpp chunks per stage) divides the 1F1B bubble, (pp - 1) micro-batches, by vpp and multiplies
// the point-to-point traffic by vpp; the compute is the same.
TEST(StepModel, InterleavingTradesTheBubbleForPpTraffic) {
  const auto& c = chip("h100-sxm");
  Assumptions a = Assumptions::defaults_for(c);
  a.set("pp_overlap", 1, "test");  // the extra traffic hidden: the bubble differs by the schedule alone
  Layout l = llama70b_tp8();
  l.pp = 4, l.dp = 32;
  const StepEstimate plain = estimate_step(model("llama-3-70b"), l, c, a);
  l.vpp = 5;
  const StepEstimate interleaved = estimate_step(model("llama-3-70b"), l, c, a);
  EXPECT_NEAR(interleaved.compute_s / plain.compute_s, 1.0, 1e-12);
  const auto p = comm_item(plain, "PP");
  const auto i = comm_item(interleaved, "PP");
  ASSERT_TRUE(p && i);
  EXPECT_NEAR(i->total_s / p->total_s, 5.0, 1e-9);
  EXPECT_NEAR(interleaved.bubble_s * 5 / plain.bubble_s, 1.0, 1e-9);
  const double per_mb = (plain.compute_s - plain.breakdown_s.at("optimizer")) / double(l.micro_batches());
  EXPECT_GE(plain.bubble_s, 3 * per_mb * (1 - 1e-12));  // (pp - 1) micro-batches, plus exposed TP traffic
  // Activations in flight on the first stage: PP micro-batches under 1F1B, 1 + (PP - 1) / (PP vpp) times that
  // interleaved (rounded up): 4, then 5 at vpp 5, then 6 at vpp 2.
  l.vpp = 2;
  const StepEstimate two = estimate_step(model("llama-3-70b"), l, c, a);
  EXPECT_LT(plain.memory_gb, interleaved.memory_gb);
  EXPECT_LT(interleaved.memory_gb, two.memory_gb);
  EXPECT_NEAR((two.memory_gb - plain.memory_gb) / (interleaved.memory_gb - plain.memory_gb), 2.0, 1e-9);
}

// The data-parallel gradient sync by ZeRO stage, on ring collectives: stage 0 all-reduces the gradients
// (2 passes); stage 1 reduce-scatters them and all-gathers the updated BF16 weights (1 + 1 passes: the same
// traffic with BF16 gradients); stage 3 gathers the weights again for every micro-batch's forward and backward
// and reduce-scatters every micro-batch's gradients (3 passes per micro-batch).
TEST(StepModel, DpTrafficByZeroStageFollowsTheRingCollectives) {
  const auto& c = chip("h100-sxm");
  const auto a = Assumptions::defaults_for(c);
  ASSERT_EQ(a["dp_grad_bytes"], 2);
  Layout l = llama70b_tp8();
  auto dp_total = [&](int stage) {
    l.zero_stage = stage;
    const auto item = comm_item(estimate_step(model("llama-3-70b"), l, c, a), "DP");
    EXPECT_TRUE(item) << stage;
    return item ? item->total_s : 0.0;
  };
  const double zero0 = dp_total(0), zero1 = dp_total(1), zero3 = dp_total(3);
  EXPECT_GT(zero0, 0);
  EXPECT_NEAR(zero1 / zero0, 1.0, 1e-12);
  EXPECT_NEAR(zero3 / zero1, 1.5 * double(l.micro_batches()), 1e-9);
}

// Context parallelism's ring: per layer and micro-batch, CP - 1 steps pass a rank's K and V on in the forward,
// and K, V and their gradients in the backward (3 transfers a step), each a point-to-point transfer of the
// rank's seq / CP tokens of K and V. TP 8 x CP 4 spans 32 GPUs: the scale-out link.
TEST(StepModel, CpRingTrafficIsThreeTransfersPerStepPerLayer) {
  const auto& c = chip("h100-sxm");
  const auto a = Assumptions::defaults_for(c);
  Layout l = llama70b_tp8();
  l.seq = 32768, l.cp = 4, l.dp = 32;
  const auto item = comm_item(estimate_step(model("llama-3-70b"), l, c, a), "CP");
  ASSERT_TRUE(item);
  const Link out{"scale-out", a["scale_out_gbps"], a["scale_out_efficiency"], a["scale_out_latency_s"]};
  const double kv_bytes = 8192.0 * 2 /* K and V */ * 1 /* KV head per GPU */ * 128 * 2 /* BF16 */;
  const double want = 3.0 * (4 - 1) * p2p_s(kv_bytes, out) * 80 /* layers */ * double(l.micro_batches());
  EXPECT_NEAR(item->total_s / want, 1.0, 1e-12);
  EXPECT_NE(item->link.find("scale-out"), std::string::npos) << item->link;
}

TEST(StepModel, Fp8GemmsUseTheFp8RoofAndMfuStaysOverBf16Peak) {
  const auto& c = chip("h100-sxm");
  Layout l = llama70b_tp8();
  l.precision = "fp8";
  const StepEstimate e = estimate_step(model("llama-3-70b"), l, c, Assumptions::defaults_for(c));
  const StepOp* up = find(e, "mlp.up", "fwd");
  ASSERT_TRUE(up && up->op && std::holds_alternative<ScaledGemm>(*up->op));
  const auto& sg = std::get<ScaledGemm>(*up->op);
  EXPECT_EQ(sg.dtype, "e4m3");
  EXPECT_EQ(sg.a_scale, "1x128");  // DeepSeek-V3's fine-grained scales
  EXPECT_EQ(sg.b_scale, "128x128");
  EXPECT_EQ(sg.m, 8192u);
  EXPECT_EQ(sg.n, 2u * 3584u);
  EXPECT_EQ(sg.k, 8192u);
  // The output head stays in BF16, and the activations' quantization is counted as memory traffic.
  EXPECT_TRUE(std::holds_alternative<Gemm>(*find(e, "lm_head", "fwd")->op));
  const StepOp* q = find(e, "mlp.up.quantize", "fwd");
  ASSERT_NE(q, nullptr);
  EXPECT_NEAR(q->bytes, (3.0 + 4.0 / 128) * 8192 * 8192, 1);
  EXPECT_GT(e.breakdown_s.at("fp8 quantize"), 0);
  EXPECT_NEAR(e.mfu_precision_peak / e.mfu, *c.bf16_dense_tflops / *c.fp8_dense_tflops, 1e-12);
  Layout a100 = llama70b_tp8();
  a100.precision = "fp8";
  const auto& ampere = chip("a100-sxm-80gb");
  EXPECT_THROW(estimate_step(model("llama-3-70b"), a100, ampere, Assumptions::defaults_for(ampere)), Error);
}

// Hand counts of the tile and wave quantization model (256x128 tiles, either orientation).
TEST(GemmShapeModel, TileWaveAndSplitKQuantization) {
  GemmTiling tiles;  // 256 x 128, SMs unknown: tile quantization only
  EXPECT_DOUBLE_EQ(gemm_quantization_efficiency(4096, 4096, 4096, tiles), 1.0);
  // 257 x 128: two 256 x 128 tiles (the other orientation needs three 128 x 256).
  EXPECT_DOUBLE_EQ(gemm_quantization_efficiency(257, 128, 4096, tiles), 257.0 * 128 / (2 * 256 * 128));
  tiles.sms = 108;  // A100
  // NVIDIA's guide's example: 1792 x 1792 makes 7 x 14 = 98 tiles, one wave of 108 slots.
  EXPECT_DOUBLE_EQ(gemm_quantization_efficiency(1792, 1792, 8192, tiles), 1792.0 * 1792 / (108 * 256 * 128));
  // 4096 x 4096: 512 tiles in 5 waves of 108.
  EXPECT_DOUBLE_EQ(gemm_quantization_efficiency(4096, 4096, 8192, tiles), 4096.0 * 4096 / (5 * 108 * 256 * 128));
  tiles.sms = 132;  // H100 SXM
  // 512 x 512: 8 tiles; K = 8192 splits 16 ways (slices of 512) into 128 CTAs, one wave.
  EXPECT_DOUBLE_EQ(gemm_quantization_efficiency(512, 512, 8192, tiles), 512.0 * 512 * 16 / (132 * 256 * 128));
  // K = 512 cannot split: 8 of 132 slots busy.
  EXPECT_DOUBLE_EQ(gemm_quantization_efficiency(512, 512, 512, tiles), 512.0 * 512 / (132 * 256 * 128));
}

// A results file with one BF16 GEMM on an H100 at a known time, written where the test can read it.
std::string h100_results_with(const std::vector<testing::SyntheticBenchmark>& benchmarks, const std::string& name) {
  const auto path = (std::filesystem::temp_directory_path() / name).string();
  write_results_file(path, testing::synthetic_results("NVIDIA H100 80GB HBM3", benchmarks, 7), true);
  return path;
}

// A result faster than its chip's spec sheet (times edited, or the wrong chip) is not a
// measurement: projecting from it is refused, naming the file and the benchmark.
TEST(StepModel, AResultAboveTheChipsPeakIsRefused) {
  const auto& c = chip("h100-sxm");
  const Gemm g{8192, 8192, 8192, "tn", "bf16", "bf16"};
  const double too_fast = 1.5 * *c.bf16_dense_tflops * 1e12;
  const auto file = h100_results_with({{g, "gemm.cublas", g.flops() / too_fast}}, "trainbench-test-above-peak.json");
  Assumptions a = Assumptions::defaults_for(c);
  try {
    (void)MeasuredOps::load({file}, c, a);
    ADD_FAILURE() << "a result at 150% of peak was used";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("trainbench-test-above-peak.json"), std::string::npos) << msg;
    EXPECT_NE(msg.find("gemm.cublas"), std::string::npos) << msg;
    EXPECT_NE(msg.find("spec-sheet peak"), std::string::npos) << msg;
  }
}

TEST(StepModel, OpsTakeExactThenNearestMeasuredShapesThenTheRoofline) {
  const auto& c = chip("h100-sxm");
  const Layout l = llama70b_tp8();
  // Llama 3 70B at TP8, seq 8192: mlp.up forward is 8192 x 7168 x 8192. Measure it exactly, and 8192^3 (near
  // mlp.down's 8192 x 8192 x 3584), both at 600 TFLOP/s.
  const Gemm up{8192, 7168, 8192, "tn", "bf16", "bf16"};
  const Gemm square{8192, 8192, 8192, "tn", "bf16", "bf16"};
  const double tflops = 600e12;
  const auto file = h100_results_with({{up, "gemm.cublas", up.flops() / tflops}, {square, "gemm.cublas", square.flops() / tflops}},
                                      "trainbench-test-nearest.json");
  // The file's medians (the synthetic samples scatter around the times given).
  const Results written = read_results_file(file);
  auto median_of = [&](const Gemm& g) {
    for (const auto& b : written.benchmarks)
      if (op_label(op_from_json(b.op, b.shape)) == op_label(Op{g})) return b.median_s;
    return 0.0;
  };
  const double up_s = median_of(up), square_s = median_of(square);
  ASSERT_GT(up_s, 0);
  ASSERT_GT(square_s, 0);
  Assumptions a = Assumptions::defaults_for(c);
  const MeasuredOps measured = MeasuredOps::load({file}, c, a);
  const StepEstimate e = estimate_step(model("llama-3-70b"), l, c, a, &measured);

  const StepOp* exact = find(e, "mlp.up", "fwd");
  ASSERT_NE(exact, nullptr);
  EXPECT_EQ(exact->time_from.rfind("measured: gemm.cublas", 0), 0u) << exact->time_from;
  EXPECT_DOUBLE_EQ(exact->time_s, up_s);

  // mlp.down forward, 8192 x 8192 x 3584: nearest is 8192^3 (distance log2(8192/3584) = 1.19), whose
  // efficiency carries over scaled by the two shapes' quantization factors.
  const StepOp* down = find(e, "mlp.down", "fwd");
  ASSERT_NE(down, nullptr);
  EXPECT_EQ(down->time_from.rfind("nearest measured: gemm.cublas at", 0), 0u) << down->time_from;
  const GemmTiling t = gemm_tiling(c, a);
  const double peak = *c.bf16_dense_tflops * 1e12;
  const double eff = square.flops() / square_s / peak * gemm_quantization_efficiency(8192, 8192, 3584, t) /
                     gemm_quantization_efficiency(8192, 8192, 8192, t);
  EXPECT_NEAR(down->time_s, down->flops / (peak * eff), 1e-15);
  EXPECT_GT(e.nearest_ops, 0u);
  EXPECT_GT(e.measured_ops, 0u);

  // Attention was not measured at all: the roofline with the default efficiency.
  const StepOp* att = find(e, "attn.core", "fwd");
  ASSERT_NE(att, nullptr);
  EXPECT_EQ(att->time_from.rfind("roofline", 0), 0u) << att->time_from;
  EXPECT_GT(e.projected_ops, 0u);

  // With the nearest-shape distance at 0, only exact shapes are used; the rest fall back to the roofline
  // with the measured best-shape efficiency (the file's best GEMM over its quantization factor).
  a.set("nearest_shape_max_distance", 0, "test");
  const StepEstimate exact_only = estimate_step(model("llama-3-70b"), l, c, a, &measured);
  EXPECT_EQ(exact_only.nearest_ops, 0u);
  EXPECT_EQ(find(exact_only, "mlp.down", "fwd")->time_from.rfind("roofline (compute", 0), 0u);
  EXPECT_NEAR(a["gemm_efficiency"],
              std::max(up.flops() / up_s / peak / gemm_quantization_efficiency(8192, 7168, 8192, t),
                       square.flops() / square_s / peak / gemm_quantization_efficiency(8192, 8192, 8192, t)),
              1e-12);
  std::filesystem::remove(file);
}

// A results folder passed whole gives one note per chip, not one per file: the files of the chip
// projected with how many timings each holds, and another chip's files as efficiencies only.
TEST(StepModel, ResultsFilesAreNotedOncePerChip) {
  const Gemm a{8192, 7168, 8192, "tn", "bf16", "bf16"};
  const Gemm b{8192, 8192, 8192, "tn", "bf16", "bf16"};
  const auto first = h100_results_with({{a, "gemm.cublas", a.flops() / 600e12}, {b, "gemm.cublas", b.flops() / 600e12}},
                                       "trainbench-test-notes-a.json");
  const auto second = h100_results_with({{b, "gemm.wgmma", b.flops() / 610e12}}, "trainbench-test-notes-b.json");
  const std::string dir = std::filesystem::path(first).parent_path().string() + "/";
  const std::string listed = dir + "{trainbench-test-notes-a,trainbench-test-notes-b}.json";

  Assumptions same = Assumptions::defaults_for(chip("h100-sxm"));
  const MeasuredOps on_h100 = MeasuredOps::load({first, second}, chip("h100-sxm"), same);
  ASSERT_EQ(on_h100.notes.size(), 1u);
  EXPECT_EQ(on_h100.notes[0], "2 distinct ops measured on h100-sxm, usable at their exact shapes and as nearest "
                              "shapes: " + listed + " (2, 1 timings, in that order)");

  Assumptions other = Assumptions::defaults_for(chip("h200-sxm"));
  const MeasuredOps on_h200 = MeasuredOps::load({first, second}, chip("h200-sxm"), other);
  ASSERT_EQ(on_h200.notes.size(), 1u);
  EXPECT_EQ(on_h200.notes[0], "measured on h100-sxm, not on the chip projected: used for efficiencies only: " + listed);

  // One file is named as given.
  Assumptions one = Assumptions::defaults_for(chip("h200-sxm"));
  const MeasuredOps single = MeasuredOps::load({first}, chip("h200-sxm"), one);
  ASSERT_EQ(single.notes.size(), 1u);
  EXPECT_EQ(single.notes[0], "measured on h100-sxm, not on the chip projected: used for efficiencies only: " + first);
  std::filesystem::remove(first);
  std::filesystem::remove(second);
}

// The best-shape GEMM efficiency comes from well-quantized shapes: on an H200, cuBLAS ran 8192 x
// 1280 x 8192 (320 tiles of 256x128: 2.4 waves of 132, a factor of 0.81) at 81% of peak, and
// dividing by the factor would claim 100%. A poorly quantized shape counts only alone.
TEST(StepModel, BestShapeGemmEfficiencyComesFromWellQuantizedShapes) {
  const auto& c = chip("h100-sxm");
  const GemmTiling t = gemm_tiling(c, Assumptions::defaults_for(c));
  const Gemm skinny{8192, 1280, 8192, "tn", "bf16", "bf16"};
  const Gemm square{8192, 8192, 8192, "tn", "bf16", "bf16"};
  ASSERT_LT(gemm_quantization_efficiency(8192, 1280, 8192, t), 0.9);
  ASSERT_GE(gemm_quantization_efficiency(8192, 8192, 8192, t), 0.95);
  const double peak = *c.bf16_dense_tflops * 1e12;
  const auto both = h100_results_with({{skinny, "gemm.cublas", skinny.flops() / (0.81 * peak)},
                                       {square, "gemm.cublas", square.flops() / (0.78 * peak)}},
                                      "trainbench-test-best-shape.json");
  Assumptions a = Assumptions::defaults_for(c);
  MeasuredOps::load({both}, c, a);
  // The square's efficiency over its own (near 1) factor, not the skinny one's 0.81 / 0.81.
  const Results written = read_results_file(both);
  double square_s = 0;
  for (const auto& b : written.benchmarks)
    if (op_label(op_from_json(b.op, b.shape)) == op_label(Op{square})) square_s = b.median_s;
  ASSERT_GT(square_s, 0);
  EXPECT_NEAR(a["gemm_efficiency"],
              square.flops() / square_s / peak / gemm_quantization_efficiency(8192, 8192, 8192, t), 1e-12);
  EXPECT_LT(a["gemm_efficiency"], 0.9);
  // Alone, the skinny shape is all there is: divided by its factor, capped at 1.
  const auto alone = h100_results_with({{skinny, "gemm.cublas", skinny.flops() / (0.5 * peak)}},
                                       "trainbench-test-best-shape-alone.json");
  Assumptions b = Assumptions::defaults_for(c);
  MeasuredOps::load({alone}, c, b);
  EXPECT_GT(b["gemm_efficiency"], 0.5);
  EXPECT_LE(b["gemm_efficiency"], 1.0);
  std::filesystem::remove(both);
  std::filesystem::remove(alone);
}

TEST(StepModel, ScaleUpDomainComesFromTheChipSheet) {
  EXPECT_EQ(Assumptions::defaults_for(chip("gb200"))["scale_up_domain"], 72);
  EXPECT_EQ(Assumptions::defaults_for(chip("h100-sxm"))["scale_up_domain"], 8);
  EXPECT_EQ(Assumptions::defaults_for(chip("h100-pcie"))["scale_up_domain"], 2);
  // No figure for the Ascend 910B: the HGX default, said so.
  const Assumptions a = Assumptions::defaults_for(chip("ascend-910b"));
  EXPECT_EQ(a["scale_up_domain"], 8);
  EXPECT_NE(a.all().at("scale_up_domain").source.find("gives no scale_up_domain"), std::string::npos);
  // TP 8 x PP 8 on 64 GPUs: the pipeline stays on NVLink in a GB200 NVL72, not across HGX H100 boards.
  Layout l = llama70b_tp8();
  l.pp = 8, l.dp = 1;
  l.global_batch_tokens = 8.0 * 8192;
  auto pp_link = [&](const char* id) {
    const StepEstimate e = estimate_step(model("llama-3-70b"), l, chip(id), Assumptions::defaults_for(chip(id)));
    for (const auto& cm : e.comm)
      if (cm.name == "PP send/recv") return cm.link.substr(0, 8);
    return std::string("none");
  };
  EXPECT_EQ(pp_link("gb200"), "scale-up");
  EXPECT_EQ(pp_link("h100-sxm"), "scale-ou");
}

std::string layout_error(const char* model_id, Layout l, int chips) {
  try {
    validate_layout(model(model_id), l, chips);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), kExitUsage);
    return e.what();
  }
  return "";
}

TEST(StepModel, LayoutErrorsNameTheProblemAndTheChoices) {
  Layout l = llama70b_tp8();
  EXPECT_EQ(layout_error("llama-3-70b", l, 1024), "");
  EXPECT_TRUE(contains(layout_error("llama-3-70b", l, 1000), "--chips is 1000"));
  l.tp = 3, l.dp = 1;
  EXPECT_TRUE(contains(layout_error("llama-3-70b", l, 3), "does not divide llama-3-70b's 64 attention heads"));
  l = llama70b_tp8();
  l.ep = 2;
  EXPECT_TRUE(contains(layout_error("llama-3-70b", l, 1024), "has no experts"));
  l = llama70b_tp8();
  l.global_batch_tokens = 4194304 + 8192;
  EXPECT_TRUE(contains(layout_error("llama-3-70b", l, 1024), "multiple of"));
  Layout moe;
  moe.dp = 8, moe.ep = 3, moe.seq = 4096, moe.global_batch_tokens = 4096.0 * 8;
  EXPECT_TRUE(contains(layout_error("mixtral-8x7b", moe, 8), "EP 3 does not divide mixtral-8x7b's 8 experts"));
  // Model chunks: a layer each, or the embedding or the loss alone (Llama 3 405B: 16 x 8 = 126 + 2).
  Layout chunks;
  chunks.tp = 8, chunks.pp = 16, chunks.dp = 1, chunks.vpp = 8;
  chunks.seq = 8192, chunks.global_batch_tokens = 8192.0 * 16;
  EXPECT_EQ(layout_error("llama-3-405b", chunks, 128), "");
  chunks.pp = 8, chunks.vpp = 17, chunks.dp = 2;
  EXPECT_TRUE(contains(layout_error("llama-3-405b", chunks, 128), "136 model chunks, more than llama-3-405b's 126 "
                                                                   "layers plus the embedding and the loss"));
}

TEST(StepModel, ChosenLayoutFitsAndIsSaidSo) {
  const auto& c = chip("h100-sxm");
  const auto a = Assumptions::defaults_for(c);
  const LayoutChoice choice = choose_layout(model("llama-3-70b"), 1024, c, a, {});
  EXPECT_TRUE(choice.searched);
  EXPECT_FALSE(choice.reasons.empty());
  EXPECT_EQ(choice.layout.chips(), 1024);
  const StepEstimate e = estimate_step(model("llama-3-70b"), choice.layout, c, a);
  EXPECT_LE(e.memory_gb, *c.memory_gb);
  EXPECT_GT(e.mfu, 0.2);
  EXPECT_LT(e.mfu, a["gemm_efficiency"]);  // no step beats its GEMMs
  // At 128K context the search takes CP (with CP 1, Llama 3 405B on 16384 H100s has no layout: too few
  // micro-batches to fill the pipelines that would fit it in memory).
  LayoutRequest long_context;
  long_context.seq = 131072;
  const LayoutChoice chosen = choose_layout(model("llama-3-405b"), 16384, c, a, long_context);
  EXPECT_GT(chosen.layout.cp, 1);
  EXPECT_GE(chosen.layout.seq / std::uint64_t(chosen.layout.cp), 8192u);
  // Interleaving, where chosen, cuts each stage into equal chunks.
  for (const auto& [id, pick] : {std::pair{"llama-3-70b", &choice}, std::pair{"llama-3-405b", &chosen}}) {
    const std::uint64_t pp = std::uint64_t(pick->layout.pp), stage_layers = (model(id).layers + pp - 1) / pp;
    EXPECT_EQ(stage_layers % std::uint64_t(pick->layout.vpp), 0u) << id << ": " << pick->layout.describe();
  }
  long_context.cp = 1;
  EXPECT_THROW(choose_layout(model("llama-3-405b"), 16384, c, a, long_context), Error);
}

TEST(StepModel, EveryDefaultAssumptionHasASource) {
  for (const char* id : {"h100-sxm", "h20", "a100-sxm-40gb", "mi300x", "ascend-910b"}) {
    const auto a = Assumptions::defaults_for(chip(id));
    for (const auto& [name, x] : a.all()) EXPECT_FALSE(x.source.empty()) << id << " " << name;
  }
  // The H20 has no measurement of its own: H100's efficiency, said so.
  EXPECT_TRUE(contains(Assumptions::defaults_for(chip("h20")).all().at("gemm_efficiency").source, "h100-sxm"));
}

TEST(StepModel, GemmEfficiencyIsTheChipsOwnMeasurementOrANamedNeighbours) {
  const auto source = [](const char* id, const char* key) {
    return Assumptions::defaults_for(chip(id)).all().at(key).source;
  };
  // Every sheet gets its defaults (no chip id in the measurement table missing from the sheets).
  for (const ChipSpec& c : ChipTable::builtin().chips()) EXPECT_NO_THROW(Assumptions::defaults_for(c)) << c.id;
  // mamf-finder's rows, each over the chip's own spec peak: {id, BF16, FP8} (0: not measured).
  struct Row {
    const char* id;
    double bf16, fp8;
  };
  for (const Row r : {Row{"h100-sxm", 794.5, 1402.6}, Row{"h200-sxm", 0, 1453.4}, Row{"gh200-144g", 828.6, 1535.0},
                      Row{"a100-sxm-80gb", 271.2, 0}, Row{"b200", 1745, 3432.5}, Row{"b300", 1769, 3353.3},
                      Row{"gb200", 1822, 3615.6}, Row{"mi300x", 668.4, 0}, Row{"mi325x", 784.9, 0},
                      Row{"mi355x", 1565, 0}, Row{"gaudi3", 1243, 1289.5}}) {
    const ChipSpec& c = chip(r.id);
    const auto a = Assumptions::defaults_for(c);
    if (r.bf16 > 0) {
      EXPECT_NEAR(a["gemm_efficiency"], r.bf16 / *c.bf16_dense_tflops, 1e-12) << r.id;
      EXPECT_TRUE(contains(source(r.id, "gemm_efficiency"), std::string(r.id) + " BF16")) << r.id;
    }
    if (r.fp8 > 0) {
      EXPECT_NEAR(a["fp8_gemm_efficiency"], r.fp8 / *c.fp8_dense_tflops, 1e-12) << r.id;
      EXPECT_TRUE(contains(source(r.id, "fp8_gemm_efficiency"), std::string(r.id) + " FP8")) << r.id;
    } else if (r.bf16 > 0 && c.fp8_dense_tflops) {
      // Measured in BF16 only: its own BF16 efficiency stands for FP8, said so.
      EXPECT_NEAR(a["fp8_gemm_efficiency"], a["gemm_efficiency"], 1e-12) << r.id;
      EXPECT_TRUE(contains(source(r.id, "fp8_gemm_efficiency"), "no public FP8 measurement")) << r.id;
    }
  }
  // Not measured: a named neighbour's efficiency, and the source says which.
  EXPECT_TRUE(contains(source("gb300", "gemm_efficiency"), "gb200 BF16")) << source("gb300", "gemm_efficiency");
  EXPECT_TRUE(contains(source("gh200", "fp8_gemm_efficiency"), "gh200-144g FP8"));
  EXPECT_TRUE(contains(source("h200-sxm", "gemm_efficiency"), "h100-sxm BF16"));
  EXPECT_TRUE(contains(source("l40s", "gemm_efficiency"), "h100-sxm BF16"));
  EXPECT_TRUE(contains(source("l40s", "fp8_gemm_efficiency"), "h100-sxm FP8"));
  EXPECT_TRUE(contains(source("h800-sxm", "fp8_gemm_efficiency"), "h100-sxm FP8"));
}

TEST(Validation, EveryPublishedRunIsPredictedWithoutPerRowTuning) {
  const auto rows = validate_published_runs();
  EXPECT_EQ(rows.size(), 17u);
  for (const auto& r : rows) {
    EXPECT_TRUE(std::isfinite(r.error)) << r.run.id;
    EXPECT_LT(std::fabs(r.error), 0.5) << r.run.id << " predicted " << r.predicted;
    EXPECT_FALSE(r.run.source.empty()) << r.run.id;
    EXPECT_EQ(r.estimate.layout.chips(), r.run.chips) << r.run.id;
    // A run sets only mechanisms it published, and says so.
    for (const auto& [name, value] : r.run.assume) {
      EXPECT_TRUE(contains(r.run.assumed, name)) << r.run.id << " sets " << name << " without saying so";
      EXPECT_EQ(Assumptions::range_problem(name, value), "") << r.run.id << " " << name;
    }
    // The Megatron-LM rows and the Hopper-era runs (Llama 3 405B, DeepSeek-V3) stay within 20%.
    if (r.run.id.rfind("megatron", 0) == 0 || r.run.id.rfind("llama-3-405b", 0) == 0 || r.run.id == "deepseek-v3") {
      EXPECT_LE(std::fabs(r.error), 0.2) << r.run.id;
    }
  }
}

// The error a projection prints beside its answer: |error| over the rows, sign aside.
TEST(Validation, SummaryTakesTheMedianAndLargestAbsoluteError) {
  const auto rows_with = [](std::vector<double> errors) {
    std::vector<ValidationRow> rows(errors.size());
    for (std::size_t i = 0; i < errors.size(); ++i) rows[i].error = errors[i];
    return rows;
  };
  ValidationSummary s = summarize_validation(rows_with({-0.1, 0.05, 0.3, -0.2}));
  EXPECT_EQ(s.figures, 4u);
  EXPECT_EQ(s.within_20pct, 3u);  // 20% itself is within
  EXPECT_DOUBLE_EQ(s.median_abs_error, 0.15);
  EXPECT_DOUBLE_EQ(s.max_abs_error, 0.3);
  s = summarize_validation(rows_with({0.4, -0.02, 0.1}));
  EXPECT_DOUBLE_EQ(s.median_abs_error, 0.1);
  EXPECT_DOUBLE_EQ(s.max_abs_error, 0.4);
  EXPECT_EQ(summarize_validation({}).figures, 0u);
}

TEST(ProjectCommand, PrintsTheAnswerAndTheJsonKeys) {
  const auto o = testing::run_trainbench("project --model llama-3-70b --chips 1024 --tokens 15T");
  EXPECT_EQ(o.code, 0) << o.output;
  for (const char* s : {"step time", "tokens/s per chip", "MFU", "HFU", "days", "GPU-hours", "MWh", "exposed comm",
                        "gemm_efficiency", "mamf-finder", "searched", "model error", "published figures"})
    EXPECT_TRUE(contains(o.output, s)) << s << "\n" << o.output;
  const auto j = testing::run_trainbench("project --model llama-3-8b --chips 64 --tokens 1T --tp 1 --pp 1 --dp 64 --json");
  EXPECT_EQ(j.code, 0) << j.output;
  const auto doc = nlohmann::json::parse(j.output);
  for (const char* k : {"step_time_s", "tokens_per_s_per_chip", "mfu", "hfu", "days", "gpu_hours", "energy_mwh",
                        "layout", "breakdown", "assumptions", "model_error"})
    EXPECT_TRUE(doc.contains(k)) << k;
  EXPECT_EQ(doc["layout"]["dp"], 64);
  // The model error is the --validate table's, summarised.
  const ValidationSummary v = summarize_validation(validate_published_runs());
  EXPECT_EQ(doc["model_error"]["published_figures"], published_runs().size());
  EXPECT_EQ(doc["model_error"]["within_20pct"], v.within_20pct);
  EXPECT_DOUBLE_EQ(doc["model_error"]["max_abs_error"].get<double>(), v.max_abs_error);
}

TEST(ProjectCommand, UnknownNamesAndBadLayoutsExitTwoWithTheChoices) {
  auto o = testing::run_trainbench("project --model nonesuch --chips 8");
  EXPECT_EQ(o.code, 2);
  EXPECT_TRUE(contains(o.output, "llama-3-70b")) << o.output;
  o = testing::run_trainbench("project --model llama-3-70b --chips 8 --chip nonesuch");
  EXPECT_EQ(o.code, 2);
  EXPECT_TRUE(contains(o.output, "h100-sxm")) << o.output;
  o = testing::run_trainbench("project --model llama-3-70b --chips 24 --tp 3 --pp 1 --dp 8");
  EXPECT_EQ(o.code, 2);
  EXPECT_TRUE(contains(o.output, "attention heads")) << o.output;
  o = testing::run_trainbench("project --model llama-3-70b --chips 1024 --tp 8 --pp 1 --dp 64");
  EXPECT_EQ(o.code, 2);
  EXPECT_TRUE(contains(o.output, "--chips is 1024")) << o.output;
  // The H20 sheet has no scale-out bandwidth: the user is told how to give one.
  o = testing::run_trainbench("project --model llama-3-70b --chips 1024 --chip h20");
  EXPECT_EQ(o.code, 2);
  EXPECT_TRUE(contains(o.output, "--assume scale_out_gbps")) << o.output;
  o = testing::run_trainbench("project --model llama-3-70b --chips 1024 --chip h20 --assume scale_out_gbps=50");
  EXPECT_EQ(o.code, 0) << o.output;
}

// Several chips side by side: a row per chip, and in JSON each chip's object is what --chip ID alone prints.
TEST(ProjectCommand, SeveralChipsSideBySide) {
  const std::string base = "project --model llama-3-70b --chips 1024 --tokens 15T ";
  auto o = testing::run_trainbench(base + "--chip h100-sxm,h200-sxm,b200");
  EXPECT_EQ(o.code, 0) << o.output;
  for (const char* s : {"h100-sxm", "h200-sxm", "b200", "step (s)", "GPU-hours", "vs first", "1.00x"})
    EXPECT_TRUE(contains(o.output, s)) << s << "\n" << o.output;
  const auto both = testing::run_trainbench(base + "--chip b200,h100-sxm --json");
  const auto one = testing::run_trainbench(base + "--chip h100-sxm --json");
  ASSERT_EQ(both.code, 0) << both.output;
  ASSERT_EQ(one.code, 0) << one.output;
  // The table's layout column is the layout each chip's own projection chose.
  const auto h100 = nlohmann::json::parse(one.output).at("layout");
  const std::string layout = fmt::format("TP{} PP{}{} DP{}", h100.at("tp").get<int>(), h100.at("pp").get<int>(),
                                         h100.at("vpp").get<int>() > 1 ? fmt::format("x{}", h100.at("vpp").get<int>()) : "",
                                         h100.at("dp").get<int>());
  EXPECT_TRUE(contains(o.output, "  h100-sxm ") && contains(o.output, layout)) << layout << "\n" << o.output;
  const auto doc = nlohmann::json::parse(both.output);
  ASSERT_EQ(doc["projections"].size(), 2u);
  EXPECT_EQ(doc["projections"][0]["chip"], "b200");
  EXPECT_EQ(doc["projections"][1], nlohmann::json::parse(one.output));
  for (const auto& [chips, says] : std::vector<std::pair<std::string, std::string>>{
           {"h100-sxm,,b200", "empty chip name"}, {"b200,b200", "names b200 twice"}, {"b200,nonesuch", "h100-sxm"},
           {"b200,mi300x", "mi300x: "}}) {  // the MI300X sheet has no scale-out bandwidth: the row's chip is named
    o = testing::run_trainbench(base + "--chip " + chips);
    EXPECT_EQ(o.code, 2) << chips;
    EXPECT_TRUE(contains(o.output, says)) << chips << "\n" << o.output;
  }
}

TEST(ProjectCommand, ValidateAndListWork) {
  auto o = testing::run_trainbench("project --validate");
  EXPECT_EQ(o.code, 0) << o.output;
  for (const char* s : {"Megatron-LM 2021", "BLOOM", "OPT", "GLM-130B", "llama-2-70b", "Llama 3 405B", "DeepSeek-V3",
                        "within 20%"})
    EXPECT_TRUE(contains(o.output, s)) << s;
  o = testing::run_trainbench("list");
  EXPECT_TRUE(contains(o.output, "deepseek-v3")) << o.output;
}

}  // namespace
}  // namespace trainbench
