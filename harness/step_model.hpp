// The time-to-train model: one training step of a reference model under a parallel layout,
// expanded into the ops one GPU runs (GEMMs at their per-GPU shapes, attention, memory-bound
// work), each timed from a measured result at that exact shape or from a roofline projection
// with named efficiencies; communication from ring formulas over the chip's links; the pipeline
// bubble from the 1F1B schedule. Every assumption is a named parameter with a default and a
// source, printed with the answer.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/chips.hpp"
#include "harness/comm.hpp"
#include "harness/gemm_efficiency.hpp"
#include "harness/model.hpp"
#include "harness/ops.hpp"
#include "harness/results.hpp"

namespace trainbench {

enum class Recompute { None, Selective, Full };
const char* recompute_name(Recompute r);
Recompute recompute_from_name(const std::string& name);  // throws Error naming the choices

struct Layout {
  int tp = 1, pp = 1, dp = 1, ep = 1, cp = 1;
  int vpp = 1;                        // interleaved pipeline chunks per stage (1 = plain 1F1B)
  std::uint64_t seq = 0;              // sequence length
  std::uint64_t micro_batch = 1;      // sequences per micro-batch per data-parallel rank
  double global_batch_tokens = 0;     // tokens per optimizer step, all replicas
  Recompute recompute = Recompute::None;
  int zero_stage = 1;                 // 0: all-reduce; 1/2: reduce-scatter + all-gather, sharded states; 3: + weights
  std::string precision = "bf16";     // GEMM inputs: "bf16" or "fp8" (E4M3)
  bool sequence_parallel = true;      // with tp > 1: norms and dropout split over TP, RS + AG instead of AR
  std::string attention = "flash";    // "flash" (fused, causal blocks skipped) or "unfused" (scores in memory)

  int chips() const { return tp * pp * dp * cp; }
  std::uint64_t micro_batches() const;  // per data-parallel rank per step
  std::string describe() const;         // "TP8 PP4 DP32 EP1 CP1, seq 8192, micro-batch 1, ..."
};

// A number the model rests on, with where it comes from.
struct Assumption {
  double value = 0;
  std::string source;
};

class Assumptions {
 public:
  // The defaults for a chip: efficiencies measured on it (or on the nearest measured chip, said
  // so), link bandwidths from its spec sheet, overlap and memory rules from public systems.
  static Assumptions defaults_for(const ChipSpec& chip);
  double operator[](const std::string& name) const;  // throws Error for an unknown name
  void set(const std::string& name, double value, const std::string& source);
  // Empty when `value` is one `name` can take; otherwise what it can take (efficiencies and
  // goodput in (0, 1], overlaps in [0, 1], gemm_shape_model 0 or 1, tile sizes, domain and batch
  // whole numbers, latencies and distances >= 0, the rest > 0; always finite).
  static std::string range_problem(const std::string& name, double value);
  const std::map<std::string, Assumption>& all() const { return items_; }

 private:
  std::map<std::string, Assumption> items_;
};

// Measurements from results files, usable for one chip.
class MeasuredOps {
 public:
  // Reads the files. Measurements taken on `chip` time ops at their exact shapes, and ops measured
  // at other shapes from the nearest measured one (nearest()). From every file, the best verified
  // throughput per family (GEMM BF16/FP8, attention fwd/bwd, copy) as a fraction of that file's
  // chip peak replaces the default efficiency in `assumptions`; a GEMM's divided first by its
  // shape's quantization factor (harness/gemm_efficiency.hpp), so that it is a best-shape figure.
  static MeasuredOps load(const std::vector<std::string>& files, const ChipSpec& chip, Assumptions& assumptions);
  struct Hit {
    double median_s = 0;
    std::string impl, file;
  };
  const Hit* find(const Op& op) const;

  // The measured op of the same kind nearest to `op` (GEMM: same input dtype, distance
  // |log2 m/m'| + |log2 n/n'| + |log2 k/k'|, +1 for another layout; attention: same pass, causal and
  // head_dim, distance over seq_q, seq_kv and batch x heads), if one lies within `max_distance`.
  struct Neighbour {
    Op op;
    double efficiency = 0;  // its achieved FLOP/s over the chip's peak for its dtype
    double distance = 0;
    std::string impl, file;
  };
  std::optional<Neighbour> nearest(const Op& op, double max_distance) const;

