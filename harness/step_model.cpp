#include "harness/step_model.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <limits>

#include <fmt/format.h>

#include "harness/error.hpp"
#include "harness/suggest.hpp"

namespace trainbench {
namespace {

constexpr const char* kMamfFinder =
    "mamf-finder (https://github.com/stas00/ml-engineering/tree/master/compute/accelerator, 'Maximum Achievable "
    "Matmul FLOPS' table: best-shape mean of torch.mm)";

// Best-shape matmul throughput measured by mamf-finder, TFLOP/s; the efficiency is this over the
// chip's own spec peak in harness/data/chips.json. The table's rows as of its late-2025 revision
// (B300 at torch 2.9.1+cu130, MI355X at ROCm 7.0.2); its H100 row says the H200 is the same in BF16.
struct MatmulMeasurement {
  const char* chip;
  double bf16_tflops, fp8_tflops;  // 0: not measured
};
constexpr MatmulMeasurement kMamf[] = {
    {"h100-sxm", 794.5, 1402.6}, {"h200-sxm", 0, 1453.4},   {"gh200-144g", 828.6, 1535.0}, {"a100-sxm-80gb", 271.2, 0},
    {"b200", 1745, 3432.5},      {"b300", 1769, 3353.3},    {"gb200", 1822, 3615.6},       {"mi300x", 668.4, 0},
    {"mi325x", 784.9, 0},        {"mi355x", 1565, 0},       {"gaudi3", 1243, 1289.5},
};
// Chips with no measurement of their own borrow the nearest measured one's efficiency: the 96 GB
// GH200 the 144 GB one's (the table's GH200 has 141 GiB of HBM3e; same die and peak), the GB300
// the GB200's (the Grace-Blackwell board it succeeds), the A100s the A100 SXM's, the rest the H100's.
const char* nearest_measured(const std::string& chip) {
  if (chip.rfind("a100", 0) == 0) return "a100-sxm-80gb";
  if (chip.rfind("gh200", 0) == 0) return "gh200-144g";
  if (chip == "gb300") return "gb200";
  return "h100-sxm";
}

std::uint64_t ceil_div(std::uint64_t a, std::uint64_t b) { return (a + b - 1) / b; }

// A chip's GEMM efficiency in one precision: its own mamf-finder measurement where there is one;
// for FP8 on a chip measured in BF16 only, its own BF16 efficiency (the same chip and software
// stack: the H100's FP8 efficiency would put the AMD parts' FP8 above their own BF16); else the
// nearest measured chip's.
void efficiency_from_mamf(Assumptions& a, const ChipSpec& chip, bool fp8) {
  const char* key = fp8 ? "fp8_gemm_efficiency" : "gemm_efficiency";
  const auto measured = [](const std::string& id, bool in_fp8) -> double {
    for (const auto& m : kMamf)
      if (id == m.chip) return in_fp8 ? m.fp8_tflops : m.bf16_tflops;
    return 0;
  };
  const auto peak_of = [](const ChipSpec& c, bool in_fp8) { return in_fp8 ? c.fp8_dense_tflops : c.bf16_dense_tflops; };
  const char* precision = fp8 ? "FP8" : "BF16";
  std::string id = chip.id;
  bool in_fp8 = fp8;
  std::string borrowed;
  if (measured(id, fp8) == 0 || !peak_of(chip, fp8)) {
    if (fp8 && measured(id, false) > 0 && chip.bf16_dense_tflops) {
      in_fp8 = false;
      borrowed = fmt::format("; {} has no public FP8 measurement, so its own BF16 efficiency is assumed", chip.id);
    } else {
      id = nearest_measured(chip.id);
      if (measured(id, fp8) == 0) id = "h100-sxm";
      borrowed = fmt::format("; {} has no public {} measurement, so {}'s efficiency is assumed", chip.id, precision, id);
    }
  }
  const ChipSpec& ref = ChipTable::builtin().by_id(id);
  const double tf = measured(id, in_fp8);
  const double eff = tf / *peak_of(ref, in_fp8);
  a.set(key, eff,
        fmt::format("{}: {} {} {:g} TFLOP/s = {:.1f}% of its {:g} TFLOP/s spec{}", kMamfFinder, ref.id,
                    in_fp8 ? "FP8" : "BF16", tf, 100 * eff, *peak_of(ref, in_fp8), borrowed));
}

}  // namespace

const char* recompute_name(Recompute r) {
  switch (r) {
    case Recompute::None: return "none";
    case Recompute::Selective: return "selective";
    case Recompute::Full: return "full";
  }
  return "?";
}

Recompute recompute_from_name(const std::string& name) {
  if (name == "none") return Recompute::None;
  if (name == "selective") return Recompute::Selective;
  if (name == "full") return Recompute::Full;
  throw Error(fmt::format("recompute \"{}\" is not one of none, selective, full", name));
}

std::uint64_t Layout::micro_batches() const {
  const double per_rank = global_batch_tokens / double(seq) / double(dp) / double(micro_batch);
  return per_rank < 1 ? 0 : static_cast<std::uint64_t>(std::llround(per_rank));
}

std::string Layout::describe() const {
  return fmt::format("TP{} PP{}{} DP{} EP{} CP{}, seq {}, micro-batch {}, global batch {:.0f} tokens ({} "
                     "micro-batches per replica), recompute {}, ZeRO-{}, {} GEMMs, {} attention{}",
                     tp, pp, vpp > 1 ? fmt::format(" (x{} interleaved)", vpp) : "", dp, ep, cp, seq, micro_batch,
                     global_batch_tokens, micro_batches(), recompute_name(recompute), zero_stage, precision, attention,
                     tp > 1 ? (sequence_parallel ? ", sequence parallel" : ", no sequence parallel") : "");
}

// ---- assumptions ---------------------------------------------------------------------------

Assumptions Assumptions::defaults_for(const ChipSpec& chip) {
  Assumptions a;
  efficiency_from_mamf(a, chip, false);
  if (chip.fp8_dense_tflops) efficiency_from_mamf(a, chip, true);
  a.set("attention_fwd_efficiency", 0.73,
        "FlashAttention-2 (Dao 2023, arXiv 2307.08691) abstract: '50-73% of the theoretical maximum FLOPs/s on "
        "A100'; the top of the range taken for the forward");
  a.set("attention_bwd_efficiency", 0.50,
        "FlashAttention-2 (arXiv 2307.08691) abstract: '50-73%' on A100; the bottom of the range taken for the "
        "backward, the slower pass");
  a.set("memory_efficiency", 0.88,
        "https://forums.developer.nvidia.com/t/trouble-to-reach-peak-bandwidth-of-a100/339083: a read kernel "
        "reached 1.80 of 2.04 TB/s on A100 80GB SXM (88%, Nsight Compute agrees); the thread cites a GTC talk "
        "where the best kernel reached about 90%");
  if (chip.scale_up_gbps)
    a.set("scale_up_gbps", *chip.scale_up_gbps / 2,
          fmt::format("chips.json {} scale_up_gbps {:g} (bidirectional) / 2: {}", chip.id, *chip.scale_up_gbps,
                      chip.sources.count("scale_up_gbps") ? chip.sources.at("scale_up_gbps") : "no source"));
  if (chip.scale_out_gbps)
    a.set("scale_out_gbps", *chip.scale_out_gbps,
          fmt::format("chips.json {} scale_out_gbps (per GPU, per direction): {}", chip.id,
                      chip.sources.count("scale_out_gbps") ? chip.sources.at("scale_out_gbps") : "no source"));
  constexpr const char* kCalculon =
      "Calculon (Isaev et al. SC'23) system file https://github.com/calculon-ai/calculon/blob/main/systems/"
      "a100_80g.json, validated against Korthikanti et al. 2022 iteration times";
  a.set("scale_up_efficiency", 0.6, fmt::format("{}: NVLink network 'efficiency': 0.6", kCalculon));
  a.set("scale_out_efficiency", 0.9, fmt::format("{}: InfiniBand network 'efficiency': 0.9", kCalculon));
  a.set("scale_up_latency_s", 1e-6, fmt::format("{}: NVLink 'latency': 0.000001", kCalculon));
  a.set("scale_out_latency_s", 2e-6, fmt::format("{}: InfiniBand 'latency': 0.000002", kCalculon));
  if (chip.scale_up_domain)
    a.set("scale_up_domain", *chip.scale_up_domain,
          fmt::format("chips.json {} scale_up_domain: {}", chip.id,
                      chip.sources.count("scale_up_domain") ? chip.sources.at("scale_up_domain") : "no source"));
  else
    a.set("scale_up_domain", 8,
          fmt::format("chips.json gives no scale_up_domain for {}: 8, the DGX/HGX baseboard's (https://docs.nvidia.com/"
                      "dgx-basepod/reference-architecture-infrastructure-foundation-enterprise-ai/latest/"
                      "core-components.html)",
                      chip.id));
  constexpr const char* kMatmulGuide =
      "NVIDIA Matrix Multiplication Background User's Guide (https://docs.nvidia.com/deeplearning/performance/"
      "dl-performance-matrix-multiplication/index.html), 'Dimension Quantization Effects'";
  a.set("gemm_tile_long", 256,
        fmt::format("{}: its tile and wave quantization examples use the 256x128 tile cuBLAS picks for large GEMMs "
                    "(also gemm.wgmma's 128x256)",
                    kMatmulGuide));
  a.set("gemm_tile_short", 128, fmt::format("{}: the 256x128 tile", kMatmulGuide));
  a.set("gemm_min_split_k", 512,
        "trainbench's choice: split-K (cuBLAS) or stream-K (CUTLASS) fills the SMs when the tiles alone do not, "
        "down to slices of 512 (eight 64-deep pipeline stages; shorter slices spend more in prologue, epilogue and "
        "the reduction than the split gains)");
  a.set("gemm_shape_model", 1,
        fmt::format("1: GEMM efficiency = best-shape efficiency x the shape's tile and wave quantization factor "
                    "(harness/gemm_efficiency.hpp, after {}); 0: best-shape efficiency for every shape",
                    kMatmulGuide));
  a.set("gemm_best_shape_min_factor", 0.95,
        "trainbench's choice, from an H200 run (results/h200-sxm/model-llama-3-70b.json): a measured GEMM's "
        "efficiency over its quantization factor stands for the best-shape efficiency only where the factor is at "
        "least this; there cuBLAS's 8192x1280x8192 ran at 81.0% of peak while the model counts its waves 81% full, "
        "and dividing gave 100%, which no chip reaches (cuBLAS picks other tiles or stream-K where the model's "
        "256x128 tiles quantize badly). Shapes under it count only when no measured shape reaches it");
  a.set("nearest_shape_max_distance", 3,
        "trainbench's choice: an op not measured at its shape takes the nearest measured shape's efficiency when the "
        "two differ by at most 3 in sum |log2 ratio| over the dimensions (8x in one, or 2x in each of three); "
        "farther ones use the roofline with the best measured efficiency");
  a.set("tp_overlap", 0,
        "TP collectives on the critical path, as in Megatron-LM (Narayanan et al. 2021 arXiv 2104.04473 §3.3; "
        "Korthikanti et al. 2022 arXiv 2205.05198 §4.2.2); --tp-comm-overlap is not on by default. Above 0, that "
        "fraction hides behind the layers' GEMMs, up to their time");
  a.set("dp_overlap", 1,
        "DP reduce-scatter/all-gather overlapped with the last micro-batch's backward and the next step's first "
        "forward (Megatron-LM --overlap-grad-reduce --overlap-param-gather, https://github.com/NVIDIA/Megatron-LM/"
        "blob/main/megatron/core/distributed/README.md); what does not fit that window is exposed");
  a.set("ep_overlap", 0,
        "EP all-to-all not overlapped (Megatron-LM's alltoall token dispatcher default); DeepSeek-V3's DualPipe "
        "hides it fully (arXiv 2412.19437 §3.2.1): set ep_overlap=1 for that");
  a.set("ep_dispatch_bytes", 2,
        "bytes per element of the tokens an EP all-to-all sends toward the experts (the forward's dispatch, the "
        "backward's gradient before the down-projection): BF16, as Megatron-LM's alltoall token dispatcher sends "
        "them; DeepSeek-V3 sends both in FP8 (arXiv 2412.19437 §3.3.3): 1 for that. Combines stay BF16");
  a.set("ep_node_limit", 0,
        "0: a token sends one copy per routed expert over the EP link; M > 0: where the EP group crosses scale-up "
        "domains, a token reaches experts on at most M of them and crosses the scale-out link once per domain, the "
        "copies inside a domain forwarded over its scale-up links (DeepSeek-V3's node-limited routing, M = 4, arXiv "
        "2412.19437 §2.1.2, §3.2.2, §4.2)");
  a.set("cp_overlap", 1,
        "ring attention passes K/V blocks while computing on the previous ones (Liu et al. 2023 arXiv 2310.01889 "
        "§3); hidden up to the attention compute time");
  a.set("pp_overlap", 0,
        "pipeline send/recv on the critical path (Narayanan et al. 2021 arXiv 2104.04473 §2.2); above 0, that "
        "fraction hides behind a micro-batch's compute, as asynchronous send/recv and DeepSeek-V3's DualPipe do");
  a.set("elementwise_bwd_factor", 2,
        "backward of an element-wise op reads the saved input and the incoming gradient and writes one gradient: "
        "twice the forward's traffic (counted, not measured)");
  a.set("adam_bytes_per_param", 28,
        "mixed-precision Adam step: read bf16 grad (2) + fp32 master, m, v (12), write fp32 master, m, v (12) + "
        "bf16 weight (2); states per ZeRO (Rajbhandari et al. 2020 arXiv 1910.02054 §3.1)");
  a.set("dp_grad_bytes", 2,
        "gradients reduced in bf16: Megatron-LM DistributedDataParallelConfig grad_reduce_in_fp32 defaults to "
        "False (https://github.com/NVIDIA/Megatron-LM/blob/main/megatron/core/distributed/"
        "distributed_data_parallel_config.py)");
  a.set("state_bytes_per_param", 16,
        "bf16 weight (2) + bf16 grad (2) + fp32 master, m, v (12) per parameter, the last three sharded over DP "
        "from ZeRO-1 (Rajbhandari et al. 2020 arXiv 1910.02054 §3.1)");
  a.set("goodput", 0.9,
        "fraction of wall-clock time spent in training steps (the rest: failures, restarts, checkpoints, evaluation): "
        "Llama 3 (Dubey et al. 2024, arXiv 2407.21783 §3.3.4) reports 'higher than 90% effective training time' "
        "over 466 interruptions in 54 days on 16K H100s; days and GPU-hours divide by it, step time and MFU do not");
  a.set("default_global_batch_tokens", 4194304,
        "when the model file gives no global batch: 4M tokens, Llama 2's (arXiv 2307.09288 §2.2)");
  return a;
}

double Assumptions::operator[](const std::string& name) const {
  const auto it = items_.find(name);
  if (it == items_.end()) {
    std::vector<std::string> names;
    for (const auto& [k, v] : items_) names.push_back(k);
    throw Error(
        fmt::format("no assumption \"{}\"{}; known: {}", name, did_you_mean(name, names), fmt::join(names, ", ")));
  }
  return it->second.value;
}

void Assumptions::set(const std::string& name, double value, const std::string& source) {
  items_[name] = Assumption{value, source};
}

namespace {
bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}
}  // namespace

