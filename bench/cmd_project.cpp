#include "bench/cmd_project.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bench/cli_checks.hpp"
#include "harness/chips.hpp"
#include "harness/error.hpp"
#include "harness/model.hpp"
#include "harness/step_model.hpp"
#include "harness/validation.hpp"

namespace trainbench {
namespace {

// "15T", "300B", "2e12", "4M" -> a number (0 allowed where allow_zero), finite.
double parse_number(const std::string& text, const char* what, bool allow_zero) {
  std::string t = text;
  double scale = 1;
  if (!t.empty()) {
    switch (t.back()) {
      case 'K': case 'k': scale = 1e3; break;
      case 'M': case 'm': scale = 1e6; break;
      case 'B': case 'b': case 'G': case 'g': scale = 1e9; break;
      case 'T': case 't': scale = 1e12; break;
      default: break;
    }
    if (scale != 1) t.pop_back();
  }
  try {
    std::size_t used = 0;
    const double v = std::stod(t, &used);
    if (used != t.size() || !std::isfinite(v * scale) || !(allow_zero ? v >= 0 : v > 0))
      throw std::invalid_argument(text);
    return v * scale;
  } catch (const std::exception&) {
    throw Error(fmt::format("{} \"{}\" is not a {} finite number; write it as 15T, 300B, 2e12{}", what, text,
                            allow_zero ? "non-negative" : "positive", allow_zero ? ", 0.5 or 0" : ""));
  }
}
double parse_count(const std::string& text, const char* what) { return parse_number(text, what, false); }

std::string si(double v, const char* unit = "") {
  const char* prefixes[] = {"", "K", "M", "B", "T", "P"};
  int i = 0;
  while (std::fabs(v) >= 1000 && i < 5) v /= 1000, ++i;
  return fmt::format("{:.3g}{}{}", v, prefixes[i], unit);
}

std::string pct(double f) { return fmt::format("{:.1f}%", 100 * f); }

struct Totals {
  double days = 0, gpu_hours = 0;                // wall clock: steady state over the goodput
  double steady_days = 0, steady_gpu_hours = 0;  // training steps only
  double goodput = 1;
  std::optional<double> energy_mwh;
};

Totals totals(const StepEstimate& e, double tokens, const ChipSpec& chip, const Assumptions& a) {
  Totals t;
  const double seconds = tokens / (e.tokens_per_s_per_chip * e.layout.chips());
  t.goodput = a["goodput"];
  t.steady_days = seconds / 86400;
  t.steady_gpu_hours = seconds * e.layout.chips() / 3600;
  t.days = t.steady_days / t.goodput;
  t.gpu_hours = t.steady_gpu_hours / t.goodput;
  if (chip.tdp_w) t.energy_mwh = t.gpu_hours * *chip.tdp_w / 1e6;
  return t;
}

void print_conventions(const StepEstimate& e) {
  fmt::print("\nconventions\n"
             "  model FLOPs per token = 6 x matmul parameters (active experts only; the LM head counts, the\n"
             "  embedding lookup does not) + attention 6 L H (d_qk + d_v) T halved for the causal mask = {:.4g}\n"
             "  GFLOP. MFU divides model FLOPs/s by the dense BF16 peak whatever the GEMM precision (as\n"
             "  DeepSeek-V3 and Llama 3 report it); HFU counts what runs: recomputation and the fused attention\n"
             "  backward's recomputed scores ({:.4g} GFLOP per token).\n",
             e.model_flops_per_token / 1e9, e.hardware_flops_per_token / 1e9);
}

// "h100-sxm,b200" -> {"h100-sxm", "b200"}; empty names and repeats are refused.
std::vector<std::string> split_chip_list(const std::string& text) {
  std::vector<std::string> ids;
  if (text.empty()) return ids;
  std::size_t at = 0;
  while (true) {
    const std::size_t comma = text.find(',', at);
    std::string id = text.substr(at, comma == std::string::npos ? std::string::npos : comma - at);
    if (id.empty())
      throw Error(fmt::format("--chip \"{}\" has an empty chip name: write ids separated by commas, e.g. "
                              "h100-sxm,h200-sxm,b200",
                              text));
    if (std::find(ids.begin(), ids.end(), id) != ids.end())
      throw Error(fmt::format("--chip \"{}\" names {} twice: each chip is projected once", text, id));
    ids.push_back(std::move(id));
    if (comma == std::string::npos) break;
    at = comma + 1;
  }
  return ids;
}

void print_assumptions(const Assumptions& a) {
  fmt::print("\nassumptions (change one with --assume NAME=VALUE)\n");
  for (const auto& [name, x] : a.all()) fmt::print("  {:<26} {:<8g} {}\n", name, x.value, x.source);
}

int run_validate(bool json) {
  const auto rows = validate_published_runs();
  if (json) {
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    for (const auto& r : rows)
      out.push_back({{"id", r.run.id},
                     {"label", r.run.label},
                     {"metric", r.run.metric},
                     {"published", r.run.published},
                     {"predicted", r.predicted},
                     {"error", r.error},
                     {"within_20pct", std::fabs(r.error) <= 0.2},
                     {"layout", r.estimate.layout.describe()},
                     {"assume", [&] {
                        nlohmann::ordered_json set = nlohmann::ordered_json::object();
                        for (const auto& [name, value] : r.run.assume) set[name] = value;
                        return set;
                      }()},
                     {"source", r.run.source},
                     {"assumed", r.run.assumed},
                     {"when_off", r.run.when_off}});
    fmt::print("{}\n", out.dump(2));
    return kExitOk;
  }
  fmt::print("Public training runs predicted with the default assumptions of each chip (no per-row tuning; a run "
             "that published a mechanism the defaults lack sets it, named under 'assumed').\n"
             "Each published figure is compared in its own counting convention (column 'metric').\n\n");
  fmt::print("{:<46} {:<24} {:>11} {:>11} {:>8}  {}\n", "run", "metric", "published", "predicted", "error",
             "verdict");
  auto show = [](const std::string& metric, double v) {
    if (metric == "gpu_hours" || metric == "gpu_hours_steady") return fmt::format("{:.0f}", v);
    if (metric == "tflops_recompute") return fmt::format("{:.0f}", v);
    return pct(v);
  };
  int misses = 0;
  for (const auto& r : rows) {
    const bool ok = std::fabs(r.error) <= 0.2;
    misses += !ok;
    fmt::print("{:<46} {:<24} {:>11} {:>11} {:>+7.1f}%  {}\n", r.run.label, metric_unit(r.run.metric),
               show(r.run.metric, r.run.published), show(r.run.metric, r.predicted), 100 * r.error,
               ok ? "within 20%" : "MISS (> 20%)");
  }
  const ValidationSummary summary = summarize_validation(rows);
  fmt::print("\n{} of {} rows within 20%; |error| median {}, largest {}.\n", rows.size() - misses, rows.size(),
             pct(summary.median_abs_error), pct(summary.max_abs_error));
  fmt::print("\nPer row: predicted breakdown, what was assumed, and the source\n");
  for (const auto& r : rows) {
    const auto& e = r.estimate;
    fmt::print("\n{} [{}]\n  layout   {}\n  step     {:.2f} s: ", r.run.label, r.run.id, e.layout.describe(), e.step_s);
    std::vector<std::string> parts;
    for (const auto& [k, v] : e.breakdown_s)
      if (v > 0) parts.push_back(fmt::format("{} {:.0f}%", k, 100 * v / e.step_s));
    fmt::print("{}\n  assumed  {}\n  source   {}\n", fmt::join(parts, ", "), r.run.assumed, r.run.source);
    if (!r.run.when_off.empty()) fmt::print("  note     {}\n", r.run.when_off);
  }
  fmt::print("\nConventions: 'TF/GPU (with recompute)' is Megatron-LM 2021's 96 B s l h^2 (1 + s/6h + V/16lh) "
             "per step over time: every matmul including the recomputed forward, attention over the full s x s. "
             "GLM's MFU/HFU: 6N + 12 L H Q T per token (no causal halving) over 312 TFLOP/s, HFU adding the "
             "recomputed forward. MFU (causal halved): trainbench's own count, 6N + attention halved for the causal "
             "mask, over the BF16 peak. GPU-hours: steady-state throughput divided by the goodput assumption, since "
             "published GPU-hours include restarts, failures and evaluation, which the step model does not see; "
             "GPU-hours (steady): a published figure derived from throughput, compared at the steady-state rate.\n");
  return kExitOk;
}

}  // namespace

CLI::App* add_project_command(CLI::App& app, ProjectOptions& o) {
  auto* cmd = app.add_subcommand(
      "project", "Days, GPU-hours and energy to train a model on N chips, from results files and spec sheets "
                 "(no GPU needed); --validate prints the model against public training runs");
  cmd->add_option("--model", o.model, "Reference model (see `trainbench list`)");
  cmd->add_option("--chips", o.chips, "Number of GPUs")->check(positive_number());
  cmd->add_option("--tokens", o.tokens, "Training tokens (15T, 300B, 2e12; default: the model's published count)");
  cmd->add_option("--chip", o.chip, "Chip id from harness/data/chips.json, or several separated by commas for a "
                                    "side-by-side table (default: the results files' chip, else h100-sxm)");
  cmd->add_option("--results", o.results, "Results files: exact-shape measurements and measured efficiencies")
      ->expected(1, -1);
  cmd->add_option("--models-file", o.models_file, "Extra models file (same form as harness/data/models.json)");
  cmd->add_option("--tp", o.tp, "Tensor-parallel size")->check(positive_number());
  cmd->add_option("--pp", o.pp, "Pipeline-parallel stages")->check(positive_number());
  cmd->add_option("--dp", o.dp, "Data-parallel size")->check(positive_number());
  cmd->add_option("--ep", o.ep, "Expert-parallel size")->check(positive_number());
  cmd->add_option("--cp", o.cp, "Context-parallel size")->check(positive_number());
  cmd->add_option("--vpp", o.vpp, "Interleaved pipeline chunks per stage")->check(positive_number());
  cmd->add_option("--seq", o.seq, "Sequence length (default: the model's)")->check(positive_number());
  cmd->add_option("--micro-batch", o.micro_batch, "Sequences per micro-batch")->check(positive_number());
  cmd->add_option("--global-batch-tokens", o.global_batch_tokens, "Tokens per optimizer step")
      ->check(positive_number());
  cmd->add_option("--recompute", o.recompute, "none, selective or full")
      ->check(CLI::IsMember({"none", "selective", "full"}));
  cmd->add_option("--precision", o.precision, "GEMM precision: bf16 or fp8")
      ->capture_default_str()->check(CLI::IsMember({"bf16", "fp8"}));
  cmd->add_option("--zero", o.zero, "ZeRO stage 0-3 (default 1)")->check(CLI::Range(0, 3));
  cmd->add_option("--attention", o.attention, "flash (fused) or unfused (scores in memory)")
      ->capture_default_str()->check(CLI::IsMember({"flash", "unfused"}));
  cmd->add_flag("--no-sequence-parallel", o.no_sequence_parallel, "TP all-reduces instead of RS + AG, norms replicated");
  cmd->add_option("--assume", o.assume, "NAME=VALUE: override a named assumption (repeatable)");
  cmd->add_flag("--ops", o.ops, "Also print every op of the step with its shape, count and time source");
  cmd->add_flag("--json", o.json, "Print one JSON object");
  cmd->add_flag("--validate", o.validate, "Predict public training runs and print predicted vs published");
  return cmd;
}

namespace {

// One chip's answer: the layout (given or searched), the step, and the totals, with everything that
// went into them.
struct Projection {
  const ChipSpec* chip = nullptr;
  Assumptions assumptions;
  Layout layout;
  std::vector<std::string> reasons, notes;
  StepEstimate estimate;
  Totals totals;
};

using Overrides = std::vector<std::pair<std::string, double>>;

// The --assume NAME=VALUE pairs, checked once for every chip: the syntax, a known name (the link
// bandwidths too, which some sheets lack), and the value's range.
Overrides parse_assume(const std::vector<std::string>& assume, const ChipSpec& any_chip) {
  const Assumptions known = Assumptions::defaults_for(any_chip);
  Overrides out;
  for (const auto& kv : assume) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos) throw Error(fmt::format("--assume \"{}\" is not NAME=VALUE", kv));
    const std::string name = kv.substr(0, eq);
    if (!known.all().count(name) && name != "scale_up_gbps" && name != "scale_out_gbps")
      (void)known[name];  // throws, listing the known names
    const double value = parse_number(kv.substr(eq + 1), "--assume value", true);
    if (const auto why = Assumptions::range_problem(name, value); !why.empty())
      throw Error(fmt::format("--assume {}: {}", kv, why));
    out.emplace_back(name, value);
  }
  return out;
}

