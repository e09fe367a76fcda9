#include "bench/runner.hpp"

#include <benchmark/benchmark.h>
#include <fmt/chrono.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <regex>
#include <set>

#include "bench/impls.hpp"
#include "bench/report.hpp"
#include "bench/suites.hpp"
#include "harness/build_info.hpp"
#include "harness/error.hpp"
#include "harness/hang_watchdog.hpp"
#include "harness/measure.hpp"

namespace trainbench {
namespace {

struct Planned {
  std::string name;
  Op op;
  const Impl* impl;
  bool accuracy;
};

std::string local_time(const char* format) {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, format, &tm);
  return buf;
}

nlohmann::ordered_json benchmark_context(const benchmark::BenchmarkReporter::Context& c) {
  nlohmann::ordered_json j;
  j["date"] = local_time("%Y-%m-%dT%H:%M:%S%z");
  j["host_name"] = c.sys_info.name;
  j["executable"] = benchmark::BenchmarkReporter::Context::executable_name;
  j["num_cpus"] = c.cpu_info.num_cpus;
  j["mhz_per_cpu"] = static_cast<int>(c.cpu_info.cycles_per_second / 1e6);
  j["cpu_scaling_enabled"] = c.cpu_info.scaling == benchmark::CPUInfo::Scaling::ENABLED;
  j["caches"] = nlohmann::ordered_json::array();
  for (const auto& cache : c.cpu_info.caches)
    j["caches"].push_back({{"type", cache.type}, {"level", cache.level}, {"size", cache.size},
                           {"num_sharing", cache.num_sharing}});
  j["load_avg"] = c.cpu_info.load_avg;
  j["library_build_type"] = "release";
  j["json_schema_version"] = 1;
  return j;
}

// Receives Google Benchmark's runs: fills the standard fields of our records and prints progress.
class CollectingReporter : public benchmark::BenchmarkReporter {
 public:
  // `after_each` runs after every benchmark is recorded (the runner saves what is done so far).
  // `records` is shared with the hang watchdog's thread: every access holds `mutex`.
  CollectingReporter(std::map<std::string, BenchmarkResult>& records, std::timed_mutex& mutex, std::size_t total,
                     std::function<void()> after_each)
      : records_(records), mutex_(mutex), total_(total), after_each_(std::move(after_each)),
        start_(std::chrono::steady_clock::now()) {}

  bool ReportContext(const Context& context) override {
    context_ = benchmark_context(context);
    return true;
  }

  void ReportRuns(const std::vector<Run>& runs) override {
    for (const auto& run : runs) {
      if (run.run_type != Run::RT_Iteration) continue;
      std::unique_lock lock(mutex_);
      auto& b = records_[registered_name(run)];
      b.name = registered_name(run);
      b.family_index = run.family_index;
      b.per_family_instance_index = run.per_family_instance_index;
      b.repetitions = run.repetitions;
      b.repetition_index = run.repetition_index < 0 ? 0 : run.repetition_index;
      b.iterations = run.iterations;
      b.real_time_us = run.error_occurred ? 0 : run.GetAdjustedRealTime();
      b.cpu_time_us = run.error_occurred ? 0 : run.GetAdjustedCPUTime();
      b.error_occurred = run.error_occurred;
      if (run.error_occurred) b.error_message = run.error_message;
      ++done_;
      const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
      const double eta = elapsed / static_cast<double>(done_) * static_cast<double>(total_ - done_);
      spdlog::info("[{}/{}] {}: {} (elapsed {:.0f} s, ETA {:.0f} s)", done_, total_, b.name, progress_status(b),
                   elapsed, eta);
      lock.unlock();
      if (after_each_) after_each_();
    }
  }

  const nlohmann::ordered_json& context() const { return context_; }

 private:
  static std::string progress_status(const BenchmarkResult& b) {
    if (b.error_occurred) return "ERROR " + b.error_message;
    if (b.roof == "hbm") return fmt::format("{:.1f} GB/s, median {:.1f} us", b.gbps, b.median_s * 1e6);
    if (b.accuracy)
      return fmt::format("{:.1f} TFLOP/s, median {:.1f} us, error {:.2e}", b.tflops, b.median_s * 1e6, b.verify_error);
    return fmt::format("{:.1f} TFLOP/s, median {:.1f} us", b.tflops, b.median_s * 1e6);
  }