std::string Assumptions::range_problem(const std::string& name, double v) {
  if (!std::isfinite(v)) return fmt::format("{} must be a finite number, not {}", name, v);
  if (ends_with(name, "_efficiency") || name == "goodput" || name == "gemm_best_shape_min_factor")
    return v > 0 && v <= 1 ? "" : fmt::format("{} is a fraction in (0, 1], not {:g}", name, v);
  if (ends_with(name, "_overlap"))
    return v >= 0 && v <= 1 ? "" : fmt::format("{} is a fraction in [0, 1] (0: exposed, 1: hidden), not {:g}", name, v);
  if (name == "gemm_shape_model")
    return v == 0 || v == 1 ? "" : fmt::format("{} is 0 (best-shape efficiency) or 1 (tile and wave model), not {:g}",
                                               name, v);
  if (name == "scale_up_domain" || name == "gemm_tile_long" || name == "gemm_tile_short" ||
      name == "gemm_min_split_k" || name == "default_global_batch_tokens")
    return v >= 1 && v == std::floor(v) && v <= 1e15 ? ""
                                                     : fmt::format("{} is a whole number from 1 (to 1e15), not {:g}",
                                                                   name, v);
  if (name == "ep_node_limit")
    return v >= 0 && v == std::floor(v) && v <= 1e6 ? ""
                                                    : fmt::format("{} is 0 (no limit) or a whole number of scale-up "
                                                                  "domains, not {:g}",
                                                                  name, v);
  if (ends_with(name, "_latency_s") || name == "nearest_shape_max_distance")
    return v >= 0 ? "" : fmt::format("{} must be 0 or more, not {:g}", name, v);
  return v > 0 ? "" : fmt::format("{} must be positive, not {:g}", name, v);
}

