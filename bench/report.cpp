#include "bench/report.hpp"

#include <fmt/format.h>

#include <map>

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
  fmt::print(out, "{:<6} {:<24} {:<20} {:>11} {:>14} {:>7} {:>8} {:>7} {:>7} {:>6}  {}\n", "op", "shape", "impl",
             "median us", "throughput", "% peak", "/vendor", "noise%", "samples", "MHz", "status");
  for (const auto& b : results.benchmarks) {
    const std::string shape = op_label(op_from_json(b.op, b.shape));
    if (!b.timed) {
      fmt::print(out, "{:<6} {:<24} {:<20} {:>11} {:>14} {:>7} {:>8} {:>7} {:>7} {:>6}  {}\n", b.op, shape, b.impl,
                 "-", "-", "-", "-", "-", "-", "-", b.error_message.empty() ? "not timed" : b.error_message);
      continue;
    }
    const std::string unit = headline_unit(b);
    const auto v = vendor.find(b.op + b.shape.dump());
    const std::string ratio = v != vendor.end() && v->second > 0 ? fmt::format("{:.3f}x", headline_throughput(b) / v->second) : "-";
    const std::string pct = b.pct_of_peak ? fmt::format("{:.1f}", *b.pct_of_peak) : "-";
    std::string status = b.verified ? "verified" : "UNVERIFIED";
    if (b.throttled) status += ", THROTTLED";
    if (b.stop_reason != "noise_target") status += ", noise target not met (" + b.stop_reason + ")";
    fmt::print(out, "{:<6} {:<24} {:<20} {:>11.2f} {:>14} {:>7} {:>8} {:>7.2f} {:>7} {:>6.0f}  {}\n", b.op, shape, b.impl,
               b.median_s * 1e6, fmt::format("{:.1f} {}", headline_throughput(b), unit), pct, ratio, b.noise * 100,
               b.samples_s.size(), b.sm_clock_mhz, status);
  }
  std::fflush(out);
}

}  // namespace trainbench
