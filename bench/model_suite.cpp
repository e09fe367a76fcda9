#include "bench/model_suite.hpp"

#include <set>

#include <fmt/format.h>

#include "bench/impls.hpp"
#include "harness/chips.hpp"
#include "harness/error.hpp"
#include "harness/model.hpp"
#include "harness/step_model.hpp"

namespace trainbench {

bool is_model_suite(const std::string& suite) { return suite.rfind(kModelSuitePrefix, 0) == 0; }

Suite model_suite(const std::string& suite, const ModelSuiteOptions& o) {
  const std::string id = suite.substr(std::string(kModelSuitePrefix).size());
  const ModelSpec& model = ModelTable::builtin().by_id(id);
  Layout layout;
  layout.tp = o.tp;
  layout.ep = o.ep;
  layout.cp = o.cp;
  layout.dp = o.ep;  // the smallest data-parallel group that holds EP
  layout.seq = o.seq ? o.seq : model.seq_len;
  layout.micro_batch = o.micro_batch;
  layout.global_batch_tokens = double(layout.seq) * double(layout.micro_batch) * layout.dp;
  layout.precision = o.precision;
  // Per-GPU shapes depend on the model and the layout only; the chip sheet just lets the step
  // model run.
  const ChipSpec& chip = ChipTable::builtin().by_id("h100-sxm");
  const StepEstimate step = estimate_step(model, layout, chip, Assumptions::defaults_for(chip));

  register_all_impls();
  // The impls that compute the op (a BF16 GEMM impl does not take an FP8 one, nor INT8 an E4M3 one); the
  // SIMT GEMM is left out, too slow to matter at these sizes.
  auto impls_of = [](const Op& op) {
    std::vector<std::string> names;
    for (const auto& impl : registry().all())
      if (impl.family == op_family(op) && impl.name != "gemm.simt" && impl.unsupported(op).empty())
        names.push_back(impl.name);
    return names;
  };
  Suite s;
  s.name = suite;
  s.description = fmt::format("the per-GPU GEMM and attention ops of {} at {}{}", model.name, layout.describe(),
                              layout.cp > 1 ? " (attention over the whole sequence: a CP rank runs 1/CP of it)" : "");
  std::set<std::string> seen;
  for (const auto& op : step.ops) {
    if (!op.op) continue;
    const std::string key = op_family(*op.op) + op_label(*op.op);
    if (!seen.insert(key).second) continue;
    s.entries.push_back({*op.op, impls_of(*op.op)});
  }
  if (s.entries.empty()) throw Error(fmt::format("model {} expands into no measurable op", id));
  return s;
}

}  // namespace trainbench
