// `trainbench compare` and `trainbench check`: results files side by side, and the CI regression
// check. Neither needs a GPU.
#pragma once
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "harness/check.hpp"

namespace trainbench {

struct CompareOptions {
  std::vector<std::string> files;
  std::string format = "table";
  std::vector<std::string> pairs;  // "OURS=THEIRS"
};
CLI::App* add_compare_command(CLI::App& app, CompareOptions& options);
int run_compare(const CompareOptions& options);

struct CheckCommandOptions {
  std::vector<std::string> baseline, current;
  std::string max_regression = "5%";
  std::vector<std::string> thresholds;  // "REGEX=8%"
  CheckOptions check;
};
CLI::App* add_check_command(CLI::App& app, CheckCommandOptions& options);
// Exit code: 1 on any regression, 0 otherwise; throws Error (exit 2) for bad input.
int run_check(CheckCommandOptions options);

// "5%" -> 0.05, "0.05" -> 0.05; throws Error for anything else.
double parse_fraction(const std::string& text, const char* what);
// "attention/=8%" -> {"attention/", 0.08}: split at the last '='; throws Error without one.
Threshold parse_threshold(const std::string& text);

}  // namespace trainbench
