// The CI regression check: did the current results get slower than the baseline, for real?
//
// A benchmark regresses when its median time grows by more than `max_regression` (or the threshold
// of the first `thresholds` pattern its name matches) AND the
// two-sided Mann-Whitney U test on the stored samples gives p < alpha (Google Benchmark's
// compare.py test) AND the slowdown also holds in cycle space (each sample's seconds x its
// measured SM clock): a card that merely ran at a lower clock is reported as such, not as a code
// regression. A current result that failed verification is a regression too.
//
// Repetitions as separate processes: each side may be several files (one per process). Their
// samples are pooled for the test, and a regression must also be slower in every current process
// than in every baseline process (per-process medians do not overlap), so between-process drift
// alone never fails a check.
#pragma once
#include <string>
#include <vector>

#include "harness/compare.hpp"

namespace trainbench {

// A threshold of its own for the benchmarks whose names (op/impl/shape) match a regular expression: one
// threshold rarely fits all (a 10 us kernel is noisier than a 10 ms GEMM).
struct Threshold {
  std::string pattern;  // ECMAScript regular expression, searched in the benchmark name
  double max_regression = 0.05;
};

struct CheckOptions {
  double max_regression = 0.05;  // fraction: 0.05 = 5% slower
  std::vector<Threshold> thresholds{};  // the first whose pattern matches wins over max_regression
  double alpha = 0.01;
  bool allow_different_device = false;
  // A benchmark of the baseline that the current results lack fails the check (a kernel that
  // crashed or was dropped must not pass unseen) unless this is set.
  bool allow_missing = false;
};

enum class Verdict {
  Regression,   // slower beyond the threshold, significant, in time and in cycles
  Failed,       // the current result failed verification or could not run
  ClockOnly,    // slower in time but not in cycles: the clock was lower
  Improvement,  // faster beyond the threshold, significant
  Unchanged,
  Missing,      // in the baseline only
  New,          // in the current results only (or the baseline had no number)
};
const char* verdict_name(Verdict v);

struct CheckRow {
  std::string name;
  Verdict verdict = Verdict::Unchanged;
  double baseline_median_s = 0, current_median_s = 0;
  double change = 0;          // (current - baseline) / baseline, in time; > 0 is slower
  double p_value = 1;
  bool cycles_known = false;  // every sample carried its SM clock
  double cycle_change = 0;    // the same in cycles
  double cycle_p_value = 1;
  double baseline_clock_mhz = 0, current_clock_mhz = 0;
  std::size_t baseline_samples = 0, current_samples = 0;
  int baseline_processes = 0, current_processes = 0;
  double max_regression = 0;  // the threshold this benchmark was judged by
  std::string note;
};

struct CheckReport {
  CheckOptions options;
  std::string baseline_device, current_device;
  std::vector<CheckRow> rows;
  std::vector<std::string> unmatched_thresholds;  // --threshold patterns no benchmark matched (a typo?)
  int count(Verdict v) const;
  // Regressions, failures, and (unless options.allow_missing) benchmarks missing from the current results.
  bool failed() const {
    return count(Verdict::Regression) + count(Verdict::Failed) + (options.allow_missing ? 0 : count(Verdict::Missing)) > 0;
  }
};

// Throws Error (exit 2) when the files come from different GPUs and that is not allowed, when
// a side is empty, when no benchmark is in both (different suites: nothing was checked), or when a
// threshold's pattern is not a regular expression or its value not a positive fraction.
CheckReport check_results(const std::vector<NamedResults>& baseline, const std::vector<NamedResults>& current,
                          const CheckOptions& options);

// The summary a CI job posts: regressions, improvements, clock-only slowdowns, unchanged count,
// missing and new benchmarks, the overall change (geometric mean of current / baseline median
// time), and a note when benchmarks had one process (results file) on a side.
std::string check_markdown(const CheckReport& report);

}  // namespace trainbench
