#include "bench/report.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <vector>

#include "bench/impls.hpp"
#include "harness/ops.hpp"

namespace trainbench {
namespace {

bool is_vendor(const std::string& impl) {
  for (const auto& i : registry().all())
    if (i.name == impl) return i.vendor;
  return false;
}

}  // namespace

void print_table(const Results& results, std::FILE* out) {
  register_all_impls();
  // The vendor baseline of each (op, shape): the first vendor impl that was timed.
  std::map<std::string, double> vendor;
  for (const auto& b : results.benchmarks) {
    const std::string key = b.op + b.shape.dump();
    if (b.timed && is_vendor(b.impl) && !vendor.count(key)) vendor[key] = headline_throughput(b);
  }
  // One row of cells per benchmark, then columns as wide as their widest cell (shape labels of
  // attention ops run long).
  std::vector<std::vector<std::string>> rows{
      {"op", "shape", "impl", "median us", "throughput", "% peak", "/vendor", "noise%", "samples", "MHz", "status"}};
  for (const auto& b : results.benchmarks) {
    const std::string shape = op_label(op_from_json(b.op, b.shape));
    if (!b.timed) {
      rows.push_back({b.op, shape, b.impl, "-", "-", "-", "-", "-", "-", "-",
                      b.error_message.empty() ? "not timed" : b.error_message});
      continue;
    }
    const auto v = vendor.find(b.op + b.shape.dump());
    const std::string ratio =
        v != vendor.end() && v->second > 0 ? fmt::format("{:.3f}x", headline_throughput(b) / v->second) : "-";
    std::string status = b.verified ? "verified" : "UNVERIFIED";
    if (b.throttled) status += ", THROTTLED";
    if (b.stop_reason != "noise_target") status += ", noise target not met (" + b.stop_reason + ")";
    rows.push_back({b.op, shape, b.impl, fmt::format("{:.2f}", b.median_s * 1e6),
                    fmt::format("{:.1f} {}", headline_throughput(b), headline_unit(b)),
                    b.pct_of_peak ? fmt::format("{:.1f}", *b.pct_of_peak) : "-", ratio,
                    fmt::format("{:.2f}", b.noise * 100), std::to_string(b.samples_s.size()),
                    fmt::format("{:.0f}", b.sm_clock_mhz), status});
  }
  std::vector<std::size_t> width(rows.front().size(), 0);
  for (const auto& r : rows)
    for (std::size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  for (const auto& r : rows) {
    std::string line;
    for (std::size_t i = 0; i < r.size(); ++i) {
      const bool left = i < 3 || i + 1 == r.size();
      if (i) line += ' ';
      line += left ? fmt::format("{:<{}}", r[i], i + 1 == r.size() ? 0 : width[i]) : fmt::format("{:>{}}", r[i], width[i]);
    }
    fmt::print(out, "{}\n", line);
  }
  std::fflush(out);
}

}  // namespace trainbench