Projection project_on(const ProjectOptions& o, const Overrides& overrides, const ModelSpec& model,
                      const ChipSpec& chip, double tokens, std::vector<std::string> notes) {
  Projection p;
  p.chip = &chip;
  Assumptions& a = p.assumptions;
  a = Assumptions::defaults_for(chip);
  auto apply_assume = [&] {
    for (const auto& [name, value] : overrides) a.set(name, value, "command line (--assume)");
  };
  // Before the results (the GEMM shape model they are read with), and after (the user's word wins over a
  // measured efficiency).
  apply_assume();
  MeasuredOps measured;
  if (!o.results.empty()) {
    measured = MeasuredOps::load(o.results, chip, a);
    notes.insert(notes.end(), measured.notes.begin(), measured.notes.end());
    apply_assume();
  }

  LayoutRequest req;
  if (o.tp) req.tp = o.tp;
  if (o.pp) req.pp = o.pp;
  if (o.dp) req.dp = o.dp;
  if (o.ep) req.ep = o.ep;
  if (o.cp) req.cp = o.cp;
  if (o.vpp) req.vpp = o.vpp;
  if (o.zero >= 0) req.zero_stage = o.zero;
  if (o.seq) req.seq = o.seq;
  if (o.micro_batch) req.micro_batch = o.micro_batch;
  if (o.global_batch_tokens > 0) req.global_batch_tokens = o.global_batch_tokens;
  if (!o.recompute.empty()) req.recompute = recompute_from_name(o.recompute);
  req.precision = o.precision;

  Layout& layout = p.layout;
  const MeasuredOps* mp = o.results.empty() ? nullptr : &measured;
  const bool custom = o.no_sequence_parallel || o.attention != "flash";
  if (req.complete() || (req.tp && req.pp && req.dp)) {
    // Given explicitly: checked, not searched (EP and CP default to 1).
    layout.tp = o.tp, layout.pp = o.pp, layout.dp = o.dp;
    layout.ep = o.ep ? o.ep : 1;
    layout.cp = o.cp ? o.cp : 1;
    layout.vpp = o.vpp ? o.vpp : 1;
    layout.seq = o.seq ? o.seq : model.seq_len;
    layout.micro_batch = o.micro_batch ? o.micro_batch : 1;
    layout.global_batch_tokens =
        o.global_batch_tokens > 0 ? o.global_batch_tokens
                                  : model.global_batch_tokens.value_or(a["default_global_batch_tokens"]);
    layout.recompute = req.recompute.value_or(Recompute::None);
    layout.zero_stage = o.zero >= 0 ? o.zero : 1;
    layout.precision = o.precision;
    layout.sequence_parallel = !o.no_sequence_parallel;
    layout.attention = o.attention;
    if (layout.tp * layout.pp * layout.dp * layout.cp != o.chips)
      validate_layout(model, layout, o.chips);  // names the mismatch
    if (!o.global_batch_tokens && !model.global_batch_tokens)
      p.reasons.push_back(fmt::format("global batch: {} (the model file gives none)",
                                      a.all().at("default_global_batch_tokens").source));
    p.reasons.push_back("layout as given");
  } else {
    if (custom) throw Error("--attention and --no-sequence-parallel need a full layout (--tp --pp --dp)");
    const LayoutChoice choice = choose_layout(model, o.chips, chip, a, req, mp);
    layout = choice.layout;
    p.reasons = choice.reasons;
  }
  validate_layout(model, layout, o.chips);
  p.estimate = estimate_step(model, layout, chip, a, mp);
  p.totals = totals(p.estimate, tokens, chip, a);
  notes.insert(notes.end(), p.estimate.notes.begin(), p.estimate.notes.end());
  if (chip.memory_gb && p.estimate.memory_gb > *chip.memory_gb)
    notes.push_back(fmt::format("estimated memory {:.0f} GB exceeds the chip's {:g} GB: this layout would not fit "
                                "(try more PP/TP or --recompute full)",
                                p.estimate.memory_gb, *chip.memory_gb));
  p.notes = std::move(notes);
  return p;
}