// ---- measured ops ------------------------------------------------------------------------------

namespace {
std::string op_key(const Op& op) { return op_family(op) + "/" + op_label(op); }
}  // namespace

GemmTiling gemm_tiling(const ChipSpec& chip, const Assumptions& a) {
  GemmTiling t;
  t.tile_long = a["gemm_tile_long"];
  t.tile_short = a["gemm_tile_short"];
  t.min_split_k = a["gemm_min_split_k"];
  t.sms = chip.sm_count.value_or(0);
  return t;
}

namespace {
double gemm_factor(std::uint64_t m, std::uint64_t n, std::uint64_t k, const ChipSpec& chip, const Assumptions& a) {
  return a["gemm_shape_model"] != 0 ? gemm_quantization_efficiency(m, n, k, gemm_tiling(chip, a)) : 1.0;
}

double log2_ratio(double a, double b) { return std::fabs(std::log2(a / b)); }

// m, n, k of a Gemm or ScaledGemm.
std::array<std::uint64_t, 3> gemm_dims(const Op& op) {
  if (const auto* g = std::get_if<Gemm>(&op)) return {g->m, g->n, g->k};
  const auto& sg = std::get<ScaledGemm>(op);
  return {sg.m, sg.n, sg.k};
}

// Sum of |log2| ratios of m, n and k between two GEMMs (Gemm or ScaledGemm).
double gemm_distance(const Op& a, const Op& b) {
  const auto x = gemm_dims(a), y = gemm_dims(b);
  double d = 0;
  for (int i = 0; i < 3; ++i) d += log2_ratio(double(x[i]), double(y[i]));
  return d;
}

// "results/h200-sxm/{attention,fp8}.json" when the files share a folder and an extension, else the paths as given.
std::string list_files(const std::vector<std::string>& paths) {
  if (paths.size() == 1) return paths.front();
  const std::filesystem::path first(paths.front());
  std::vector<std::string> stems;
  for (const auto& p : paths) {
    const std::filesystem::path path(p);
    if (path.parent_path() != first.parent_path() || path.extension() != first.extension())
      return fmt::format("{}", fmt::join(paths, ", "));
    stems.push_back(path.stem().string());
  }
  const std::string dir = first.parent_path().string();
  return fmt::format("{}{{{}}}{}", dir.empty() ? "" : dir + "/", fmt::join(stems, ","), first.extension().string());
}
}  // namespace

MeasuredOps MeasuredOps::load(const std::vector<std::string>& files, const ChipSpec& chip, Assumptions& assumptions) {
  MeasuredOps m;
  struct Best {
    double eff = 0;
    bool well_quantized = false;  // a GEMM shape at or above gemm_best_shape_min_factor (or no GEMM)
    std::string source;
  };
  std::map<std::string, Best> best;  // assumption name -> best efficiency seen
  std::map<std::string, std::size_t> point_of;  // op key -> index in points_
  std::map<std::string, std::vector<std::string>> foreign;  // another chip -> its files
  std::vector<std::string> own;  // files measured on the chip projected
  std::vector<std::size_t> own_used;
  for (const auto& file : files) {
    const Results r = read_results_file(file);
    const std::string file_chip = r.context.chip ? r.context.chip->id : "";
    const bool same_chip = file_chip == chip.id;
    const ChipSpec* spec = nullptr;
    if (!file_chip.empty()) {
      for (const auto& c : ChipTable::builtin().chips())
        if (c.id == file_chip) spec = &c;
    }
    std::size_t used = 0;
    for (const auto& b : r.benchmarks) {
      // Accuracy runs (fp8-accuracy) are timed too, but on inputs chosen for their error, not their speed.
      if (!b.timed || !b.verified || b.accuracy || b.median_s <= 0) continue;
      Op op;
      try {
        op = op_from_json(b.op, b.shape);
      } catch (const Error&) {
        continue;
      }
      // Achieved FLOP/s over the file chip's peak for the op's input type.
      double eff = 0;
      if (spec) {
        std::optional<double> peak;
        if (const auto* g = std::get_if<Gemm>(&op))
          peak = g->dtype == "bf16" ? spec->bf16_dense_tflops : std::nullopt;
        else if (const auto* sg = std::get_if<ScaledGemm>(&op))
          peak = sg->dtype == "e4m3" ? spec->fp8_dense_tflops : spec->int8_dense_tops;
        else if (std::holds_alternative<Attention>(op))
          peak = spec->bf16_dense_tflops;
        if (peak && *peak > 0) eff = op_flops(op) / b.median_s / (*peak * 1e12);
      }
      // Faster than the spec sheet allows: not a measurement (a clock above boost gives a few
      // percent at most), and any projection from it would be fiction.
      if (eff > 1.05)
        throw Error(fmt::format("{}: {} ran at {:.0f}% of {}'s spec-sheet peak, which no chip does: the file's times "
                                "or its chip are wrong",
                                file, b.name, 100 * eff, file_chip));
      if (same_chip) {
        const std::string key = op_key(op);
        auto it = m.by_key_.find(key);
        if (it == m.by_key_.end() || b.median_s < it->second.median_s) {
          m.by_key_[key] = Hit{b.median_s, b.impl, file};
          if (eff > 0) {
            const auto p = point_of.find(key);
            Neighbour n{op, eff, 0, b.impl, file};
            if (p == point_of.end()) {
              point_of[key] = m.points_.size();
              m.points_.push_back(std::move(n));
            } else {
              m.points_[p->second] = std::move(n);
            }
          }
        }
        ++used;
      }
      std::string name;
      double best_shape_eff = eff;
      if (const auto* g = std::get_if<Gemm>(&op)) {
        name = g->dtype == "bf16" ? "gemm_efficiency" : "";
      } else if (const auto* sg = std::get_if<ScaledGemm>(&op)) {
        // Fine-grained scales, as the step model's FP8 GEMMs use (DeepSeek-V3's recipe).
        name = sg->dtype == "e4m3" && sg->a_scale == "1x128" && sg->b_scale == "128x128" ? "fp8_gemm_efficiency" : "";
      } else if (const auto* at = std::get_if<Attention>(&op)) {
        name = "attention_" + at->pass + "_efficiency";
      } else if (std::holds_alternative<Copy>(op) && b.pct_of_peak) {
        name = "memory_efficiency";
        best_shape_eff = *b.pct_of_peak / 100;
      }
      bool well_quantized = true;
      if (spec && (std::holds_alternative<Gemm>(op) || std::holds_alternative<ScaledGemm>(op))) {
        const auto dims = gemm_dims(op);
        const double factor = gemm_factor(dims[0], dims[1], dims[2], *spec, assumptions);
        best_shape_eff = std::min(1.0, eff / factor);
        well_quantized = factor >= assumptions["gemm_best_shape_min_factor"];
      }
      if (name.empty() || best_shape_eff <= 0) continue;
      // A well-quantized shape beats any other; among shapes of the same kind, the higher efficiency.
      const Best& held = best[name];
      if (held.eff <= 0 || (well_quantized && !held.well_quantized) ||
          (well_quantized == held.well_quantized && best_shape_eff > held.eff))
        best[name] = {best_shape_eff, well_quantized,
                      fmt::format("measured: best {} in {} ({} {}, chip {}) at {:.1f}% of its spec peak{}", b.op, file,
                                  b.impl, op_label(op), file_chip.empty() ? "unknown" : file_chip, 100 * eff,
                                  best_shape_eff != eff ? fmt::format(", {:.1f}% once its shape's tile and wave "
                                                                      "quantization is divided out",
                                                                      100 * best_shape_eff)
                                                        : "")};
    }
    if (same_chip) {
      own.push_back(file);
      own_used.push_back(used);
    } else
      foreign[file_chip.empty() ? "an unknown chip" : file_chip].push_back(file);
  }
  // One line per chip, however many of its files were given (a results folder is usually passed whole).
  if (!own.empty()) {
    m.notes.push_back(fmt::format("{} distinct ops measured on {}, usable at their exact shapes and as nearest "
                                  "shapes: {} ({} timings{})",
                                  m.by_key_.size(), chip.id, list_files(own), fmt::join(own_used, ", "),
                                  own.size() > 1 ? ", in that order" : ""));
  }
  for (const auto& [other, paths] : foreign)
    m.notes.push_back(fmt::format("measured on {}, not on the chip projected: used for efficiencies only: {}", other,
                                  list_files(paths)));
  for (const auto& [name, b] : best) assumptions.set(name, b.eff, b.source);
  return m;
}