  std::map<std::string, BenchmarkResult>& records_;
  std::timed_mutex& mutex_;
  std::size_t total_;
  std::function<void()> after_each_;
  std::size_t done_ = 0;
  std::chrono::steady_clock::time_point start_;
  nlohmann::ordered_json context_;
};

std::vector<double> seconds(const std::vector<Sample>& s) {
  std::vector<double> out;
  for (const auto& x : s) out.push_back(x.seconds);
  return out;
}
std::vector<double> clocks(const std::vector<Sample>& s) {
  std::vector<double> out;
  for (const auto& x : s) out.push_back(x.sm_clock_mhz);
  return out;
}

}  // namespace

void register_manual_benchmark(const std::string& name, std::function<void(benchmark::State&)> body) {
  benchmark::RegisterBenchmark(name.c_str(), [body = std::move(body)](benchmark::State& state) { body(state); })
      ->UseManualTime()
      ->Iterations(1)
      ->Unit(benchmark::kMicrosecond);
}

std::string registered_name(const benchmark::BenchmarkReporter::Run& run) { return run.run_name.function_name; }

void derive_throughput(BenchmarkResult& b, double flops, double bytes, Roof roof, const ChipSpec* chip) {
  b.flops = flops;
  b.bytes = bytes;
  b.roof = roof_name(roof);
  b.tflops = b.median_s > 0 ? flops / b.median_s / 1e12 : 0;
  b.gbps = b.median_s > 0 ? bytes / b.median_s / 1e9 : 0;
  b.peak = chip ? spec_peak(*chip, roof) : std::nullopt;
  const double achieved = roof == Roof::Memory ? b.gbps : b.tflops;
  b.pct_of_peak = (b.peak && *b.peak > 0 && b.timed) ? std::optional<double>(100.0 * achieved / *b.peak) : std::nullopt;
}

std::map<std::string, BenchmarkResult> resumable_benchmarks(const Results& earlier, const std::string& origin,
                                                            const DeviceInfo& device, const std::string& commit,
                                                            const MeasurementSettings& settings,
                                                            const std::vector<std::string>& planned) {
  const auto refuse = [&](const std::string& what, const std::string& theirs, const std::string& ours) {
    throw Error(fmt::format("cannot resume from {}: its {} is {}, this run's is {}; its benchmarks would not be "
                            "comparable with the ones measured now. Resume with the same GPU, build and options, "
                            "or run the suite whole",
                            origin, what, theirs, ours));
  };
  const DeviceInfo& d = earlier.context.device;
  if (d.name != device.name || d.sm_count != device.sm_count)
    refuse("GPU", fmt::format("{} ({} SMs)", d.name, d.sm_count), fmt::format("{} ({} SMs)", device.name, device.sm_count));
  if (earlier.context.git_commit != commit) refuse("trainbench commit", earlier.context.git_commit, commit);
  const MeasurementSettings& m = earlier.context.measurement;
  if (m.hot != settings.hot) refuse("L2 setting", m.hot ? "--hot" : "L2 cold", settings.hot ? "--hot" : "L2 cold");
  if (m.noise_target != settings.noise_target) refuse("--noise", fmt::format("{}", m.noise_target), fmt::format("{}", settings.noise_target));
  if (m.budget_s != settings.budget_s) refuse("--budget", fmt::format("{}", m.budget_s), fmt::format("{}", settings.budget_s));
  if (m.min_samples != settings.min_samples)
    refuse("--min-samples", fmt::format("{}", m.min_samples), fmt::format("{}", settings.min_samples));
  if (m.throttle_fraction != settings.throttle_fraction || m.warmup_launches != settings.warmup_launches ||
      m.l2_flush_bytes != settings.l2_flush_bytes)
    refuse("measurement method",
           fmt::format("(clock floor {}, {} warm-ups, {} flush bytes)", m.throttle_fraction, m.warmup_launches,
                       m.l2_flush_bytes),
           fmt::format("(clock floor {}, {} warm-ups, {} flush bytes)", settings.throttle_fraction,
                       settings.warmup_launches, settings.l2_flush_bytes));
  const std::set<std::string> wanted(planned.begin(), planned.end());
  std::map<std::string, BenchmarkResult> kept;
  std::size_t other = 0;
  for (const auto& b : earlier.benchmarks) {
    if (wanted.count(b.name)) kept[b.name] = b;
    else ++other;
  }
  if (other)
    spdlog::warn("{}: {} benchmark(s) are not in this run's plan (another suite or --filter?); left out", origin, other);
  return kept;
}