// What a projection is worth, measured: the step model against public runs' published figures, with the
// default assumptions (`--validate` gives the rows). The same for every projection: predicted once.
const ValidationSummary& model_error() {
  static const ValidationSummary summary = summarize_validation(validate_published_runs());
  return summary;
}

std::string model_error_text() {
  const ValidationSummary& v = model_error();
  return fmt::format("on the {} published figures of public training runs that `trainbench project --validate` "
                     "predicts: median |error| {}, largest {}, {} within 20%",
                     v.figures, pct(v.median_abs_error), pct(v.max_abs_error), v.within_20pct);
}

nlohmann::ordered_json projection_json(const Projection& p, const ModelSpec& model, int chips, double tokens) {
  nlohmann::ordered_json out;
  out["model"] = model.id;
  out["chip"] = p.chip->id;
  out["chips"] = chips;
  out["tokens"] = tokens;
  const nlohmann::ordered_json j = estimate_to_json(p.estimate);
  for (auto it = j.begin(); it != j.end(); ++it) out[it.key()] = it.value();
  const Totals& t = p.totals;
  out["days"] = t.days;
  out["gpu_hours"] = t.gpu_hours;
  out["goodput"] = t.goodput;
  out["days_steady_state"] = t.steady_days;
  out["gpu_hours_steady_state"] = t.steady_gpu_hours;
  out["energy_mwh"] = t.energy_mwh ? nlohmann::ordered_json(*t.energy_mwh) : nlohmann::ordered_json("unknown");
  const ValidationSummary& v = model_error();
  out["model_error"] = {{"published_figures", v.figures},
                        {"within_20pct", v.within_20pct},
                        {"median_abs_error", v.median_abs_error},
                        {"max_abs_error", v.max_abs_error},
                        {"rows", "trainbench project --validate"}};
  out["layout_reasons"] = p.reasons;
  out["notes"] = p.notes;
  nlohmann::ordered_json as = nlohmann::ordered_json::object();
  for (const auto& [name, x] : p.assumptions.all()) as[name] = {{"value", x.value}, {"source", x.source}};
  out["assumptions"] = as;
  return out;
}