const MeasuredOps::Hit* MeasuredOps::find(const Op& op) const {
  const auto it = by_key_.find(op_key(op));
  return it == by_key_.end() ? nullptr : &it->second;
}

std::optional<MeasuredOps::Neighbour> MeasuredOps::nearest(const Op& op, double max_distance) const {
  std::optional<Neighbour> found;
  for (const auto& p : points_) {
    double d = -1;
    if (const auto* g = std::get_if<Gemm>(&op)) {
      const auto* q = std::get_if<Gemm>(&p.op);
      if (!q || q->dtype != g->dtype || !g->m || !g->n || !g->k) continue;
      d = gemm_distance(op, p.op) + (q->layout == g->layout ? 0 : 1);
    } else if (const auto* sg = std::get_if<ScaledGemm>(&op)) {
      const auto* q = std::get_if<ScaledGemm>(&p.op);
      if (!q || q->dtype != sg->dtype || q->a_scale != sg->a_scale || q->b_scale != sg->b_scale || !sg->m || !sg->n ||
          !sg->k)
        continue;
      d = gemm_distance(op, p.op);
    } else if (const auto* at = std::get_if<Attention>(&op)) {
      const auto* q = std::get_if<Attention>(&p.op);
      if (!q || q->pass != at->pass || q->causal != at->causal || q->head_dim != at->head_dim || !at->seq_q ||
          !at->seq_kv)
        continue;
      d = log2_ratio(double(at->seq_q), double(q->seq_q)) + log2_ratio(double(at->seq_kv), double(q->seq_kv)) +
          log2_ratio(double(at->batch * at->heads_q), double(q->batch * q->heads_q));
    }
    if (d < 0 || d > max_distance) continue;
    if (!found || d < found->distance) {
      found = p;
      found->distance = d;
    }
  }
  return found;
}

// ---- layout checks ---------------------------------------------------------------------------

void validate_layout(const ModelSpec& m, const Layout& l, int chips) {
  auto fail = [](const std::string& what) { throw Error(what); };
  if (l.tp < 1 || l.pp < 1 || l.dp < 1 || l.ep < 1 || l.cp < 1 || l.vpp < 1 || l.micro_batch < 1 || l.seq < 1)
    fail("every layout size (TP, PP, DP, EP, CP, micro-batch, seq) must be at least 1");
  if (l.chips() != chips)
    fail(fmt::format("TP x PP x DP x CP = {} x {} x {} x {} = {} GPUs, but --chips is {}: choose sizes whose "
                     "product is {}",
                     l.tp, l.pp, l.dp, l.cp, l.chips(), chips, chips));
  if (m.heads % l.tp)
    fail(fmt::format("TP {} does not divide {}'s {} attention heads: use a TP that divides {}", l.tp, m.id, m.heads,
                     m.heads));
  if (m.kv_heads % l.tp && l.tp % m.kv_heads)
    fail(fmt::format("TP {} and {}'s {} key/value heads: TP must divide them or be a multiple of them", l.tp, m.id,
                     m.kv_heads));
  if (m.dense_layers() > 0 && m.ffn_hidden % l.tp)
    fail(fmt::format("TP {} does not divide {}'s FFN width {}", l.tp, m.id, m.ffn_hidden));
  if (m.moe) {
    if (m.moe->experts % l.ep)
      fail(fmt::format("EP {} does not divide {}'s {} experts: use a divisor of {}", l.ep, m.id, m.moe->experts,
                       m.moe->experts));
    if ((l.dp * l.cp) % l.ep)
      fail(fmt::format("EP {} must divide DP x CP = {} (experts are spread over data-parallel ranks)", l.ep,
                       l.dp * l.cp));
    if (l.ep == 1 && m.moe->expert_ffn_hidden % l.tp)
      fail(fmt::format("TP {} does not divide the expert FFN width {}", l.tp, m.moe->expert_ffn_hidden));
  } else if (l.ep != 1) {
    fail(fmt::format("EP {} given, but {} has no experts: use EP 1", l.ep, m.id));
  }
  // A model chunk holds at least one layer, or the embedding or the loss alone: Llama 3 405B ran 128 chunks over
  // its 126 layers (arXiv 2407.21783 §3.3.2; Megatron-LM's --account-for-embedding-in-pipeline-split and
  // --account-for-loss-in-pipeline-split).
  if (std::uint64_t(l.pp) * std::uint64_t(l.vpp) > m.layers + 2)
    fail(fmt::format("PP {} x interleaving {} = {} model chunks, more than {}'s {} layers plus the embedding and the "
                     "loss: use at most {} chunks",
                     l.pp, l.vpp, l.pp * l.vpp, m.id, m.layers, m.layers + 2));
  if (l.seq % l.cp) fail(fmt::format("CP {} does not divide the sequence length {}", l.cp, l.seq));
  if (l.cp > 1 && l.attention != "flash") fail("context parallelism needs the fused (flash) attention");
  if (l.tp > 1 && l.sequence_parallel && (l.micro_batch * l.seq / l.cp) % l.tp)
    fail(fmt::format("sequence parallelism needs TP {} to divide the {} tokens of a micro-batch", l.tp,
                     l.micro_batch * l.seq / l.cp));
  if (l.zero_stage < 0 || l.zero_stage > 3) fail(fmt::format("ZeRO stage {} is not 0, 1, 2 or 3", l.zero_stage));
  if (l.precision != "bf16" && l.precision != "fp8")
    fail(fmt::format("precision \"{}\" is not bf16 or fp8", l.precision));
  if (l.attention != "flash" && l.attention != "unfused")
    fail(fmt::format("attention \"{}\" is not flash or unfused", l.attention));
  const double sequences = l.global_batch_tokens / double(l.seq);
  const double per_step = double(l.dp) * double(l.micro_batch);
  if (sequences < 1 || std::fabs(sequences - std::round(sequences)) > 1e-6 ||
      std::fmod(std::round(sequences), per_step) != 0)
    fail(fmt::format("global batch {:.0f} tokens is not a whole number of micro-batches: it must be a multiple of "
                     "seq x micro-batch x DP = {} x {} x {} = {:.0f} tokens (e.g. {:.0f})",
                     l.global_batch_tokens, l.seq, l.micro_batch, l.dp, per_step * double(l.seq),
                     std::max(1.0, std::round(sequences / per_step)) * per_step * double(l.seq)));
}

// ---- the step --------------------------------------------------------------------------------

namespace {

struct Builder {
  const ModelSpec& m;
  const Layout& l;
  const ChipSpec& chip;
  const Assumptions& a;
  const MeasuredOps* measured;
  std::uint64_t micro_batches;
  std::vector<StepOp> ops;

