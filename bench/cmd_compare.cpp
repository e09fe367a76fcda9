#include "bench/cmd_compare.hpp"

#include <cmath>
#include <cstdio>
#include <set>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "harness/error.hpp"
#include "harness/suggest.hpp"

namespace trainbench {
namespace {

std::vector<NamedResults> read_all(const std::vector<std::string>& paths) {
  std::vector<NamedResults> out;
  for (const auto& p : paths) out.push_back({p, read_results_file(p)});
  return out;
}

}  // namespace

double parse_fraction(const std::string& text, const char* what) {
  std::string t = text;
  const bool percent = !t.empty() && t.back() == '%';
  if (percent) t.pop_back();
  double v = 0;
  try {
    std::size_t used = 0;
    v = std::stod(t, &used);
    if (used != t.size()) throw std::invalid_argument(text);
  } catch (const std::exception&) {
    throw Error(fmt::format("{} \"{}\" is not a number; write it as 5% or 0.05", what, text));
  }
  if (!std::isfinite(v) || v <= 0)
    throw Error(fmt::format("{} \"{}\" must be a positive, finite fraction; write it as 5% or 0.05", what, text));
  // "5" is more likely 5% than 500%: a bare number must be a fraction below 1.
  if (!percent && v >= 1)
    throw Error(fmt::format("{} \"{}\" would be {:g}%; write {}% for {} percent, or a fraction below 1 (0.05)", what,
                            text, 100 * v, text, text));
  return percent ? v / 100 : v;
}

CLI::App* add_compare_command(CLI::App& app, CompareOptions& o) {
  auto* cmd = app.add_subcommand("compare", "Put results files side by side: throughput, ratio to the first, "
                                            "% of each chip's peak, geomean per op family (no GPU needed)");
  cmd->add_option("files", o.files, "Results files; the first is the reference")->required();
  cmd->add_option("--format", o.format, "table, markdown, csv or json")
      ->capture_default_str()
      ->check(CLI::IsMember({"table", "markdown", "csv", "json"}));
  cmd->add_option("--pair", o.pairs,
                  "OURS=THEIRS: match impl THEIRS in the later files with OURS in the first "
                  "(e.g. gemm.cublas=torch.matmul for a peer's results); repeatable");
  return cmd;
}

int run_compare(const CompareOptions& o) {
  if (o.files.size() < 2)
    throw Error(fmt::format("compare needs two or more results files, got {}; `trainbench show {}` prints one",
                            o.files.size(), o.files.empty() ? "FILE" : o.files.front()));
  std::map<std::string, std::string> pairs;
  for (const auto& p : o.pairs) {
    const auto eq = p.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == p.size())
      throw Error(fmt::format("--pair \"{}\" is not of the form OURS=THEIRS (e.g. gemm.cublas=torch.matmul)", p));
    pairs[p.substr(eq + 1)] = p.substr(0, eq);
  }
  const auto files = read_all(o.files);
  // A --pair that pairs nothing here is said (a typo, or a suite without that impl: scripts pass
  // one list of pairs to every suite, so it is a warning, not an error).
  for (const auto& [theirs, ours] : pairs) {
    std::set<std::string> first_impls, later_impls;
    for (std::size_t f = 0; f < files.size(); ++f)
      for (const auto& b : files[f].results.benchmarks) (f == 0 ? first_impls : later_impls).insert(b.impl);
    const bool ours_found = first_impls.count(ours) > 0;
    if (!ours_found || !later_impls.count(theirs)) {
      const auto& impls = !ours_found ? first_impls : later_impls;
      const std::string& missing = !ours_found ? ours : theirs;
      spdlog::warn("--pair {}={} pairs nothing: {} is in {}{} (impls are named as `trainbench list` and the peer's "
                   "file name them)",
                   ours, theirs, missing,
                   !ours_found ? "no benchmark of the first file" : "no benchmark of the later files",
                   did_you_mean(missing, {impls.begin(), impls.end()}));
    }
  }
  const std::string text = render_comparison(compare_results(files, pairs), table_format_from_name(o.format));
  std::fwrite(text.data(), 1, text.size(), stdout);
  return kExitOk;
}

Threshold parse_threshold(const std::string& text) {
  const auto eq = text.rfind('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == text.size())
    throw Error(fmt::format("--threshold \"{}\" is not REGEX=SLOWDOWN; write it as, e.g., 'attention/=8%'", text));
  return Threshold{text.substr(0, eq), parse_fraction(text.substr(eq + 1), "--threshold")};
}

CLI::App* add_check_command(CLI::App& app, CheckCommandOptions& o) {
  auto* cmd = app.add_subcommand(
      "check", "CI regression check: exit 1 when a benchmark got significantly slower than the baseline; prints a "
               "Markdown summary (no GPU needed)");
  cmd->add_option("--baseline", o.baseline, "Baseline results file(s); several = repetitions as separate processes")
      ->required();
  cmd->add_option("--current", o.current, "Current results file(s); several = repetitions as separate processes")
      ->required();
  cmd->add_option("--max-regression", o.max_regression, "Slowdown of the median that counts, e.g. 5% or 0.05")
      ->capture_default_str();
  cmd->add_option("--threshold", o.thresholds,
                  "REGEX=SLOWDOWN: the slowdown that counts for benchmarks whose name (op/impl/shape) matches REGEX, "
                  "e.g. 'memory\\.copy=10%'; repeatable, the first match wins over --max-regression");
  cmd->add_option("--alpha", o.check.alpha, "Significance level of the Mann-Whitney U test")->capture_default_str();
  cmd->add_flag("--allow-different-device", o.check.allow_different_device,
                "Check files from different GPUs against each other");
  cmd->add_flag("--allow-missing", o.check.allow_missing,
                "Pass even when benchmarks of the baseline are missing from the current results (they fail the "
                "check otherwise)");
  return cmd;
}

int run_check(CheckCommandOptions o) {
  o.check.max_regression = parse_fraction(o.max_regression, "--max-regression");
  for (const auto& t : o.thresholds) o.check.thresholds.push_back(parse_threshold(t));
  const auto baseline = read_all(o.baseline);
  const auto current = read_all(o.current);
  const CheckReport report = check_results(baseline, current, o.check);
  const std::string text = check_markdown(report);
  std::fwrite(text.data(), 1, text.size(), stdout);
  return report.failed() ? kExitCheckFailed : kExitOk;
}

}  // namespace trainbench
