// `trainbench project`: days, GPU-hours and energy to train a reference model on N chips, from
// measured results where they exist and roofline projections from spec sheets elsewhere; and
// `--validate`, the table of public training runs predicted against what was published. No GPU needed.
#pragma once
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace trainbench {

struct ProjectOptions {
  std::string model, chip, tokens, models_file, recompute, precision = "bf16", attention = "flash";
  int chips = 0;
  std::vector<std::string> results, assume;
  int tp = 0, pp = 0, dp = 0, ep = 0, cp = 0, vpp = 0, zero = -1;
  std::uint64_t seq = 0, micro_batch = 0;
  double global_batch_tokens = 0;
  bool no_sequence_parallel = false, json = false, ops = false, validate = false;
};
CLI::App* add_project_command(CLI::App& app, ProjectOptions& options);
int run_project(const ProjectOptions& options);

// The models table `trainbench list` prints.
void print_models_list();

}  // namespace trainbench