  void time(StepOp& s) const {
    if (s.op && measured) {
      if (const auto* hit = measured->find(*s.op)) {
        s.time_s = hit->median_s;
        s.time_from = fmt::format("measured: {} in {}", hit->impl, hit->file);
        return;
      }
    }
    double peak = 0, eff = 1;
    std::string how;
    if (s.op) {
      const auto near = measured ? measured->nearest(*s.op, a["nearest_shape_max_distance"]) : std::nullopt;
      // A GEMM (BF16, or FP8 with fine-grained scales): the nearest measured shape's efficiency, or the
      // best-shape one, times the quantization factors of the shapes.
      auto gemm = [&](std::uint64_t m_, std::uint64_t n_, std::uint64_t k_, double chip_peak, const char* best_shape) {
        peak = chip_peak;
        const double factor = gemm_factor(m_, n_, k_, chip, a);
        if (near) {
          const auto dims = gemm_dims(near->op);
          const double theirs = gemm_factor(dims[0], dims[1], dims[2], chip, a);
          eff = std::min(1.0, near->efficiency * factor / theirs);
          how = fmt::format("nearest measured: {} at {} in {}, {:.1f}% of peak x quantization {:.2f}/{:.2f}",
                            near->impl, op_label(near->op), near->file, 100 * near->efficiency, factor, theirs);
        } else {
          eff = a[best_shape] * factor;
          if (factor < 1) how = fmt::format("quantization {:.2f}", factor);
        }
      };
      if (const auto* g = std::get_if<Gemm>(&*s.op)) {
        gemm(g->m, g->n, g->k, chip.bf16_dense_tflops.value_or(0), "gemm_efficiency");
      } else if (const auto* sg = std::get_if<ScaledGemm>(&*s.op)) {
        gemm(sg->m, sg->n, sg->k, chip.fp8_dense_tflops.value_or(0), "fp8_gemm_efficiency");
      } else if (const auto* at = std::get_if<Attention>(&*s.op)) {
        peak = chip.bf16_dense_tflops.value_or(0);
        if (near) {
          eff = near->efficiency;
          how = fmt::format("nearest measured: {} at {} in {}, {:.1f}% of peak", near->impl, op_label(near->op),
                            near->file, 100 * near->efficiency);
        } else {
          eff = a["attention_" + at->pass + "_efficiency"];
        }
      }
    }
    const double t_compute = s.flops > 0 ? s.flops / (peak * 1e12 * eff) : 0;
    const double t_memory = s.bytes / (*chip.hbm_tbps * 1e12 * a["memory_efficiency"]);
    s.time_s = std::max(t_compute, t_memory);
    if (how.rfind("nearest", 0) == 0)
      s.time_from = how + (t_compute >= t_memory ? "" : "; memory-bound at this shape (roofline)");
    else
      s.time_from = std::string(t_compute >= t_memory ? "roofline (compute" : "roofline (memory") +
                    (how.empty() ? ")" : ", " + how + ")");
  }

  void add(const std::string& name, const std::string& family, const std::string& phase, std::optional<Op> op,
           double per_mb, double bytes = 0) {
    if (per_mb <= 0) return;
    StepOp s;
    s.name = name;
    s.family = family;
    s.phase = phase;
    s.op = std::move(op);
    s.flops = s.op ? op_flops(*s.op) : 0;
    s.bytes = s.op ? op_bytes(*s.op) : bytes;
    s.count = per_mb * double(micro_batches);
    time(s);
    ops.push_back(std::move(s));
  }

  // A linear layer Y = X W^T over `tokens` rows: forward "tn", dgrad "nn", wgrad "nt" (harness/ops.hpp), and
  // the forward again under full recomputation. With FP8 GEMMs, the layers DeepSeek-V3 runs in FP8 (arXiv
  // 2412.19437 §3.3.1: not the embedding, the output head, the MoE gate or attention) are ScaledGemm ops with
  // 1x128 activation and 128x128 weight scales, plus the activation quantization as memory traffic.
  void linear(const std::string& name, const std::string& family, std::uint64_t tokens, std::uint64_t out,
              std::uint64_t in, double per_mb, bool recomputed) {
    if (tokens == 0 || out == 0 || in == 0) return;
    const bool fp8 = l.precision == "fp8" && (family == "gemm" || family == "moe") && name != "moe.router";
    auto gemm = [&](std::uint64_t m_, std::uint64_t n_, std::uint64_t k_, const char* layout) -> Op {
      if (fp8) return ScaledGemm{m_, n_, k_, "e4m3", "1x128", "128x128"};
      return Gemm{m_, n_, k_, layout, "bf16", "bf16"};
    };
    add(name, family, "fwd", gemm(tokens, out, in, "tn"), per_mb);
    add(name + ".dgrad", family, "bwd", gemm(tokens, in, out, "nn"), per_mb);
    add(name + ".wgrad", family, "bwd", gemm(out, in, tokens, "nt"), per_mb);
    if (recomputed) add(name, family, "recompute", gemm(tokens, out, in, "tn"), per_mb);
    if (fp8) {
      // Forward: read X in BF16, write it in E4M3 (+ one FP32 scale per 128). Backward: dY quantized for
      // dgrad and, transposed, for wgrad; X again, transposed, for wgrad. Weights are quantized once per
      // step (cached across micro-batches), which is not counted.
      const double x = double(tokens) * double(in), dy = double(tokens) * double(out), q = 3.0 + 4.0 / 128;
      add(name + ".quantize", "fp8 quantize", "fwd", std::nullopt, per_mb, q * x);
      add(name + ".quantize.bwd", "fp8 quantize", "bwd", std::nullopt, per_mb, q * x + (2 + 2 * (1 + 4.0 / 128)) * dy);
      if (recomputed) add(name + ".quantize", "fp8 quantize", "recompute", std::nullopt, per_mb, q * x);
    }
  }

  void memory(const std::string& name, const std::string& family, double fwd_bytes, double per_mb, bool recomputed) {
    add(name, family, "fwd", std::nullopt, per_mb, fwd_bytes);
    add(name + ".bwd", family, "bwd", std::nullopt, per_mb, fwd_bytes * a["elementwise_bwd_factor"]);
    if (recomputed) add(name, family, "recompute", std::nullopt, per_mb, fwd_bytes);
  }
};

}  // namespace

double hardware_flops_per_token(const ModelSpec& m, const Layout& l) {
  const bool flash = l.attention == "flash";
  const double weights_fwd = 2.0 * (m.matmul_params_active() - double(m.vocab) * double(m.hidden));
  const double head_fwd = 2.0 * double(m.vocab) * double(m.hidden);
  const double att_fwd =
      2.0 * double(m.layers) * double(m.heads) * double(l.seq) * double(m.qk_dim() + m.v_dim()) * (flash ? 0.5 : 1.0);
  double total = 3 * weights_fwd + 3 * head_fwd + att_fwd * (1 + (flash ? 2.5 : 2.0));
  if (l.recompute == Recompute::Full) total += weights_fwd + att_fwd;
  if (l.recompute == Recompute::Selective) total += att_fwd;
  return total;
}