void print_projection(const ProjectOptions& o, const Projection& p, const ModelSpec& model, double tokens) {
  const ChipSpec& chip = *p.chip;
  const StepEstimate& e = p.estimate;
  const Totals& t = p.totals;
  fmt::print("{} on {} x {} ({}), {} tokens\n", model.name, o.chips, chip.id, chip.name, si(tokens));
  fmt::print("  parameters     {} total, {} active per token\n", si(model.total_params()), si(model.active_params()));
  fmt::print("  layout         {}\n", p.layout.describe());
  for (const auto& r : p.reasons) fmt::print("                 ({})\n", r);
  fmt::print("  op times       {} measured at their exact shape, {} from the nearest measured shape, {} projected "
             "(roofline on {}'s spec sheet)\n",
             e.measured_ops, e.nearest_ops, e.projected_ops, chip.id);
  fmt::print("\n  step time             {:.3f} s\n", e.step_s);
  fmt::print("  tokens/s per chip     {:.0f}\n", e.tokens_per_s_per_chip);
  fmt::print("  MFU                   {} of dense BF16 peak ({:g} TFLOP/s){}\n", pct(e.mfu), *chip.bf16_dense_tflops,
             p.layout.precision == "fp8" ? fmt::format("; {} of the FP8 peak ({:g})", pct(e.mfu_precision_peak),
                                                       *chip.fp8_dense_tflops)
                                         : "");
  fmt::print("  HFU                   {} (with the recomputed work)\n", pct(e.hfu));
  fmt::print("  memory per GPU        {:.0f} GB estimated{}\n", e.memory_gb,
             chip.memory_gb ? fmt::format(" of {:g} GB", *chip.memory_gb) : "");
  fmt::print("  time to train         {:.1f} days on {} chips ({:.1f} days of training steps at {} goodput)\n",
             t.days, o.chips, t.steady_days, pct(t.goodput));
  fmt::print("  GPU-hours             {} ({} of training steps)\n", si(t.gpu_hours), si(t.steady_gpu_hours));
  fmt::print("  energy                {}\n",
             t.energy_mwh ? fmt::format("{:.0f} MWh at TDP ({:g} W x GPU-hours; GPUs only: no host, network, "
                                        "cooling)", *t.energy_mwh, *chip.tdp_w)
                          : std::string("unknown (no TDP for this chip in harness/data/chips.json)"));
  fmt::print("  model error           {}\n", model_error_text());

  fmt::print("\nwhere a step's time goes (the slowest pipeline stage)\n");
  std::vector<std::pair<std::string, double>> parts(e.breakdown_s.begin(), e.breakdown_s.end());
  std::sort(parts.begin(), parts.end(), [](const auto& x, const auto& y) { return x.second > y.second; });
  for (const auto& [name, sec] : parts)
    if (sec > 0) fmt::print("  {:<16} {:>10.3f} s  {:>6}\n", name, sec, pct(sec / e.step_s));
  if (!e.comm.empty()) {
    fmt::print("\ncommunication per step\n");
    for (const auto& c : e.comm)
      fmt::print("  {:<38} {:<30} total {:>8.3f} s, exposed {:>8.3f} s\n", c.name, c.link, c.total_s, c.exposed_s);
  }
  if (o.ops) {
    fmt::print("\nops of one step (bottleneck GPU)\n");
    fmt::print("  {:<24} {:<9} {:<54} {:>9} {:>11}  {}\n", "op", "phase", "shape", "count", "each (us)", "from");
    for (const auto& st : e.ops)
      fmt::print("  {:<24} {:<9} {:<54} {:>9g} {:>11.1f}  {}\n", st.name, st.phase,
                 st.op ? op_family(*st.op) + " " + op_label(*st.op) : fmt::format("{:.3g} bytes", st.bytes), st.count,
                 st.time_s * 1e6, st.time_from);
  }
  print_conventions(e);
  print_assumptions(p.assumptions);
  if (!p.notes.empty()) {
    fmt::print("\nnotes\n");
    for (const auto& n : p.notes) fmt::print("  - {}\n", n);
  }
}