BenchmarkResult hung_benchmark(BenchmarkResult planned, double timeout_s) {
  BenchmarkResult b = std::move(planned);
  b.error_occurred = true;
  b.iterations = 0;
  b.real_time_us = b.cpu_time_us = 0;
  b.verified = b.timed = false;
  b.verify_detail =
      fmt::format("made no progress for {:g} s (--hang-timeout): taken to hang; the run that measured it ended there",
                  timeout_s);
  b.error_message = b.verify_detail;
  return b;
}

namespace {

// `run --verify-only`: each planned benchmark launched once on poisoned outputs and checked
// against its reference, a line each (the impl's error, its tolerance, how it was measured);
// nothing timed, no results file. The quickest answer to "does every kernel verify at every
// shape of this suite?" on a new GPU or after a change.
// What a run of the suite holds, without a GPU: every (op, impl) after the filter, with the op's work and
// whether the impl takes that shape. Which impls a given GPU can run (arch, shared memory) is decided when it runs.
int list_plan(const Suite& suite, const std::optional<std::regex>& filter) {
  struct Row {
    std::string name, note;
    double gflop, mb;
  };
  std::vector<Row> rows;
  std::size_t listed = 0, width = 9;
  double flops = 0, bytes = 0;
  for (const auto& entry : suite.entries)
    for (const auto& impl_name : entry.impls) {
      const Impl& impl = registry().find(impl_name);
      const std::string name = benchmark_name(entry.op, impl.name);
      if (filter && !std::regex_search(name, *filter)) continue;
      std::string note = arch_label(impl);
      if (impl.vendor) note += " vendor";
      if (entry.accuracy) note += " accuracy";
      if (const auto why = impl.unsupported(entry.op); !why.empty()) {
        note += " (unsupported shape, would be skipped: " + why + ")";
      } else {
        ++listed;
        flops += op_flops(entry.op);
        bytes += op_bytes(entry.op);
      }
      width = std::max(width, name.size());
      rows.push_back({name, note, op_flops(entry.op) / 1e9, op_bytes(entry.op) / 1e6});
    }
  if (rows.empty())
    throw Error(fmt::format("no benchmark of suite \"{}\" matches the filter; `trainbench list` shows the suites",
                            suite.name));
  fmt::print("{:<{}} {:>12} {:>12}  {}\n", "benchmark", width, "GFLOP", "MB moved", "note");
  for (const auto& r : rows) fmt::print("{:<{}} {:>12.1f} {:>12.1f}  {}\n", r.name, width, r.gflop, r.mb, r.note);
  fmt::print("\n{} benchmark(s) of suite {} ({:.3g} TFLOP and {:.3g} GB in one verifying launch of each){}\n", listed,
             suite.name, flops / 1e12, bytes / 1e9,
             rows.size() > listed ? fmt::format("; {} refuse their shape", rows.size() - listed) : "");
  return kExitOk;
}

// What a benchmark's record holds before it is measured: its name, op, impl, shape and work.
BenchmarkResult planned_record(const Planned& p, const ChipSpec* chip) {
  BenchmarkResult b;
  b.name = p.name;
  b.op = op_family(p.op);
  b.impl = p.impl->name;
  b.shape = op_shape(p.op);
  b.accuracy = p.accuracy;
  derive_throughput(b, op_flops(p.op), op_bytes(p.op), op_roof(p.op), chip);
  return b;
}

// Watches one stretch of work (begin on construction, end on destruction, also when it throws).
class Watched {
 public:
  Watched(HangWatchdog& dog, const std::string& what) : dog_(dog) { dog_.begin(what); }
  ~Watched() { dog_.end(); }
  Watched(const Watched&) = delete;
  Watched& operator=(const Watched&) = delete;