StepEstimate estimate_step(const ModelSpec& m, const Layout& l, const ChipSpec& chip, const Assumptions& a,
                           const MeasuredOps* measured) {
  validate_layout(m, l, l.chips());
  if (!chip.bf16_dense_tflops || !chip.hbm_tbps)
    throw Error(fmt::format("chip {} has no BF16 peak or HBM bandwidth in harness/data/chips.json", chip.id));
  if (l.precision == "fp8" && !chip.fp8_dense_tflops)
    throw Error(fmt::format("chip {} has no FP8 peak in harness/data/chips.json: use --precision bf16", chip.id));

  StepEstimate e;
  e.layout = l;
  e.chip_id = chip.id;
  Builder b{m, l, chip, a, measured, l.micro_batches(), {}};
  const std::uint64_t t = l.tp, mb = l.micro_batch, h = m.hidden;
  const std::uint64_t T = mb * l.seq / l.cp;                                   // tokens per GPU per micro-batch
  const std::uint64_t Tn = (t > 1 && l.sequence_parallel) ? T / t : T;         // tokens of norms, residuals
  const std::uint64_t heads_l = m.heads / t, kv_l = std::max<std::uint64_t>(m.kv_heads / t, 1);
  const bool full = l.recompute == Recompute::Full;
  const std::uint64_t stage_layers = ceil_div(m.layers, l.pp);
  // The last stage sets the pace: it holds ceil(L/PP) layers (the model's last ones) and the LM head.
  const double moe_in_stage = double(std::min<std::uint64_t>(stage_layers, m.moe_layers()));
  const double dense_in_stage = double(stage_layers) - moe_in_stage;
  const double layers_d = double(stage_layers);
  if (m.layers % l.pp)
    e.notes.push_back(fmt::format("PP {} does not divide {} layers: the last stage holds {} layers and sets the pace",
                                  l.pp, m.layers, stage_layers));

  // Attention block.
  if (m.mla) {
    const auto& q = *m.mla;
    if (q.q_lora_rank) {
      b.linear("attn.q_down", "gemm", T, q.q_lora_rank, h, layers_d, full);
      b.linear("attn.q_up", "gemm", T, heads_l * m.qk_dim(), q.q_lora_rank, layers_d, full);
    } else {
      b.linear("attn.q", "gemm", T, heads_l * m.qk_dim(), h, layers_d, full);
    }
    b.linear("attn.kv_down", "gemm", T, q.kv_lora_rank + q.qk_rope_head_dim, h, layers_d, full);
    b.linear("attn.kv_up", "gemm", T, heads_l * (q.qk_nope_head_dim + q.v_head_dim), q.kv_lora_rank, layers_d, full);
    b.linear("attn.out", "gemm", T, h, heads_l * m.v_dim(), layers_d, full);
  } else {
    b.linear("attn.qkv", "gemm", T, (heads_l + 2 * kv_l) * m.head_dim, h, layers_d, full);
    b.linear("attn.out", "gemm", T, h, heads_l * m.head_dim, layers_d, full);
  }
  if (l.attention == "flash") {
    // MLA's QK^T contracts over 192 and PV over 128: head_dim (qk + v) / 2 gives the same FLOPs.
    // Context parallelism splits the sequence into 2 x CP chunks, each rank holding one from each end (Megatron-LM's
    // load balancing), so every rank does 1 / CP of the whole causal attention: counted as the full-sequence op,
    // CP times fewer. (seq/CP queries against seq keys would be the unbalanced shard, up to twice the work.)
    Attention fwd{mb, heads_l, kv_l, l.seq, l.seq, (m.qk_dim() + m.v_dim()) / 2, true, "fwd"};
    Attention bwd = fwd;
    bwd.pass = "bwd";
    const double per_mb = layers_d / double(l.cp);
    b.add("attn.core", "attention", "fwd", fwd, per_mb);
    b.add("attn.core.bwd", "attention", "bwd", bwd, per_mb);
    if (l.recompute != Recompute::None) b.add("attn.core", "attention", "recompute", fwd, per_mb);
  } else {
    // Scores in memory (Megatron-LM 2021): two batched GEMMs over the full s x s (the mask is applied, not
    // skipped), a fused scale-mask-softmax and dropout reading and writing the scores (Korthikanti et al. 2022
    // §4.1 count 5 a s^2 b bytes of attention activations: softmax output, dropout mask and output).
    const double batch = double(mb * heads_l), sel = l.recompute != Recompute::None;
    b.linear("attn.scores", "attention", l.seq, l.seq, m.qk_dim(), batch * layers_d, sel);
    b.linear("attn.context", "attention", l.seq, m.v_dim(), l.seq, batch * layers_d, sel);
    b.memory("attn.softmax+dropout", "attention", 9.0 * batch * double(l.seq) * double(l.seq), layers_d, sel);
  }
  // MLP block.
  const double mats = m.gated() ? 2 : 1;  // fused gate+up
  if (dense_in_stage > 0) {
    const std::uint64_t f = m.ffn_hidden / t;
    b.linear("mlp.up", "gemm", T, std::uint64_t(mats) * f, h, dense_in_stage, full);
    b.linear("mlp.down", "gemm", T, h, f, dense_in_stage, full);
    b.memory("mlp.activation", "activation", (m.gated() ? 6.0 : 4.0) * double(T) * double(f), dense_in_stage, full);
  }
  double moe_tokens = 0;
  if (moe_in_stage > 0) {
    const auto& moe = *m.moe;
    const std::uint64_t etp = l.ep > 1 ? 1 : t;  // experts are not tensor-parallel once spread over EP ranks
    const std::uint64_t T_moe = (l.ep > 1 && t > 1) ? T / t : T;
    const std::uint64_t f = moe.expert_ffn_hidden / etp;
    const std::uint64_t local = moe.experts / l.ep;
    // Balanced routing: each rank receives T_moe top_k assignments spread over its local experts.
    const std::uint64_t per_expert = std::max<std::uint64_t>(1, T_moe * moe.top_k * l.ep / moe.experts);
    moe_tokens = double(T_moe);
    b.linear("moe.router", "moe", T_moe, moe.experts, h, moe_in_stage, full);
    b.linear("moe.expert.up", "moe", per_expert, std::uint64_t(mats) * f, h, moe_in_stage * double(local), full);
    b.linear("moe.expert.down", "moe", per_expert, h, f, moe_in_stage * double(local), full);
    b.memory("moe.activation", "activation",
             (m.gated() ? 6.0 : 4.0) * double(per_expert) * double(f) * double(local), moe_in_stage, full);
    b.memory("moe.permute", "moe", 8.0 * double(T_moe) * double(moe.top_k) * double(h), moe_in_stage, full);
    if (moe.shared_experts) {
      const std::uint64_t fs = moe.shared_experts * moe.expert_ffn_hidden / etp;
      b.linear("moe.shared.up", "moe", T_moe, std::uint64_t(mats) * fs, h, moe_in_stage, full);
      b.linear("moe.shared.down", "moe", T_moe, h, fs, moe_in_stage, full);
      b.memory("moe.shared.activation", "activation", (m.gated() ? 6.0 : 4.0) * double(T_moe) * double(fs),
               moe_in_stage, full);
    }
  }
  // Two norms and two residual adds per layer: norm reads and writes each element (4 B), an add reads two and
  // writes one (6 B).
  b.memory("norm+residual", "norm+residual", 20.0 * double(Tn) * double(h), layers_d, full);
  // LM head and cross-entropy on the last stage, embedding on the first.
  const std::uint64_t V_l = ceil_div(m.vocab, t);
  b.linear("lm_head", "lm_head", T, V_l, h, 1, false);
  b.add("cross_entropy", "lm_head", "fwd", std::nullopt, 1, 12.0 * double(T) * double(V_l));  // fp32 logits x3
  if (l.pp == 1) {
    b.add("embedding", "embedding", "fwd", std::nullopt, 1, 4.0 * double(T) * double(h));
    b.add("embedding.bwd", "embedding", "bwd", std::nullopt, 1, 4.0 * double(T) * double(h));
  }

  // Parameters held by one GPU (an average stage), split into what is replicated over DP and the experts.
  const double expert_params = m.moe ? double(m.moe_layers()) * double(m.moe->experts) * (m.gated() ? 3 : 2) *
                                           double(h) * double(m.moe->expert_ffn_hidden)
                                     : 0;
  const std::uint64_t etp = (m.moe && l.ep > 1) ? 1 : t;
  const double dense_gpu = (m.total_params() - expert_params) / double(t * l.pp);
  const double expert_gpu = expert_params / double(l.ep * etp * l.pp);
  const double params_gpu = dense_gpu + expert_gpu;
  const double shard = l.zero_stage >= 1 ? double(l.dp * l.cp) : 1.0;
  {
    StepOp opt;
    opt.name = "optimizer";
    opt.family = "optimizer";
    opt.phase = "step";
    opt.bytes = a["adam_bytes_per_param"] * params_gpu / shard;
    opt.count = 1;
    b.time(opt);
    b.ops.push_back(opt);
  }
  e.ops = std::move(b.ops);

  // Compute per step and per micro-batch.
  double per_mb_compute = 0, attention_mb = 0, moe_mb = 0, gemm_mb = 0, fwd_mb = 0, bwd_mb = 0;
  const double mbs = double(l.micro_batches());
  for (const auto& s : e.ops) {
    const double total = s.count * s.time_s;
    e.compute_s += total;
    e.breakdown_s[s.family] += total;
    if (s.op)
      (s.time_from.rfind("measured", 0) == 0   ? e.measured_ops
       : s.time_from.rfind("nearest", 0) == 0 ? e.nearest_ops
                                              : e.projected_ops) += 1;
    if (s.phase == "step") continue;
    per_mb_compute += total / mbs;
    if (s.family == "attention") attention_mb += total / mbs;
    if (s.family == "moe") moe_mb += total / mbs;
    if (s.family == "gemm") gemm_mb += total / mbs;
    (s.phase == "fwd" ? fwd_mb : bwd_mb) += total / mbs;
  }

  // Links: ranks are ordered TP, CP, EP-within-DP, DP, PP; a group stays inside one scale-up domain when
  // its span (stride x size) fits in it.
  const double domain = a["scale_up_domain"];
  auto link_for = [&](double span, const std::string& what) {
    const bool up = span <= domain;
    const std::string bw = up ? "scale_up_gbps" : "scale_out_gbps";
    if (!a.all().count(bw))
      throw Error(fmt::format("{} crosses the {} links, but chip {} has no {} in harness/data/chips.json; give one "
                              "with --assume {}=GBps (per GPU, per direction)",
                              what, up ? "scale-up" : "scale-out", chip.id, bw, bw));
    Link link;
    link.name = up ? fmt::format("scale-up {:g} GB/s x {:g}", a[bw], a["scale_up_efficiency"])
                   : fmt::format("scale-out {:g} GB/s x {:g}", a[bw], a["scale_out_efficiency"]);
    link.gbps = a[bw];
    link.efficiency = a[up ? "scale_up_efficiency" : "scale_out_efficiency"];
    link.latency_s = a[up ? "scale_up_latency_s" : "scale_out_latency_s"];
    return link;
  };
  auto comm = [&](const std::string& name, const Link& link, double total, double window, double overlap) {
    const double hidden = std::min(total * overlap, window);
    e.comm.push_back({name, link.name, total, total - hidden});
    return total - hidden;
  };
  double per_mb_exposed = 0;
  const double act_bytes = double(T) * double(h) * 2;
  if (t > 1) {
    const Link link = link_for(double(t), "TP");
    const double n = layers_d * (4 + (full ? 2 : 0));
    per_mb_exposed += comm(l.sequence_parallel ? "TP reduce-scatter + all-gather" : "TP all-reduce", link,
                           n * all_reduce_s(act_bytes, int(t), link) * mbs, gemm_mb * mbs, a["tp_overlap"]) / mbs;
  }
  if (l.cp > 1) {
    const Link link = link_for(double(t * l.cp), "CP");
    const double kv_bytes = double(T) * 2.0 * double(kv_l) * double(m.head_dim) * 2;
    const double per_layer = 3.0 * double(l.cp - 1) * p2p_s(kv_bytes, link);  // K,V forward; K,V + dK,dV back
    per_mb_exposed += comm("CP ring K/V exchange", link, per_layer * layers_d * mbs, attention_mb * mbs,
                           a["cp_overlap"]) / mbs;
  }
  if (l.ep > 1 && moe_in_stage > 0) {
    const double span = double(t * l.cp * l.ep);
    const Link link = link_for(span, "EP");
    // Copies of a token on the EP link: one per routed expert, or one per scale-up domain where routing is
    // node-limited and the group crosses domains (the copies within a domain then travel its faster links).
    const double limit = a["ep_node_limit"];
    const double top_k = double(m.moe->top_k);
    const double copies = (limit > 0 && span > a["scale_up_domain"]) ? std::min(top_k, limit) : top_k;
    // Per MoE layer and micro-batch: the forward's dispatch and combine, the backward's two (the gradient toward
    // the experts travels as the dispatch does, the one back as the combine), and full recomputation's forward
    // pair again. Combines carry BF16.
    const double pairs = 2 + (full ? 1 : 0);
    const double dispatch = moe_tokens * copies * double(h) * a["ep_dispatch_bytes"];
    const double combine = moe_tokens * copies * double(h) * 2;
    const double total = moe_in_stage * pairs * (all_to_all_s(dispatch, l.ep, link) + all_to_all_s(combine, l.ep, link));
    per_mb_exposed += comm("EP all-to-all (dispatch + combine)", link, total * mbs, moe_mb * mbs, a["ep_overlap"]) / mbs;
  }
  if (l.pp > 1) {
    const Link link = link_for(double(t * l.cp * l.dp * l.pp), "PP");
    // Each of a stage's vpp chunks sends its activations on and receives their gradients back: the interleaved
    // schedule moves vpp times the traffic of plain 1F1B (Narayanan et al. 2021, arXiv 2104.04473 §2.2.2).
    const double bytes = double(Tn) * double(h) * 2;
    per_mb_exposed += comm("PP send/recv", link, 2 * double(l.vpp) * p2p_s(bytes, link) * mbs, per_mb_compute * mbs,
                           a["pp_overlap"]) / mbs;
  }
  double dp_exposed = 0;
  if (l.dp * l.cp > 1) {
    const Link link = link_for(double(t * l.cp * l.dp), "DP");
    const int ranks = l.dp * l.cp;
    const int expert_ranks = ranks / l.ep;
    const double g = a["dp_grad_bytes"];
    double total = 0;
    auto sync = [&](double params, int n) {
      if (n <= 1 || params <= 0) return 0.0;
      if (l.zero_stage == 0) return all_reduce_s(params * g, n, link);
      const double once = reduce_scatter_s(params * g, n, link) + all_gather_s(params * 2, n, link);
      return l.zero_stage == 3 ? once * mbs + all_gather_s(params * 2, n, link) * mbs : once;
    };
    total = sync(dense_gpu, ranks) + sync(expert_gpu, expert_ranks);
    const double window = l.zero_stage == 3 ? per_mb_compute * mbs : fwd_mb + bwd_mb;
    dp_exposed = comm(l.zero_stage == 0 ? "DP all-reduce" : l.zero_stage == 3 ? "DP (ZeRO-3) gathers + reduce-scatter"
                                                                               : "DP reduce-scatter + all-gather",
                      link, total, window, a["dp_overlap"]);
  }

  e.bubble_s = double(l.pp - 1) / double(l.vpp) * (per_mb_compute + per_mb_exposed);
  e.exposed_comm_s = per_mb_exposed * mbs + dp_exposed;
  e.step_s = e.compute_s + e.bubble_s + e.exposed_comm_s;
  e.breakdown_s["exposed comm"] = e.exposed_comm_s;
  e.breakdown_s["bubble"] = e.bubble_s;
  e.tokens_per_s_per_chip = l.global_batch_tokens / e.step_s / double(l.chips());
  e.model_flops_per_token = model_flops_per_token(m, l.seq);
  e.hardware_flops_per_token = hardware_flops_per_token(m, l);
  const double bf16 = *chip.bf16_dense_tflops * 1e12;
  const double own = (l.precision == "fp8" ? *chip.fp8_dense_tflops : *chip.bf16_dense_tflops) * 1e12;
  e.mfu = e.model_flops_per_token * e.tokens_per_s_per_chip / bf16;
  e.mfu_precision_peak = e.model_flops_per_token * e.tokens_per_s_per_chip / own;
  e.hfu = e.hardware_flops_per_token * e.tokens_per_s_per_chip / bf16;

  // Memory: weights, gradients and optimizer states (a["state_bytes_per_param"], the fp32 part sharded by
  // ZeRO), and activations after Korthikanti et al. 2022 eq. (1)-(2): per layer s b h (15 + 19 r) bytes with
  // r the active FFN width over 4h (34 for a GPT layer), + 5 a s^2 b without fused attention, split over TP
  // with sequence parallelism; selective recompute keeps the linear terms, full keeps 2 s b h per layer.
  // 1F1B keeps PP micro-batches in flight on the first stage; the interleaved schedule 1 + (PP - 1) / (PP vpp)
  // times as many (Megatron-LM's interleaved_schedule_memory_penalty, theoretical_memory_usage.py).
  {
    const double states = a["state_bytes_per_param"];
    double per_param = 4 + (states - 4) / shard;
    if (l.zero_stage >= 2) per_param = 2 + (states - 2) / shard;
    if (l.zero_stage == 3) per_param = states / shard;
    const double sbh = double(T) * double(h);
    const double ffn_active = m.moe ? double((m.moe->top_k + m.moe->shared_experts) * m.moe->expert_ffn_hidden)
                                    : double(m.ffn_hidden);
    const double r = ffn_active * (m.gated() ? 1.5 : 1.0) / (4.0 * double(h));
    const double split = (t > 1 && l.sequence_parallel) ? double(t) : 1.0;
    double layer_act = sbh * (15 + 19 * r) / split;
    if (l.attention != "flash" && l.recompute == Recompute::None)
      layer_act += 5.0 * double(m.heads) * double(l.seq) * double(l.seq) * double(mb) / double(t);
    if (full) layer_act = 2.0 * sbh / split;
    // (1 + (PP - 1) / (PP vpp)) PP, rounded up, in integers.
    const std::uint64_t pp = std::uint64_t(l.pp), vpp = std::uint64_t(l.vpp);
    const double in_flight = double(std::min(vpp > 1 ? pp + ceil_div(pp - 1, vpp) : pp, l.micro_batches()));
    const double logits = 4.0 * double(T) * double(V_l);
    e.memory_gb = (params_gpu * per_param + layer_act * double(stage_layers) * in_flight + logits) / 1e9;
  }
  return e;
}