// "TP8 PP4x2 DP32 EP1 CP1, micro-batch 1, recompute none": the parallel sizes and what the search chooses besides.
std::string compact_layout(const Layout& l) {
  return fmt::format("TP{} PP{}{} DP{} EP{} CP{}, micro-batch {}, recompute {}", l.tp, l.pp,
                     l.vpp > 1 ? fmt::format("x{}", l.vpp) : "", l.dp, l.ep, l.cp, l.micro_batch,
                     recompute_name(l.recompute));
}

// Several chips side by side: one row each, every chip with its own defaults, layout and the results files'
// efficiencies; the full answer for one chip is `--chip ID` alone.
void print_chip_table(const ProjectOptions& o, const std::vector<Projection>& ps, const ModelSpec& model,
                      double tokens) {
  fmt::print("{} on {} chips of each kind, {} tokens: each chip with its own spec sheet, defaults and layout{}\n\n",
             model.name, o.chips, si(tokens),
             o.results.empty() ? "" : ", and the measured efficiencies of the results files");
  fmt::print("  {:<14} {:>9} {:>8} {:>8} {:>7} {:>8} {:>10} {:>11} {:>9}  {:<12} {}\n", "chip", "step (s)", "tok/s",
             "vs first", "MFU", "days", "GPU-hours", "energy MWh", "memory", "op times", "layout");
  const double first = ps.front().estimate.tokens_per_s_per_chip;
  for (const auto& p : ps) {
    const StepEstimate& e = p.estimate;
    fmt::print("  {:<14} {:>9.3f} {:>8.0f} {:>7.2f}x {:>7} {:>8.1f} {:>10} {:>11} {:>6.0f} GB  {:<12} {}\n",
               p.chip->id, e.step_s, e.tokens_per_s_per_chip, e.tokens_per_s_per_chip / first, pct(e.mfu),
               p.totals.days, si(p.totals.gpu_hours),
               p.totals.energy_mwh ? fmt::format("{:.0f}", *p.totals.energy_mwh) : std::string("unknown"),
               e.memory_gb, fmt::format("{}/{}/{}", e.measured_ops, e.nearest_ops, e.projected_ops),
               compact_layout(p.layout));
  }
  fmt::print("\n  tok/s: tokens per second per chip; vs first: that over the first chip's. days and GPU-hours: wall clock at each chip's goodput "
             "assumption. op times: measured at the exact shape / nearest measured shape / roofline.\n");
  fmt::print("  model error: {}.\n", model_error_text());
  print_conventions(ps.front().estimate);
  // A note every chip has (the results files' own, mostly) is printed once.
  const auto everywhere = [&](const std::string& n) {
    return std::all_of(ps.begin(), ps.end(),
                       [&](const Projection& p) { return std::count(p.notes.begin(), p.notes.end(), n) > 0; });
  };
  std::vector<std::string> common;
  for (const auto& n : ps.front().notes)
    if (everywhere(n)) common.push_back(n);
  if (!common.empty()) {
    fmt::print("\nnotes for every chip\n");
    for (const auto& n : common) fmt::print("  - {}\n", n);
  }
  for (const auto& p : ps) {
    std::vector<std::string> own;
    for (const auto& n : p.notes)
      if (!everywhere(n)) own.push_back(n);
    if (own.empty()) continue;
    fmt::print("\nnotes for {}\n", p.chip->id);
    for (const auto& n : own) fmt::print("  - {}\n", n);
  }
  fmt::print("\nEach chip's assumptions and breakdown: the same command with --chip {} alone (or --json).\n",
             ps.front().chip->id);
}

}  // namespace

