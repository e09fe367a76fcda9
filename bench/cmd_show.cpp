#include "bench/cmd_show.hpp"

#include <cstdio>
#include <map>
#include <regex>

#include <fmt/format.h>

#include "bench/report.hpp"
#include "harness/error.hpp"

namespace trainbench {

CLI::App* add_show_command(CLI::App& app, ShowOptions& o) {
  auto* cmd = app.add_subcommand("show", "Print results files as `run` printed them: where and how they were "
                                         "measured, then one row per benchmark (no GPU needed)");
  cmd->add_option("files", o.files, "Results files")->required();
  cmd->add_option("--filter", o.filter, "Only benchmarks whose name matches this regular expression");
  return cmd;
}

std::string describe_results(const std::string& path, const Results& results) {
  const RunContext& c = results.context;
  const DeviceInfo& d = c.device;
  std::string text = path + "\n";
  const auto line = [&](const char* label, const std::string& value) {
    text += fmt::format("  {:<11} {}\n", label, value);
  };
  std::string gpu = d.name.empty() ? "unnamed GPU" : d.name;
  if (d.cc_major) gpu += fmt::format(" ({}, {} SMs)", d.arch_string(), d.sm_count);
  gpu += c.chip ? fmt::format("; chip spec {} ({})", c.chip->id, c.chip->name)
                : "; no chip spec matched it, so no % of peak";
  line("GPU", gpu);
  std::string software = fmt::format("trainbench {}", c.trainbench_version.empty() ? "?" : c.trainbench_version);
  if (!c.git_commit.empty()) software += fmt::format(" (commit {})", c.git_commit.substr(0, 12));
  if (!c.cuda_toolkit.empty()) software += ", CUDA " + c.cuda_toolkit;
  if (!d.driver_version.empty()) software += ", driver " + d.driver_version;
  line("software", software);
  if (c.benchmark_context.contains("date") && c.benchmark_context.at("date").is_string())
    line("date", c.benchmark_context.at("date").get<std::string>());
  if (!c.command.empty()) line("command", c.command);
  const MeasurementSettings& m = c.measurement;
  const std::string cache = m.hot                   ? "L2 warm (--hot)"
                            : m.l2_flush_bytes == 0 ? "L2 cold (flush size not recorded)"
                                                    : fmt::format("L2 cold ({:.0f} MiB flushed before each sample)",
                                                                  static_cast<double>(m.l2_flush_bytes) / (1 << 20));
  const std::string clock_floor =
      m.throttle_fraction > 0 ? fmt::format("samples under {:g}% of the SM clock set aside", 100 * m.throttle_fraction)
                              : "no sample set aside for its clock";
  line("measured", fmt::format("{}, until the samples' noise (stdev / mean) is under {:g}% or {:g} s of samples, at "
                               "least {} samples "
                               "after {} warm-up launches; {}",
                               cache, 100 * m.noise_target, m.budget_s, m.min_samples, m.warmup_launches, clock_floor));
  int timed = 0, failed = 0, throttled = 0, slowed = 0;
  for (const auto& b : results.benchmarks) {
    timed += b.timed;
    failed += b.error_occurred;
    throttled += b.throttled;
    slowed += b.timed && slowdown_reasons_seen(b);
  }
  line("benchmarks", fmt::format("{}: {} timed, {} failed or not run{}{}", results.benchmarks.size(), timed, failed,
                                 throttled ? fmt::format(", {} taken while THROTTLED", throttled) : "",
                                 slowed ? fmt::format(", {} with an NVML slowdown reason (power cap, thermal) before "
                                                      "or after (status column)", slowed)
                                        : ""));
  return text;
}

int run_show(const ShowOptions& o) {
  std::regex filter;
  try {
    filter = std::regex(o.filter.empty() ? "." : o.filter);
  } catch (const std::regex_error& e) {
    throw Error(fmt::format("--filter \"{}\" is not a regular expression ({})", o.filter, e.what()));
  }
  std::vector<Results> all;
  for (const auto& path : o.files) all.push_back(read_results_file(path));
  // The roofs each GPU was seen to reach, over every file from it (before --filter).
  std::map<std::string, std::vector<const Results*>> by_gpu;
  for (const auto& r : all) by_gpu[r.context.device.name].push_back(&r);
  std::map<std::string, MeasuredRoofs> roofs;
  for (const auto& [gpu, files] : by_gpu) roofs[gpu] = measured_roofs(files);
  std::vector<std::string> headers;
  std::size_t shown = 0;
  for (std::size_t i = 0; i < all.size(); ++i) {
    const std::string& path = o.files[i];
    Results& r = all[i];
    headers.push_back(describe_results(path, r));
    const std::size_t total = r.benchmarks.size();
    std::erase_if(r.benchmarks, [&](const BenchmarkResult& b) { return !std::regex_search(b.name, filter); });
    shown += r.benchmarks.size();
    if (!o.filter.empty())
      headers.back() +=
          fmt::format("  {:<11} {} of the {} (--filter {})\n", "shown", r.benchmarks.size(), total, o.filter);
  }
  if (!o.filter.empty() && shown == 0)
    throw Error(fmt::format("--filter \"{}\" matches no benchmark of {}; benchmark names read "
                            "op/impl/shape, e.g. gemm/gemm.cublas/m:4096/...",
                            o.filter, o.files.size() == 1 ? o.files.front() : "the files given"));
  for (std::size_t i = 0; i < all.size(); ++i) {
    if (i) std::fputc('\n', stdout);
    std::fputs(headers[i].c_str(), stdout);
    if (all[i].benchmarks.empty()) {
      std::fputs(o.filter.empty() ? "  (the file holds no benchmarks)\n" : "  (none matches --filter)\n", stdout);
      continue;
    }
    std::fputc('\n', stdout);
    const MeasuredRoofs& file_roofs = roofs.at(all[i].context.device.name);
    print_table(all[i], stdout, file_roofs);
    print_measured_roofs(file_roofs, stdout);
    print_vendor_geomeans(all[i], stdout);
    print_accuracy_table(all[i], stdout);
  }
  std::fflush(stdout);
  return kExitOk;
}

}  // namespace trainbench