// ---- layout search ---------------------------------------------------------------------------

namespace {
constexpr std::uint64_t kMinTokensPerCpRank = 8192;
}  // namespace

LayoutChoice choose_layout(const ModelSpec& m, int chips, const ChipSpec& chip, const Assumptions& a,
                           const LayoutRequest& req, const MeasuredOps* measured) {
  const std::uint64_t seq = req.seq.value_or(m.seq_len);
  const double gbt_wanted = req.global_batch_tokens.value_or(
      m.global_batch_tokens.value_or(a["default_global_batch_tokens"]));
  auto pow2_upto = [](int limit) {
    std::vector<int> v;
    for (int x = 1; x <= limit; x *= 2) v.push_back(x);
    return v;
  };
  const int domain = int(a["scale_up_domain"]);
  const std::vector<int> tps = req.tp ? std::vector<int>{*req.tp} : pow2_upto(std::min(8, domain));
  const std::vector<int> pps = req.pp ? std::vector<int>{*req.pp} : pow2_upto(int(std::min<std::uint64_t>(m.layers, 64)));
  // Context parallelism for long sequences only, down to 8192 tokens a rank (Llama 3's long-context stage:
  // 131072 over CP 16, arXiv 2407.21783 Table 4).
  const std::vector<int> cps =
      req.cp ? std::vector<int>{*req.cp} : pow2_upto(int(std::max<std::uint64_t>(seq / kMinTokensPerCpRank, 1)));
  const std::vector<int> eps = req.ep ? std::vector<int>{*req.ep}
                                      : (m.moe ? pow2_upto(int(m.moe->experts)) : std::vector<int>{1});
  const std::vector<Recompute> recomputes =
      req.recompute ? std::vector<Recompute>{*req.recompute}
                    : std::vector<Recompute>{Recompute::None, Recompute::Selective, Recompute::Full};

  if (req.tp && (m.heads % *req.tp || (m.kv_heads % *req.tp && *req.tp % m.kv_heads)))
    throw Error(fmt::format("TP {} does not suit {}: TP must divide its {} attention heads and divide, or be a "
                            "multiple of, its {} key/value heads",
                            *req.tp, m.id, m.heads, m.kv_heads));
  std::optional<LayoutChoice> best;
  double best_tps = 0;
  std::string last_problem;
  for (int tp : tps)
    for (int pp : pps)
      for (int cp : cps)
        for (int ep : eps) {
          if (chips % (tp * pp * cp)) {
            last_problem = fmt::format("TP {} x PP {} x CP {} = {} does not divide {} GPUs", tp, pp, cp, tp * pp * cp,
                                       chips);
            continue;
          }
          const int dp = chips / (tp * pp * cp);
          if (req.dp && *req.dp != dp) {
            last_problem = fmt::format("with TP {} x PP {} x CP {}, {} GPUs leave DP {}, not the {} asked for", tp, pp,
                                       cp, chips, dp, *req.dp);
            continue;
          }
          Layout l;
          l.tp = tp, l.pp = pp, l.cp = cp, l.ep = ep, l.dp = dp;
          l.seq = seq;
          l.micro_batch = req.micro_batch.value_or(1);
          l.zero_stage = req.zero_stage.value_or(1);
          l.precision = req.precision;
          const double per = double(dp) * double(l.micro_batch) * double(seq);
          l.global_batch_tokens = std::max(1.0, std::round(gbt_wanted / per)) * per;
          // 1F1B needs at least PP micro-batches in flight to fill the pipeline.
          if (!req.pp && pp > 1 && l.micro_batches() < std::uint64_t(pp)) {
            last_problem = fmt::format("{}: {} micro-batches cannot fill {} pipeline stages", l.describe(),
                                       l.micro_batches(), pp);
            continue;
          }
          // Interleaving (vpp chunks a stage) where the search picks PP: it divides the bubble by vpp for vpp times
          // the point-to-point traffic and more activations in flight. A stage's chunks of equal size (the bubble
          // formula's premise): vpp divides the stage's layers.
          std::vector<int> vpps{req.vpp.value_or(1)};
          if (!req.vpp && !req.pp && pp > 1) {
            const std::uint64_t stage_layers = ceil_div(m.layers, std::uint64_t(pp));
            for (std::uint64_t v = 2; v <= stage_layers; ++v)
              if (stage_layers % v == 0) vpps.push_back(int(v));
          }
          for (int vpp : vpps) {
            l.vpp = vpp;
            for (Recompute r : recomputes) {
              l.recompute = r;
              StepEstimate est;
              try {
                est = estimate_step(m, l, chip, a, measured);
              } catch (const Error& err) {
                // A missing link bandwidth is the user's to give, not a reason to try another layout.
                if (std::string(err.what()).find("--assume scale_") != std::string::npos) throw;
                last_problem = err.what();
                break;
              }
              if (chip.memory_gb && est.memory_gb > *chip.memory_gb) {
                last_problem = fmt::format("{}: needs about {:.0f} GB of {:g} GB", l.describe(), est.memory_gb,
                                           *chip.memory_gb);
                continue;
              }
              if (est.tokens_per_s_per_chip > best_tps) {
                best_tps = est.tokens_per_s_per_chip;
                LayoutChoice c;
                c.layout = l;
                c.searched = !req.complete();
                best = c;
              }
              break;  // the least recomputation that fits is the fastest
            }
          }
        }
  if (!best)
    throw Error(fmt::format("no layout of {} on {} x {} fits and divides the model ({}); last problem: {}", m.id,
                            chips, chip.id,
                            "TP in 1..8, PP powers of two with interleaving dividing a stage's layers, CP powers of "
                            "two down to 8192 tokens a rank, EP dividing the experts",
                            last_problem));
  if (best->searched)
    best->reasons.push_back(
        "searched TP in {1,2,4,8} (within one scale-up domain), PP, EP and (for sequences over 8192 tokens) CP over "
        "powers of two, interleaving over the divisors of a stage's layers, recompute none -> selective -> full; kept "
        "the layout with the most tokens/s per chip whose estimated memory fits");
  if (std::fabs(best->layout.global_batch_tokens - gbt_wanted) > 0.5)
    best->reasons.push_back(fmt::format("global batch rounded from {:.0f} to {:.0f} tokens: a whole number of "
                                        "micro-batches per data-parallel rank",
                                        gbt_wanted, best->layout.global_batch_tokens));
  return *best;
}