  std::size_t size() const { return by_key_.size(); }
  std::vector<std::string> notes;  // what was read, what was skipped and why

 private:
  std::map<std::string, Hit> by_key_;
  std::vector<Neighbour> points_;  // the fastest impl per measured shape, GEMM and attention
};

// The tiling the GEMM shape model assumes on `chip` (tile sides and split-K from `assumptions`,
// SMs from the spec sheet).
GemmTiling gemm_tiling(const ChipSpec& chip, const Assumptions& assumptions);

struct StepOp {
  std::string name;    // "attn.qkv", "mlp.down", "lm_head", ...
  std::string family;  // breakdown family: gemm, attention, norm+residual, activation, moe, ...
  std::string phase;   // fwd, bwd, recompute, step
  std::optional<Op> op;  // the measurable op; empty for memory-bound work given as bytes
  double flops = 0, bytes = 0;
  double count = 0;    // instances per step on the bottleneck GPU
  double time_s = 0;   // one instance
  std::string time_from;  // "measured: IMPL in FILE" / "nearest measured: ..." / "roofline (compute)" / "roofline (memory)"
};

struct CommItem {
  std::string name;  // "TP all-reduce", "DP reduce-scatter + all-gather", ...
  std::string link;
  double total_s = 0, exposed_s = 0;
};

struct StepEstimate {
  Layout layout;
  std::string chip_id;
  std::vector<StepOp> ops;
  std::vector<CommItem> comm;
  double compute_s = 0;     // all micro-batches' ops, optimizer included
  double bubble_s = 0;
  double exposed_comm_s = 0;
  double step_s = 0;
  double tokens_per_s_per_chip = 0;
  double model_flops_per_token = 0;     // our convention (causal halving, no recompute)
  double hardware_flops_per_token = 0;  // executed: recompute and the attention backward's recompute
  double mfu = 0;                       // over dense BF16 peak
  double mfu_precision_peak = 0;        // over the GEMM precision's own peak
  double hfu = 0;
  double memory_gb = 0;                 // estimated per-GPU footprint
  std::size_t measured_ops = 0, nearest_ops = 0, projected_ops = 0;  // exact shape / nearest shape / roofline
  std::map<std::string, double> breakdown_s;  // family -> seconds per step (+ "exposed comm", "bubble")
  std::vector<std::string> notes;
};

// Checks that the layout divides the chips and the model; throws Error (exit 2) naming the
// problem and what would work.
void validate_layout(const ModelSpec& model, const Layout& layout, int chips);

// One training step. `measured` may be null (roofline only).
StepEstimate estimate_step(const ModelSpec& model, const Layout& layout, const ChipSpec& chip,
                           const Assumptions& assumptions, const MeasuredOps* measured = nullptr);

// Executed FLOPs per token: model FLOPs plus the recomputed forward (full: the layers; selective:
// attention) plus the fused attention backward's recomputation of the scores (2.5x instead of 2x).
double hardware_flops_per_token(const ModelSpec& model, const Layout& layout);

// The layout fields a user fixed; the rest are searched.
struct LayoutRequest {
  std::optional<int> tp, pp, dp, ep, cp, vpp, zero_stage;
  std::optional<std::uint64_t> seq, micro_batch;
  std::optional<double> global_batch_tokens;
  std::optional<Recompute> recompute;
  std::string precision = "bf16";
  bool complete() const { return tp && pp && dp && ep && cp && seq && micro_batch && global_batch_tokens && recompute; }
};

struct LayoutChoice {
  Layout layout;
  bool searched = false;
  std::vector<std::string> reasons;  // why this layout, what was adjusted
};

// The fastest layout that fits in the chip's memory among TP in {1,2,4,8} within one scale-up
// domain, PP over powers of two, EP over powers of two dividing the experts, recompute none, then
// selective, then full; fields given in `request` are kept. Throws Error if nothing fits.
LayoutChoice choose_layout(const ModelSpec& model, int chips, const ChipSpec& chip, const Assumptions& assumptions,
                           const LayoutRequest& request, const MeasuredOps* measured = nullptr);

nlohmann::ordered_json estimate_to_json(const StepEstimate& e);

}  // namespace trainbench