 private:
  HangWatchdog& dog_;
};

int verify_plan(const std::vector<Planned>& plan, const DeviceInfo& info, double hang_timeout_s) {
  cudaStream_t stream = nullptr;
  TB_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  int failed = 0, could_not_run = 0;
  std::printf("%-72s %-8s %12s %12s  %s\n", "benchmark", "verdict", "error", "tolerance", "detail");
  HangWatchdog watchdog(hang_timeout_s, [](const std::string& what, double timeout_s) {
    std::printf("%-72s %-8s %12s %12s  did not finish within %g s (--hang-timeout): taken to hang; the rest is not "
                "verified (--filter can leave this one out)\n",
                what.c_str(), "HUNG", "", "", timeout_s);
    end_process_after_hang(kExitHung);
  });
  for (std::size_t i = 0; i < plan.size(); ++i) {
    const Planned& p = plan[i];
    std::string verdict, detail;
    double error = 0, tolerance = 0;
    const Watched watched(watchdog, p.name);
    try {
      auto c = p.impl->make(p.op, info);
      c->prepare(stream);
      c->poison(stream);
      c->launch(stream);
      TB_CUDA_CHECK(cudaGetLastError());
      TB_CUDA_CHECK(cudaStreamSynchronize(stream));
      Verification v = c->check(stream);
      v.passed = verification_passes(v, p.accuracy);
      verdict = v.passed ? "ok" : "FAILED";
      failed += !v.passed;
      error = v.error;
      tolerance = v.tolerance;
      detail = v.detail;
    } catch (const Error& e) {
      verdict = "ERROR";
      detail = e.what();
      ++could_not_run;
      cudaGetLastError();
    }
    std::printf("%-72s %-8s %12.3e %12.3e  %s\n", p.name.c_str(), verdict.c_str(), error, tolerance, detail.c_str());
    std::fflush(stdout);
  }
  cudaStreamDestroy(stream);
  spdlog::info("{} of {} verified on {}; {} failed, {} could not run", plan.size() - std::size_t(failed + could_not_run),
               plan.size(), info.name, failed, could_not_run);
  if (failed) return kExitCheckFailed;
  return could_not_run ? kExitUsage : kExitOk;
}

}  // namespace

