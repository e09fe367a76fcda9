// Public training runs the time-to-train model predicts, with their published layouts and figures,
// each normalised to the convention the publication used (`trainbench project --validate`).
#pragma once
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "harness/step_model.hpp"

namespace trainbench {

struct PublishedRun {
  std::string id, label, model, chip;
  int chips = 0;
  Layout layout;                       // as published (fields not published are named in `assumed`)
  std::optional<LayoutRequest> search;  // set: the published fields; choose_layout picks the rest
  // Mechanisms the run published that the defaults lack (DeepSeek-V3's FP8 dispatch, say), each named in
  // `assumed`; never a value fitted to the published figure.
  std::vector<std::pair<std::string, double>> assume;
  // What the publication reports and how it counts:
  //   "tflops_recompute"  TF/GPU with Megatron 2021's formula 96 B s l h^2 (1 + s/6h + V/16 l h): every matmul
  //                       including the recomputed forward, attention over the full s x s (no causal halving)
  //   "mfu_full_attention" / "hfu_full_attention"  6N + 12 L H Q T (no causal halving) over the BF16 peak,
  //                       HFU adding the recomputed forward
  //   "mfu"               trainbench's model FLOPs (6N + attention halved for the causal mask) over the BF16 peak
  //   "gpu_hours"         GPU-hours for train_tokens, wall-clock (steady state divided by the goodput assumption)
  //   "gpu_hours_steady"  GPU-hours for train_tokens at the steady-state step rate (a figure derived from
  //                       throughput, as DeepSeek-V3's 180K GPU-hours per trillion tokens)
  std::string metric;
  double published = 0;
  double train_tokens = 0;  // for gpu_hours
  std::string source, assumed, when_off;
};

struct ValidationRow {
  PublishedRun run;
  double predicted = 0;
  double error = 0;  // (predicted - published) / published
  StepEstimate estimate;
};

const std::vector<PublishedRun>& published_runs();
// Predicts every run with the default assumptions of its chip (no per-row tuning).
std::vector<ValidationRow> validate_published_runs();
std::string metric_unit(const std::string& metric);

// How far the predictions land from the published figures, sign aside (the metrics differ in which way
// is faster): the figure a projection's reader weighs it by.
struct ValidationSummary {
  std::size_t figures = 0, within_20pct = 0;  // within: |error| <= 20%
  double median_abs_error = 0, max_abs_error = 0;
};
ValidationSummary summarize_validation(const std::vector<ValidationRow>& rows);

}  // namespace trainbench
