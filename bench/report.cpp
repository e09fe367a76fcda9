#include "bench/report.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <vector>

#include "bench/impls.hpp"
#include "harness/nvml.hpp"
#include "harness/ops.hpp"

namespace trainbench {
namespace {

bool is_vendor(const std::string& impl) {
  for (const auto& i : registry().all())
    if (i.name == impl) return i.vendor;
  return false;
}

// Columns as wide as their widest cell; the first `left` columns and the last one left-aligned,
// the others right-aligned (numbers); the last column unpadded.
void print_aligned(const std::vector<std::vector<std::string>>& rows, std::size_t left, std::FILE* out) {
  std::vector<std::size_t> width(rows.front().size(), 0);
  for (const auto& r : rows)
    for (std::size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  for (const auto& r : rows) {
    std::string line;
    for (std::size_t i = 0; i < r.size(); ++i) {
      const bool last = i + 1 == r.size();
      if (i) line += ' ';
      line += i < left || last ? fmt::format("{:<{}}", r[i], last ? 0 : width[i]) : fmt::format("{:>{}}", r[i], width[i]);
    }
    fmt::print(out, "{}\n", line);
  }
  std::fflush(out);
}

std::string scientific(double x) { return std::isfinite(x) ? fmt::format("{:.1e}", x) : "non-finite"; }

// One accuracy cell: the verification error, the normwise error in parentheses, '*' when above
// the impl's own tolerance (the bound of its ordinary runs).
std::string accuracy_cell(const BenchmarkResult& b) {
  if (b.error_occurred && b.verify_detail.empty()) return "not run";
  std::string cell = scientific(b.verify_error);
  if (b.verify_norm_error) cell += " (" + scientific(*b.verify_norm_error) + ")";
  if (b.error_occurred) return cell + " FAILED";
  if (b.verify_error > b.verify_tolerance) cell += '*';
  return cell;
}

}  // namespace

std::optional<double> log_log_slope(const std::vector<std::pair<double, double>>& points) {
  double n = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (const auto& [x, y] : points) {
    if (!(x > 0 && y > 0) || !std::isfinite(x) || !std::isfinite(y)) continue;
    const double lx = std::log(x), ly = std::log(y);
    n += 1;
    sx += lx;
    sy += ly;
    sxx += lx * lx;
    sxy += lx * ly;
  }
  const double spread = n * sxx - sx * sx;
  if (n < 2 || !(spread > 0)) return std::nullopt;
  return (n * sxy - sx * sy) / spread;
}

void print_accuracy_table(const Results& results, std::FILE* out) {
  // Rows keyed by impl and the shape without k, in the order first seen.
  struct Row {
    std::string impl;
    nlohmann::ordered_json shape;
    std::map<std::uint64_t, const BenchmarkResult*> by_k;
  };
  std::vector<Row> rows;
  std::set<std::uint64_t> ks;
  for (const auto& b : results.benchmarks) {
    if (!b.accuracy || !b.shape.contains("k")) continue;
    const auto k = b.shape.at("k").get<std::uint64_t>();
    nlohmann::ordered_json rest = b.shape;
    rest.erase("k");
    auto row = std::find_if(rows.begin(), rows.end(), [&](const Row& r) { return r.impl == b.impl && r.shape == rest; });
    if (row == rows.end()) row = rows.insert(rows.end(), Row{b.impl, rest, {}});
    row->by_k[k] = &b;
    ks.insert(k);
  }
  if (rows.empty()) return;
  // Shape fields equal in every row go in the title, the others in each row's op column.
  const auto label = [](const nlohmann::ordered_json& shape, const nlohmann::ordered_json& skip) {
    std::string text;
    for (const auto& [key, value] : shape.items()) {
      if (skip.contains(key)) continue;
      if (!text.empty()) text += '/';
      text += key + ':' + (value.is_string() ? value.get<std::string>() : value.dump());
    }
    return text;
  };
  nlohmann::ordered_json common = rows.front().shape;
  for (const auto& r : rows)
    for (const auto& [key, value] : rows.front().shape.items())
      if (!r.shape.contains(key) || r.shape.at(key) != value) common.erase(key);
  fmt::print(out,
             "\nAccuracy ({}) against FP64 sums of the dequantized operands: max |c - ref| / (|ref| + rms(ref)), in "
             "parentheses ||c - ref|| / ||ref||; * above the impl's own tolerance; growth: p in error ~ k^p\n",
             label(common, nlohmann::ordered_json::object()));
  std::vector<std::vector<std::string>> table{{"impl", "op"}};
  for (const auto k : ks) table.front().push_back(fmt::format("k={}", k));
  table.front().push_back("growth");
  for (const auto& r : rows) {
    std::vector<std::string> line{r.impl, label(r.shape, common)};
    std::vector<std::pair<double, double>> points;
    for (const auto k : ks) {
      const auto it = r.by_k.find(k);
      line.push_back(it == r.by_k.end() ? "-" : accuracy_cell(*it->second));
      if (it != r.by_k.end() && !it->second->error_occurred) points.emplace_back(double(k), it->second->verify_error);
    }
    const auto p = log_log_slope(points);
    line.push_back(p ? fmt::format("{:.2f}", *p) : "-");
    table.push_back(std::move(line));
  }
  print_aligned(table, 2, out);
}

void print_vendor_geomeans(const Results& results, std::FILE* out) {
  register_all_impls();
  // The vendor baseline of each (op, shape), as print_table takes it: the first vendor impl timed.
  std::map<std::string, const BenchmarkResult*> vendor;
  for (const auto& b : results.benchmarks) {
    const std::string key = b.op + b.shape.dump();
    if (b.timed && !b.accuracy && is_vendor(b.impl) && !vendor.count(key)) vendor[key] = &b;
  }
  struct Acc {
    double log_sum = 0, lo = 0, hi = 0;
    int n = 0;
  };
  std::map<std::pair<std::string, std::string>, Acc> acc;  // (ours, vendor) -> ratios
  for (const auto& b : results.benchmarks) {
    if (!b.timed || b.accuracy || is_vendor(b.impl)) continue;
    const auto v = vendor.find(b.op + b.shape.dump());
    if (v == vendor.end() || headline_throughput(*v->second) <= 0) continue;
    const double r = headline_throughput(b) / headline_throughput(*v->second);
    if (!(r > 0)) continue;
    Acc& a = acc[{b.impl, v->second->impl}];
    a.lo = a.n ? std::min(a.lo, r) : r;
    a.hi = a.n ? std::max(a.hi, r) : r;
    a.log_sum += std::log(r);
    ++a.n;
  }
  if (acc.empty()) return;
  std::fprintf(out, "\nours against the vendor baseline, geometric mean over the shapes timed with both:\n");
  for (const auto& [pair, a] : acc)
    std::fprintf(out, "  %s / %s: %.3fx over %d shape%s (%.3fx to %.3fx)\n", pair.first.c_str(), pair.second.c_str(),
                 std::exp(a.log_sum / a.n), a.n, a.n == 1 ? "" : "s", a.lo, a.hi);
}

std::uint64_t slowdown_reasons_seen(const BenchmarkResult& b) {
  return slowdown_reasons(b.conditions_before.throttle_reasons.value_or(0) |
                          b.conditions_after.throttle_reasons.value_or(0));
}

MeasuredRoofs measured_roofs(const std::vector<const Results*>& files) {
  MeasuredRoofs roofs;
  for (const Results* r : files)
    for (const auto& b : r->benchmarks) {
      if (!b.timed || !b.verified || b.accuracy || (b.op != "copy" && b.op != "gemm" && b.op != "scaled_gemm")) continue;
      const double v = headline_throughput(b);
      auto& roof = roofs[b.roof];
      if (v > roof.value) roof = {v, b.impl, op_label(op_from_json(b.op, b.shape)), b.peak};
    }
  return roofs;
}

void print_measured_roofs(const MeasuredRoofs& roofs, std::FILE* out) {
  std::string line;
  for (const auto& [name, roof] : roofs)
    line += fmt::format("{}{} {:.1f} {} ({} at {}{})", line.empty() ? "" : "; ", name, roof.value,
                        name == "hbm" ? "GB/s" : "TFLOP/s", roof.impl, roof.shape,
                        roof.spec ? fmt::format(", {:.1f}% of the spec's {:g}", 100 * roof.value / *roof.spec, *roof.spec)
                                  : "");
  if (!line.empty())
    fmt::print(out, "measured roofs (the fastest verified copy or GEMM; \"% roof\" above): {}\n", line);
}

void print_table(const Results& results, std::FILE* out, const MeasuredRoofs& roofs) {
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
      {"op", "shape", "impl", "median us", "throughput", "% peak", "% roof", "/vendor", "noise%", "samples", "MHz",
       "status"}};
  for (const auto& b : results.benchmarks) {
    const std::string shape = op_label(op_from_json(b.op, b.shape));
    if (!b.timed) {
      rows.push_back({b.op, shape, b.impl, "-", "-", "-", "-", "-", "-", "-", "-",
                      b.error_message.empty() ? "not timed" : b.error_message});
      continue;
    }
    const auto v = vendor.find(b.op + b.shape.dump());
    const std::string ratio =
        v != vendor.end() && v->second > 0 ? fmt::format("{:.3f}x", headline_throughput(b) / v->second) : "-";
    const auto roof = roofs.find(b.roof);
    const std::string pct_roof = roof != roofs.end() && roof->second.value > 0
                                     ? fmt::format("{:.1f}", 100 * headline_throughput(b) / roof->second.value)
                                     : "-";
    std::string status = b.verified ? "verified" : "UNVERIFIED";
    if (b.accuracy) status += " (accuracy benchmark: error below)";
    if (b.throttled) status += ", THROTTLED";
    if (const auto slow = slowdown_reasons_seen(b)) status += ", NVML " + throttle_reason_names(slow);
    if (b.stop_reason != "noise_target") status += ", noise target not met (" + b.stop_reason + ")";
    rows.push_back({b.op, shape, b.impl, fmt::format("{:.2f}", b.median_s * 1e6),
                    fmt::format("{:.1f} {}", headline_throughput(b), headline_unit(b)),
                    b.pct_of_peak ? fmt::format("{:.1f}", *b.pct_of_peak) : "-", pct_roof, ratio,
                    fmt::format("{:.2f}", b.noise * 100), std::to_string(b.samples_s.size()),
                    fmt::format("{:.0f}", b.sm_clock_mhz), status});
  }
  print_aligned(rows, 3, out);
}

}  // namespace trainbench