int run_suite(const RunOptions& options) {
  register_all_impls();
  const Suite suite = is_model_suite(options.suite) ? model_suite(options.suite, options.model) : find_suite(options.suite);
  std::optional<std::regex> filter;
  if (!options.filter.empty()) {
    try {
      filter.emplace(options.filter, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      throw Error(fmt::format("--filter \"{}\" is not a valid regular expression ({})", options.filter, e.what()));
    }
  }
  if (options.verify_only && !options.out.empty())
    throw Error("--verify-only times nothing and writes no results file: drop --out (or --verify-only)");
  if (options.list && (options.verify_only || !options.out.empty()))
    throw Error("--list runs nothing: drop --verify-only and --out (or --list)");
  if (!options.resume.empty() && (options.list || options.verify_only))
    throw Error("--resume goes on with an earlier run's results file: drop --list and --verify-only (or --resume)");
  if (options.list) return list_plan(suite, filter);
  if (!options.out.empty()) check_results_path(options.out, options.force, options.resume);
  if (options.noise_target <= 0 || options.budget_s <= 0 || options.min_samples < 1)
    throw Error("--noise must be > 0, --budget > 0 and --min-samples >= 1");
  if (!(options.hang_timeout_s >= 0 && options.hang_timeout_s <= HangWatchdog::kMaxTimeoutS))
    throw Error(fmt::format("--hang-timeout must be 0 to {:g} seconds (0: never end a benchmark that runs on), not {}",
                            HangWatchdog::kMaxTimeoutS, options.hang_timeout_s));
  // Read (and so checked for form) before any GPU work; checked against this run once it is known.
  std::optional<Results> earlier;
  if (!options.resume.empty()) earlier = read_results_file(options.resume);

  const Device device(options.device);
  const DeviceInfo& info = device.info();
  const ChipSpec* chip = ChipTable::builtin().match(info.name);
  if (chip) spdlog::info("GPU {} ({}, {} SMs) matched chip spec \"{}\"", info.name, info.arch_string(), info.sm_count, chip->id);
  else spdlog::warn("GPU {} matches no chip in harness/data/chips.json: % of peak will be empty", info.name);

  std::vector<Planned> plan;
  for (const auto& entry : suite.entries) {
    for (const auto& impl_name : entry.impls) {
      const Impl& impl = registry().find(impl_name);
      const std::string name = benchmark_name(entry.op, impl.name);
      if (filter && !std::regex_search(name, *filter)) continue;
      if (const auto why = unavailable_reason(impl, info); !why.empty()) {
        spdlog::warn("{}: unavailable here ({})", name, why);
        continue;
      }
      if (const auto why = impl.unsupported(entry.op); !why.empty()) {
        spdlog::warn("{}: unsupported shape ({})", name, why);
        continue;
      }
      if (const auto why = unavailable_at_op_reason(impl, entry.op, info); !why.empty()) {
        spdlog::warn("{}: unavailable here ({})", name, why);
        continue;
      }
      plan.push_back({name, entry.op, &impl, entry.accuracy});
    }
  }
  if (plan.empty())
    throw Error(fmt::format("no benchmark of suite \"{}\" matches --filter \"{}\" on this GPU; `trainbench list` "
                            "shows the suites and impls", options.suite, options.filter));

  if (options.verify_only) return verify_plan(plan, info, options.hang_timeout_s);

  std::string out = options.out;
  if (out.empty())
    out = fmt::format("results-{}-{}-{}.json", chip ? chip->id : "unknown-gpu", options.suite, local_time("%Y%m%d-%H%M%S"));
  if (options.out.empty()) check_results_path(out, options.force, options.resume);

  cudaStream_t stream = nullptr;
  TB_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  GpuTimer timer(info, stream, !options.hot);
  MeasureOptions mopts;
  mopts.hot = options.hot;
  mopts.policy.noise_target = options.noise_target;
  mopts.policy.budget_s = options.budget_s;
  mopts.policy.min_samples = options.min_samples;
  const MeasurementSettings settings{options.hot,      options.noise_target,          options.budget_s,
                                     options.min_samples, mopts.policy.throttle_fraction,
                                     timer.flush_bytes(), mopts.warmup_launches};

  // records: one per benchmark done (measured, failed, or kept from --resume), shared with the
  // hang watchdog's thread under records_mutex.
  std::map<std::string, BenchmarkResult> records;
  std::timed_mutex records_mutex;
  if (earlier) {
    std::vector<std::string> names;
    for (const auto& p : plan) names.push_back(p.name);
    records = resumable_benchmarks(*earlier, options.resume, info, std::string(git_commit()), settings, names);
    std::size_t hung = 0;
    for (const auto& [name, b] : records) hung += b.error_occurred;
    spdlog::info("resuming from {}: {} of the {} benchmark(s) kept from it ({} of them failed or hung), {} to run",
                 options.resume, records.size(), plan.size(), hung, plan.size() - records.size());
  }
  std::size_t to_run = 0;
  for (const auto& p : plan) to_run += !records.count(p.name);

  const CollectingReporter* live = nullptr;
  // The results file's context and the benchmarks done so far (all of them at the end), in the
  // plan's order. Called with records_mutex held.
  const auto assemble = [&] {
    Results r;
    r.context.benchmark_context = live && !live->context().is_null()
                                      ? live->context()
                                      : (earlier ? earlier->context.benchmark_context : nlohmann::ordered_json::object());
    r.context.schema_version = kResultsSchemaVersion;
    r.context.trainbench_version = std::string(version());
    r.context.git_commit = std::string(git_commit());
    r.context.cuda_toolkit = std::string(cuda_toolkit_version());
    r.context.command = options.command;
    r.context.device = info;
    if (chip) r.context.chip = *chip;
    r.context.measurement = settings;
    for (std::size_t i = 0; i < plan.size(); ++i)
      if (const auto it = records.find(plan[i].name); it != records.end() && !it->second.name.empty()) {
        r.benchmarks.push_back(it->second);
        r.benchmarks.back().family_index = static_cast<std::int64_t>(i);  // across resumed runs too
      }
    return r;
  };
  // After each benchmark, what is done so far goes to <out>.partial.json (the same format), so that
  // a run that is killed (a kernel that hangs, a time limit) leaves its measurements; the complete
  // file replaces it at the end.
  const std::string partial = partial_results_path(out);
  const auto save_partial = [&] {
    try {
      write_results_file(partial, assemble(), true);
    } catch (const Error& e) {
      spdlog::warn("could not save the partial results: {}", e.what());
    }
  };
  CollectingReporter reporter(records, records_mutex, to_run, [&] {
    const std::lock_guard lock(records_mutex);
    save_partial();
  });
  live = &reporter;
  // A benchmark that overruns the hang timeout is stuck in the GPU for good: record it as hung
  // beside what is done, save, and end the process (which frees the GPU); --resume goes on past it.
  HangWatchdog watchdog(options.hang_timeout_s, [&](const std::string& what, double timeout_s) {
    spdlog::error("{} made no progress for {:g} s: taken to hang. Ending the run (exit code {}); what is done and "
                  "this hang are in {}, and `trainbench run ... --resume {}` with the same options goes on past it",
                  what, timeout_s, int(kExitHung), partial, partial);
    std::unique_lock lock(records_mutex, std::defer_lock);
    if (lock.try_lock_for(std::chrono::seconds(10))) {
      for (const auto& p : plan)
        if (p.name == what) records[what] = hung_benchmark(planned_record(p, chip), timeout_s);
      save_partial();
    } else {
      spdlog::error("the partial results could not be saved: the main thread holds them");
    }
    end_process_after_hang(kExitHung);
  });

  for (const auto& p : plan) {
    if (records.count(p.name)) continue;  // kept from --resume
    register_manual_benchmark(p.name, [&, p](benchmark::State& state) {
      BenchmarkResult b = planned_record(p, chip);
      std::string error;
      {
        const Watched watched(watchdog, p.name);
        try {
          auto c = p.impl->make(p.op, info);
          MeasureOptions case_options = mopts;
          case_options.accuracy = p.accuracy;
          case_options.progress = [&] { watchdog.begin(p.name); };  // a step done: the clock starts again
          const Measurement m = measure(*c, device, case_options, timer, stream);
          b.verified = m.verification.passed;
          b.verify_error = m.verification.error;
          b.verify_tolerance = m.verification.tolerance;
          b.verify_detail = m.verification.detail;
          b.verify_norm_error = m.verification.norm_error;
          b.conditions_before = m.before;
          b.conditions_after = m.after;
          if (!m.samples && p.accuracy) {
            error = fmt::format("verification failed (accuracy benchmark: every output must be finite and ||c - ref|| "
                                "/ ||ref|| < 1, closer than zeros): {}",
                                m.verification.detail);
          } else if (!m.samples) {
            error = fmt::format("verification failed: error {:.3g} > tolerance {:.3g} ({})", m.verification.error,
                                m.verification.tolerance, m.verification.detail);
          } else {
            const SampleSet& s = *m.samples;
            b.timed = true;
            b.median_s = s.summary.median;
            b.min_s = s.summary.min;
            b.max_s = s.summary.max;
            b.mean_s = s.summary.mean;
            b.noise = s.summary.noise;
            b.stop_reason = stop_reason_name(s.reason);
            b.throttled = s.throttled;
            b.samples_s = seconds(s.kept);
            b.samples_sm_clock_mhz = clocks(s.kept);
            b.discarded_samples_s = seconds(s.discarded);
            b.discarded_sm_clock_mhz = clocks(s.discarded);
            b.sm_clock_mhz = summarize(b.samples_sm_clock_mhz).median;
            derive_throughput(b, op_flops(p.op), op_bytes(p.op), op_roof(p.op), chip);
          }
        } catch (const Error& e) {
          error = e.what();
          cudaGetLastError();
        }
      }
      const double median_s = b.median_s, tflops = b.tflops, gbps = b.gbps;
      {
        const std::lock_guard lock(records_mutex);
        records[p.name] = std::move(b);
      }
      if (!error.empty()) {
        state.SkipWithError(error.c_str());
        for (auto _ : state) {
        }
        return;
      }
      for (auto _ : state) state.SetIterationTime(median_s);
      state.counters["TFLOP/s"] = tflops;
      state.counters["GB/s"] = gbps;
    });
  }

  std::string program = "trainbench";
  char* gb_argv[] = {program.data(), nullptr};
  int gb_argc = 1;
  benchmark::Initialize(&gb_argc, gb_argv);
  spdlog::info("running {} benchmark(s) of suite \"{}\" ({}, hang timeout {}), results to {}", to_run, options.suite,
               options.hot ? "L2 hot" : "L2 cold",
               options.hang_timeout_s > 0 ? fmt::format("{:g} s", options.hang_timeout_s) : "off", out);
  if (to_run) benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::ClearRegisteredBenchmarks();
  benchmark::Shutdown();
  cudaStreamDestroy(stream);

  const Results results = [&] {
    const std::lock_guard lock(records_mutex);
    return assemble();
  }();
  const MeasuredRoofs roofs = measured_roofs({&results});
  print_table(results, stdout, roofs);
  print_measured_roofs(roofs, stdout);
  print_vendor_geomeans(results, stdout);
  print_accuracy_table(results, stdout);
  write_results_file(out, results, options.force);
  std::error_code removed;
  std::filesystem::remove(partial, removed);
  spdlog::info("wrote {}", out);

  bool verification_failed = false, could_not_run = false;
  for (const auto& b : results.benchmarks) {
    if (!b.error_occurred) continue;
    (b.verify_detail.empty() ? could_not_run : verification_failed) = true;
  }
  if (verification_failed) return kExitCheckFailed;
  return could_not_run ? kExitUsage : kExitOk;
}

}  // namespace trainbench