int run_project(const ProjectOptions& o) {
  if (o.validate) {
    if (!o.model.empty() || o.chips || !o.results.empty() || !o.assume.empty() || !o.chip.empty())
      throw Error("--validate predicts the built-in public runs with their own models, chips and layouts: it takes no "
                  "--model, --chips, --chip, --results or --assume");
    return run_validate(o.json);
  }
  for (std::size_t i = 0; i < o.results.size(); ++i)
    for (std::size_t j = 0; j < i; ++j)
      if (o.results[i] == o.results[j])
        throw Error(fmt::format("--results {} is given twice: each file counts once", o.results[i]));
  if (o.vpp > 1 && o.pp && o.pp < 2)
    throw Error(fmt::format("--vpp {} interleaves pipeline stages: it needs --pp 2 or more, not {}", o.vpp, o.pp));
  const ModelTable models = o.models_file.empty() ? ModelTable::builtin() : ModelTable::with_file(o.models_file);
  if (o.model.empty())
    throw Error(fmt::format("project needs --model NAME; known models: {}", models.ids()));
  if (o.chips <= 0) throw Error("project needs --chips N (the number of GPUs)");
  if (o.global_batch_tokens != 0 &&
      !(std::isfinite(o.global_batch_tokens) && o.global_batch_tokens >= 1 && o.global_batch_tokens <= 1e15))
    throw Error(fmt::format("--global-batch-tokens {} is not a token count from 1 to 1e15 (e.g. 4194304 or 4e6)",
                            o.global_batch_tokens));
  const ModelSpec& model = models.by_id(o.model);

  // The chips: named (one, or several separated by commas), else the one the results were measured on, else
  // the H100 SXM.
  std::vector<std::string> chip_ids = split_chip_list(o.chip);
  std::vector<std::string> notes;
  if (chip_ids.empty() && !o.results.empty()) {
    const Results r = read_results_file(o.results.front());
    if (r.context.chip) chip_ids.push_back(r.context.chip->id);
  }
  if (chip_ids.empty()) {
    chip_ids.push_back("h100-sxm");
    notes.push_back("no --chip given and no results files: projecting to h100-sxm");
  }
  std::vector<const ChipSpec*> chips;
  for (const auto& id : chip_ids) chips.push_back(&ChipTable::builtin().by_id(id));  // unknown: exit 2 with the list

  double tokens = 0;
  if (!o.tokens.empty()) tokens = parse_count(o.tokens, "--tokens");
  else if (model.train_tokens) tokens = *model.train_tokens;
  else throw Error(fmt::format("{} has no published training token count: give --tokens (e.g. 1T)", model.id));

  const Overrides overrides = parse_assume(o.assume, *chips.front());
  std::vector<Projection> ps;
  for (const ChipSpec* chip : chips) {
    try {
      ps.push_back(project_on(o, overrides, model, *chip, tokens, notes));
    } catch (const Error& err) {
      if (chips.size() == 1) throw;
      throw Error(fmt::format("{}: {}", chip->id, err.what()), err.code());
    }
  }
  if (ps.size() == 1) {
    if (o.json) fmt::print("{}\n", projection_json(ps.front(), model, o.chips, tokens).dump(2));
    else print_projection(o, ps.front(), model, tokens);
    return kExitOk;
  }
  if (o.json) {
    nlohmann::ordered_json all = nlohmann::ordered_json::array();
    for (const auto& p : ps) all.push_back(projection_json(p, model, o.chips, tokens));
    fmt::print("{}\n", nlohmann::ordered_json{{"model", model.id}, {"chips", o.chips}, {"tokens", tokens},
                                              {"projections", all}}
                           .dump(2));
  } else {
    print_chip_table(o, ps, model, tokens);
  }
  return kExitOk;
}

void print_models_list() {
  fmt::print("\nModels (harness/data/models.json; trainbench project --model ID):\n");
  fmt::print("  {:<16} {:<28} {:>9} {:>9} {:>6} {:>6} {:>7}  {}\n", "id", "name", "params", "active", "layers",
             "hidden", "seq", "group");
  for (const auto& m : ModelTable::builtin().models())
    fmt::print("  {:<16} {:<28} {:>9} {:>9} {:>6} {:>6} {:>7}  {}\n", m.id, m.name, si(m.total_params()),
               si(m.active_params()), m.layers, m.hidden, m.seq_len, m.group);
}

}  // namespace trainbench
