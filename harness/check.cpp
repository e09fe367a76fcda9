#include "harness/check.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <regex>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "harness/error.hpp"
#include "harness/significance.hpp"
#include "harness/stats.hpp"

namespace trainbench {
namespace {

// One benchmark's results on one side, over every process (file) that ran it.
struct Side {
  std::string name;
  std::vector<double> seconds, cycles;
  std::vector<double> process_medians;
  std::vector<double> clocks;
  bool cycles_known = true;
  bool all_timed = true;
  std::string failure;  // why a process gave no number
};

std::map<std::string, Side> gather(const std::vector<NamedResults>& files, std::vector<std::string>& order) {
  std::map<std::string, Side> sides;
  for (const auto& file : files) {
    for (const auto& b : file.results.benchmarks) {
      const std::string key = benchmark_key(b);
      auto [it, inserted] = sides.try_emplace(key);
      if (inserted) order.push_back(key);
      Side& s = it->second;
      s.name = b.name;
      if (!b.timed) {
        s.all_timed = false;
        if (s.failure.empty()) s.failure = b.error_message.empty() ? "not timed" : b.error_message;
        continue;
      }
      s.process_medians.push_back(b.median_s);
      for (std::size_t i = 0; i < b.samples_s.size(); ++i) {
        s.seconds.push_back(b.samples_s[i]);
        const double mhz = i < b.samples_sm_clock_mhz.size() ? b.samples_sm_clock_mhz[i] : 0.0;
        if (mhz <= 0) s.cycles_known = false;
        s.clocks.push_back(mhz);
        s.cycles.push_back(b.samples_s[i] * mhz * 1e6);
      }
    }
  }
  return sides;
}

std::string device_of(const std::vector<NamedResults>& files, bool allow_different, const char* side) {
  const std::string first = files.front().results.context.device.name;
  for (const auto& f : files)
    if (f.results.context.device.name != first && !allow_different)
      throw Error(fmt::format("the {} files come from different GPUs: {} is \"{}\" but {} is \"{}\"; pass "
                              "--allow-different-device to check them anyway",
                              side, files.front().path, first, f.path, f.results.context.device.name));
  return first;
}

double relative_change(double base, double cur) { return base > 0 ? (cur - base) / base : 0.0; }

}  // namespace

const char* verdict_name(Verdict v) {
  switch (v) {
    case Verdict::Regression: return "regression";
    case Verdict::Failed: return "failed";
    case Verdict::ClockOnly: return "slower clock";
    case Verdict::Improvement: return "improvement";
    case Verdict::Unchanged: return "unchanged";
    case Verdict::Missing: return "missing";
    case Verdict::New: return "new";
  }
  return "?";
}

int CheckReport::count(Verdict v) const {
  return static_cast<int>(std::count_if(rows.begin(), rows.end(), [v](const CheckRow& r) { return r.verdict == v; }));
}

CheckReport check_results(const std::vector<NamedResults>& baseline, const std::vector<NamedResults>& current,
                          const CheckOptions& options) {
  if (baseline.empty() || current.empty()) throw Error("check needs at least one baseline and one current file");
  if (!(options.max_regression > 0) || !(options.alpha > 0 && options.alpha < 1))
    throw Error("--max-regression must be > 0 and --alpha between 0 and 1");
  std::vector<std::regex> patterns;
  for (const auto& t : options.thresholds) {
    if (!(t.max_regression > 0)) throw Error(fmt::format("--threshold {}: the slowdown must be > 0", t.pattern));
    try {
      patterns.emplace_back(t.pattern);
    } catch (const std::regex_error& e) {
      throw Error(fmt::format("--threshold \"{}\" is not a regular expression ({})", t.pattern, e.what()));
    }
  }
  const auto threshold_of = [&](const std::string& name) {
    for (std::size_t i = 0; i < patterns.size(); ++i)
      if (std::regex_search(name, patterns[i])) return options.thresholds[i].max_regression;
    return options.max_regression;
  };
  CheckReport report;
  report.options = options;
  report.baseline_device = device_of(baseline, options.allow_different_device, "baseline");
  report.current_device = device_of(current, options.allow_different_device, "current");
  if (report.baseline_device != report.current_device && !options.allow_different_device)
    throw Error(fmt::format("baseline ran on \"{}\" but current on \"{}\": a check compares one kind of GPU with "
                            "itself; pass --allow-different-device to compare anyway, or use `trainbench compare`",
                            report.baseline_device, report.current_device));

  std::vector<std::string> base_order, cur_order;
  const auto base = gather(baseline, base_order);
  const auto cur = gather(current, cur_order);

  for (const auto& key : cur_order) {
    const Side& c = cur.at(key);
    CheckRow row;
    row.name = c.name;
    row.current_processes = static_cast<int>(c.process_medians.size());
    row.current_samples = c.seconds.size();
    const auto b_it = base.find(key);
    if (!c.all_timed) {
      row.verdict = Verdict::Failed;
      row.note = c.failure;
      report.rows.push_back(row);
      continue;
    }
    if (b_it == base.end() || b_it->second.seconds.empty()) {
      row.verdict = Verdict::New;
      if (b_it != base.end()) row.note = "the baseline has no number for it (" + b_it->second.failure + ")";
      report.rows.push_back(row);
      continue;
    }
    const Side& b = b_it->second;
    row.baseline_processes = static_cast<int>(b.process_medians.size());
    row.baseline_samples = b.seconds.size();
    row.baseline_median_s = summarize(b.seconds).median;
    row.current_median_s = summarize(c.seconds).median;
    row.change = relative_change(row.baseline_median_s, row.current_median_s);
    row.p_value = mann_whitney_u(b.seconds, c.seconds).p_value;
    row.cycles_known = b.cycles_known && c.cycles_known;
    if (row.cycles_known) {
      row.baseline_clock_mhz = summarize(b.clocks).median;
      row.current_clock_mhz = summarize(c.clocks).median;
      row.cycle_change = relative_change(summarize(b.cycles).median, summarize(c.cycles).median);
      row.cycle_p_value = mann_whitney_u(b.cycles, c.cycles).p_value;
    }
    row.max_regression = threshold_of(row.name);
    const double limit = row.max_regression;
    const bool significant = row.p_value < options.alpha;
    const bool processes_apart = *std::min_element(c.process_medians.begin(), c.process_medians.end()) >
                                 *std::max_element(b.process_medians.begin(), b.process_medians.end());
    const bool processes_apart_faster = *std::max_element(c.process_medians.begin(), c.process_medians.end()) <
                                        *std::min_element(b.process_medians.begin(), b.process_medians.end());
    if (row.change > limit && significant) {
      if (!processes_apart) {
        row.verdict = Verdict::Unchanged;
        row.note = "slower overall, but some current process was as fast as a baseline process (between-process noise)";
      } else if (row.cycles_known &&
                 !(row.cycle_change > limit && row.cycle_p_value < options.alpha)) {
        row.verdict = Verdict::ClockOnly;
        row.note = fmt::format("not slower in cycles ({:+.1f}%): SM clock {:.0f} -> {:.0f} MHz", 100 * row.cycle_change,
                               row.baseline_clock_mhz, row.current_clock_mhz);
      } else {
        row.verdict = Verdict::Regression;
        if (!row.cycles_known) row.note = "SM clock not recorded: not confirmed in cycle space";
      }
    } else if (row.change < -limit && significant && processes_apart_faster) {
      row.verdict = Verdict::Improvement;
    } else {
      row.verdict = Verdict::Unchanged;
    }
    report.rows.push_back(row);
  }
  if (std::none_of(cur_order.begin(), cur_order.end(), [&](const std::string& key) { return base.count(key) > 0; }))
    throw Error(fmt::format("no benchmark is in both the baseline ({} benchmarks) and the current results ({}): "
                            "nothing to check; were they run with the same suite and --filter?",
                            base_order.size(), cur_order.size()));
  for (const auto& key : base_order) {
    if (cur.count(key)) continue;
    CheckRow row;
    row.name = base.at(key).name;
    row.verdict = Verdict::Missing;
    row.baseline_processes = static_cast<int>(base.at(key).process_medians.size());
    report.rows.push_back(row);
  }
  for (std::size_t i = 0; i < patterns.size(); ++i)
    if (std::none_of(report.rows.begin(), report.rows.end(),
                     [&](const CheckRow& row) { return std::regex_search(row.name, patterns[i]); }))
      report.unmatched_thresholds.push_back(options.thresholds[i].pattern);
  return report;
}

std::string check_markdown(const CheckReport& r) {
  std::string out;
  std::vector<std::string> problems;
  if (const int n = r.count(Verdict::Regression)) problems.push_back(fmt::format("{} regression(s)", n));
  if (const int n = r.count(Verdict::Failed)) problems.push_back(fmt::format("{} failed", n));
  if (const int n = r.count(Verdict::Missing); n && !r.options.allow_missing)
    problems.push_back(fmt::format("{} missing", n));
  out += fmt::format("## trainbench check: {}\n\n",
                     problems.empty() ? std::string("no regression") : fmt::format("{}", fmt::join(problems, ", ")));
  std::string limits = fmt::format("{:.1f}%", 100 * r.options.max_regression);
  for (const auto& t : r.options.thresholds)
    limits += fmt::format(" ({:.1f}% for benchmarks matching `{}`)", 100 * t.max_regression, t.pattern);
  out += fmt::format("Baseline on {}, current on {}. A regression: median slower by more than {}, Mann-Whitney "
                     "p < {:g}, also in cycles (time x SM clock).\n\n",
                     r.baseline_device, r.current_device, limits, r.options.alpha);
  for (const auto& pattern : r.unmatched_thresholds)
    out += fmt::format("Note: --threshold `{}` matched no benchmark.\n\n", pattern);
  // Google Benchmark compare.py's OVERALL_GEOMEAN: the geometric mean of current / baseline median time.
  double log_sum = 0;
  int timed_both = 0, one_process = 0;
  for (const auto& row : r.rows) {
    if (row.baseline_median_s <= 0 || row.current_median_s <= 0) continue;
    log_sum += std::log(row.current_median_s / row.baseline_median_s);
    ++timed_both;
    one_process += row.baseline_processes == 1 || row.current_processes == 1;
  }
  if (timed_both)
    out += fmt::format("Overall: {:+.1f}% in time (geometric mean of current / baseline median over {} "
                       "benchmark{}).\n\n",
                       100 * (std::exp(log_sum / timed_both) - 1), timed_both, timed_both == 1 ? "" : "s");
  if (one_process)
    out += fmt::format("Note: {} of these benchmarks have one process (results file) on a side. Noise within one run "
                       "understates the drift between CI jobs, so a change of "
                       "a few percent may be the machine, not the code: pass three or more files per side (one per "
                       "process), and a regression must then be slower in every current process than in every "
                       "baseline one.\n\n",
                       one_process);
  out += fmt::format("| regressions | failed | slower clock only | improvements | unchanged | missing | new |\n"
                     "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n"
                     "| {} | {} | {} | {} | {} | {} | {} |\n",
                     r.count(Verdict::Regression), r.count(Verdict::Failed), r.count(Verdict::ClockOnly),
                     r.count(Verdict::Improvement), r.count(Verdict::Unchanged), r.count(Verdict::Missing),
                     r.count(Verdict::New));
  auto timed_table = [&](Verdict v, const char* title) {
    if (!r.count(v)) return;
    out += fmt::format("\n### {}\n\n| benchmark | baseline us | current us | change | threshold | p | change in "
                       "cycles | processes | note |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n",
                       title);
    for (const auto& row : r.rows) {
      if (row.verdict != v) continue;
      out += fmt::format("| {} | {:.2f} | {:.2f} | {:+.1f}% | {:.1f}% | {:.2g} | {} | {} vs {} | {} |\n", row.name,
                         row.baseline_median_s * 1e6, row.current_median_s * 1e6, 100 * row.change,
                         100 * row.max_regression, row.p_value,
                         row.cycles_known ? fmt::format("{:+.1f}%", 100 * row.cycle_change) : "-",
                         row.baseline_processes, row.current_processes, row.note);
    }
  };
  auto name_list = [&](Verdict v, const char* title) {
    if (!r.count(v)) return;
    out += fmt::format("\n### {}\n\n", title);
    for (const auto& row : r.rows)
      if (row.verdict == v) out += fmt::format("- {}{}\n", row.name, row.note.empty() ? "" : ": " + row.note);
  };
  timed_table(Verdict::Regression, "Regressions");
  name_list(Verdict::Failed, "Failed (verification or run)");
  timed_table(Verdict::ClockOnly, "Slower only because the clock was lower");
  timed_table(Verdict::Improvement, "Improvements");
  name_list(Verdict::Missing, r.options.allow_missing ? "Missing from the current results (allowed)"
                                                       : "Missing from the current results (a failure; --allow-missing "
                                                         "to accept)");
  name_list(Verdict::New, "New in the current results");
  return out;
}

}  // namespace trainbench