nlohmann::ordered_json estimate_to_json(const StepEstimate& e) {
  nlohmann::ordered_json j;
  const Layout& l = e.layout;
  j["layout"] = {{"tp", l.tp},
                 {"pp", l.pp},
                 {"dp", l.dp},
                 {"ep", l.ep},
                 {"cp", l.cp},
                 {"vpp", l.vpp},
                 {"seq", l.seq},
                 {"micro_batch", l.micro_batch},
                 {"global_batch_tokens", l.global_batch_tokens},
                 {"micro_batches", l.micro_batches()},
                 {"recompute", recompute_name(l.recompute)},
                 {"zero_stage", l.zero_stage},
                 {"precision", l.precision},
                 {"sequence_parallel", l.sequence_parallel},
                 {"attention", l.attention},
                 {"chips", l.chips()}};
  j["step_time_s"] = e.step_s;
  j["tokens_per_s_per_chip"] = e.tokens_per_s_per_chip;
  j["model_flops_per_token"] = e.model_flops_per_token;
  j["hardware_flops_per_token"] = e.hardware_flops_per_token;
  j["mfu"] = e.mfu;
  j["mfu_precision_peak"] = e.mfu_precision_peak;
  j["hfu"] = e.hfu;
  j["memory_gb_estimate"] = e.memory_gb;
  j["op_times"] = {{"measured_exact", e.measured_ops}, {"nearest_measured", e.nearest_ops}, {"roofline", e.projected_ops}};
  nlohmann::ordered_json bd = nlohmann::ordered_json::object();
  for (const auto& [k, v] : e.breakdown_s) bd[k] = v;
  j["breakdown"] = bd;
  nlohmann::ordered_json comm = nlohmann::ordered_json::array();
  for (const auto& c : e.comm)
    comm.push_back({{"name", c.name}, {"link", c.link}, {"total_s", c.total_s}, {"exposed_s", c.exposed_s}});
  j["communication"] = comm;
  nlohmann::ordered_json ops = nlohmann::ordered_json::array();
  for (const auto& s : e.ops) {
    nlohmann::ordered_json o = {{"name", s.name}, {"family", s.family}, {"phase", s.phase}};
    if (s.op) {
      o["op"] = op_family(*s.op);
      o["shape"] = op_shape(*s.op);
    }
    o["flops"] = s.flops;
    o["bytes"] = s.bytes;
    o["count"] = s.count;
    o["time_s"] = s.time_s;
    o["time_from"] = s.time_from;
    ops.push_back(o);
  }
  j["ops"] = ops;
  j["notes"] = e.notes;
  return j;
}

}  // namespace trainbench
