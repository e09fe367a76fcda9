// `trainbench show`: a results file read back as the tables `trainbench run` printed when it wrote
// it, under a header saying where and how it was measured. No GPU needed.
#pragma once
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "harness/results.hpp"

namespace trainbench {

struct ShowOptions {
  std::vector<std::string> files;
  std::string filter;  // a regular expression over benchmark names; empty: every benchmark
};
CLI::App* add_show_command(CLI::App& app, ShowOptions& options);
// Throws Error (exit 2) for an unreadable or malformed file, a bad --filter, or a filter that
// matches no benchmark of any file; every file is read before anything is printed.
int run_show(const ShowOptions& options);

// The header: GPU and chip spec, software and commit, the command, the measurement settings, and
// the count of benchmarks verified, failed and throttled.
std::string describe_results(const std::string& path, const Results& results);

}  // namespace trainbench
