// `trainbench run --suite model:NAME`: the GEMM and attention ops one GPU runs in a training step
// of a reference model (harness/data/models.json) under a layout, each at its exact per-GPU shape,
// so that `trainbench project --results` times them as measured rather than projected.
#pragma once
#include <cstdint>
#include <string>

#include "bench/suites.hpp"

namespace trainbench {

struct ModelSuiteOptions {
  int tp = 8, ep = 1, cp = 1;
  std::uint64_t seq = 0;  // 0: the model's published training sequence length
  std::uint64_t micro_batch = 1;
  std::string precision = "bf16";
};

inline constexpr const char* kModelSuitePrefix = "model:";
bool is_model_suite(const std::string& suite);

// The distinct measurable ops of one step (forward, dgrad and wgrad GEMMs, attention forward and
// backward), each with every registered impl of its family but the SIMT baseline. Throws Error
// for an unknown model or a layout that does not divide the model.
Suite model_suite(const std::string& suite, const ModelSuiteOptions& options);

}  // namespace trainbench
