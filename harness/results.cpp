#include "harness/results.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <sstream>

#include <fmt/format.h>

#include "harness/build_info.hpp"
#include "harness/error.hpp"
#include "harness/ops.hpp"

namespace trainbench {
namespace {

using ojson = nlohmann::ordered_json;

template <typename T>
ojson optional_json(const std::optional<T>& v) {
  return v ? ojson(*v) : ojson(nullptr);
}
template <typename T>
std::optional<T> optional_from(const nlohmann::json& j, const char* key) {
  if (!j.contains(key) || j.at(key).is_null()) return std::nullopt;
  return j.at(key).get<T>();
}

ojson settings_json(const MeasurementSettings& m) {
  return {{"hot", m.hot},
          {"noise_target", m.noise_target},
          {"budget_s", m.budget_s},
          {"min_samples", m.min_samples},
          {"throttle_fraction", m.throttle_fraction},
          {"l2_flush_bytes", m.l2_flush_bytes},
          {"warmup_launches", m.warmup_launches}};
}

MeasurementSettings settings_from(const nlohmann::json& j) {
  MeasurementSettings m;
  j.at("hot").get_to(m.hot);
  j.at("noise_target").get_to(m.noise_target);
  j.at("budget_s").get_to(m.budget_s);
  j.at("min_samples").get_to(m.min_samples);
  j.at("throttle_fraction").get_to(m.throttle_fraction);
  j.at("l2_flush_bytes").get_to(m.l2_flush_bytes);
  j.at("warmup_launches").get_to(m.warmup_launches);
  return m;
}

ojson benchmark_json(const BenchmarkResult& b) {
  ojson j;
  j["name"] = b.name;
  j["family_index"] = b.family_index;
  j["per_family_instance_index"] = b.per_family_instance_index;
  j["run_name"] = b.name;
  j["run_type"] = b.run_type;
  j["repetitions"] = b.repetitions;
  j["repetition_index"] = b.repetition_index;
  j["threads"] = 1;
  j["iterations"] = b.iterations;
  j["real_time"] = b.real_time_us;
  j["cpu_time"] = b.cpu_time_us;
  j["time_unit"] = "us";
  if (b.error_occurred) {
    j["error_occurred"] = true;
    j["error_message"] = b.error_message;
  }
  // Flat numeric counters, as Google Benchmark writes user counters.
  j["flops"] = b.flops;
  j["bytes"] = b.bytes;
  j["TFLOP/s"] = b.tflops;
  j["GB/s"] = b.gbps;
  j["pct_of_peak"] = optional_json(b.pct_of_peak);
  j["noise"] = b.noise;
  j["verify_error"] = b.verify_error;
  j["samples"] = b.samples_s.size();
  // trainbench's record
  j["op"] = b.op;
  j["impl"] = b.impl;
  j["shape"] = b.shape;
  j["verified"] = b.verified;
  j["verify_tolerance"] = b.verify_tolerance;
  j["verify_detail"] = b.verify_detail;
  j["verify_norm_error"] = optional_json(b.verify_norm_error);
  j["accuracy"] = b.accuracy;
  j["timed"] = b.timed;
  j["median_s"] = b.median_s;
  j["min_s"] = b.min_s;
  j["max_s"] = b.max_s;
  j["mean_s"] = b.mean_s;
  j["roof"] = b.roof;
  j["peak"] = optional_json(b.peak);
  j["sm_clock_mhz"] = b.sm_clock_mhz;
  j["stop_reason"] = b.stop_reason;
  j["throttled"] = b.throttled;
  j["samples_s"] = b.samples_s;
  j["samples_sm_clock_mhz"] = b.samples_sm_clock_mhz;
  j["discarded_samples_s"] = b.discarded_samples_s;
  j["discarded_sm_clock_mhz"] = b.discarded_sm_clock_mhz;
  j["conditions_before"] = b.conditions_before;
  j["conditions_after"] = b.conditions_after;
  return j;
}

BenchmarkResult benchmark_from(const nlohmann::json& j) {
  BenchmarkResult b;
  j.at("name").get_to(b.name);
  j.at("family_index").get_to(b.family_index);
  j.at("per_family_instance_index").get_to(b.per_family_instance_index);
  j.at("run_type").get_to(b.run_type);
  j.at("repetitions").get_to(b.repetitions);
  j.at("repetition_index").get_to(b.repetition_index);
  j.at("iterations").get_to(b.iterations);
  j.at("real_time").get_to(b.real_time_us);
  j.at("cpu_time").get_to(b.cpu_time_us);
  if (j.at("time_unit") != "us")
    throw Error(fmt::format("benchmark \"{}\" has time_unit {}; trainbench writes \"us\"", b.name, j.at("time_unit").dump()));
  b.error_occurred = j.value("error_occurred", false);
  b.error_message = j.value("error_message", "");
  j.at("flops").get_to(b.flops);
  j.at("bytes").get_to(b.bytes);
  j.at("TFLOP/s").get_to(b.tflops);
  j.at("GB/s").get_to(b.gbps);
  b.pct_of_peak = optional_from<double>(j, "pct_of_peak");
  j.at("noise").get_to(b.noise);
  // JSON has no infinity: a non-finite error (an output left NaN) is written as null.
  const auto& verify_error = j.at("verify_error");
  b.verify_error = verify_error.is_null() ? std::numeric_limits<double>::infinity() : verify_error.get<double>();
  j.at("op").get_to(b.op);
  j.at("impl").get_to(b.impl);
  b.shape = j.at("shape");
  j.at("verified").get_to(b.verified);
  j.at("verify_tolerance").get_to(b.verify_tolerance);
  j.at("verify_detail").get_to(b.verify_detail);
  b.verify_norm_error = optional_from<double>(j, "verify_norm_error");
  b.accuracy = j.value("accuracy", false);  // absent from files written before accuracy benchmarks
  j.at("timed").get_to(b.timed);
  j.at("median_s").get_to(b.median_s);
  j.at("min_s").get_to(b.min_s);
  j.at("max_s").get_to(b.max_s);
  j.at("mean_s").get_to(b.mean_s);
  j.at("roof").get_to(b.roof);
  b.peak = optional_from<double>(j, "peak");
  j.at("sm_clock_mhz").get_to(b.sm_clock_mhz);
  j.at("stop_reason").get_to(b.stop_reason);
  j.at("throttled").get_to(b.throttled);
  j.at("samples_s").get_to(b.samples_s);
  j.at("samples_sm_clock_mhz").get_to(b.samples_sm_clock_mhz);
  j.at("discarded_samples_s").get_to(b.discarded_samples_s);
  j.at("discarded_sm_clock_mhz").get_to(b.discarded_sm_clock_mhz);
  j.at("conditions_before").get_to(b.conditions_before);
  j.at("conditions_after").get_to(b.conditions_after);
  if (j.at("samples").get<std::size_t>() != b.samples_s.size())
    throw Error(fmt::format("benchmark \"{}\": samples = {} but samples_s holds {}", b.name,
                            j.at("samples").dump(), b.samples_s.size()));
  return b;
}

// Values no measurement can have: a file edited by hand, or written by something else.
void check_values(const BenchmarkResult& b) {
  const auto bad = [&](const std::string& what) {
    throw Error(fmt::format("benchmark \"{}\": {}; a results file holds what `trainbench run` measured", b.name, what));
  };
  const auto finite_non_negative = [&](double v, const char* key) {
    if (!std::isfinite(v) || v < 0) bad(fmt::format("{} is {}, not a finite number >= 0", key, v));
  };
  finite_non_negative(b.flops, "flops");
  finite_non_negative(b.bytes, "bytes");
  finite_non_negative(b.tflops, "TFLOP/s");
  finite_non_negative(b.gbps, "GB/s");
  static const char* const kRoofs[] = {"hbm", "bf16", "fp8", "tf32", "int8"};
  if (std::find(std::begin(kRoofs), std::end(kRoofs), b.roof) == std::end(kRoofs))
    bad(fmt::format("roof \"{}\" is none of hbm, bf16, fp8, tf32, int8", b.roof));
  if (!b.timed || b.error_occurred) return;
  if (b.samples_s.empty()) bad("it is marked timed but holds no samples");
  for (const double t : b.samples_s)
    if (!std::isfinite(t) || t <= 0) bad(fmt::format("a sample of {} s; times are finite and positive", t));
  for (const auto& [key, t] : {std::pair{"median_s", b.median_s}, {"min_s", b.min_s}, {"max_s", b.max_s}})
    if (!std::isfinite(t) || t <= 0) bad(fmt::format("{} is {}; times are finite and positive", key, t));
  if (b.min_s > b.median_s || b.median_s > b.max_s)
    bad(fmt::format("min_s {} <= median_s {} <= max_s {} does not hold", b.min_s, b.median_s, b.max_s));
  if (headline_throughput(b) <= 0) bad(fmt::format("a timed result with {} {}", headline_throughput(b), headline_unit(b)));
}

}  // namespace

std::string benchmark_key(const BenchmarkResult& b) {
  return b.op + "|" + b.impl + "|" + nlohmann::json(b.shape).dump();  // json sorts keys: order-free
}

double headline_throughput(const BenchmarkResult& b) { return b.roof == "hbm" ? b.gbps : b.tflops; }
const char* headline_unit(const BenchmarkResult& b) { return b.roof == "hbm" ? "GB/s" : "TFLOP/s"; }

ojson results_to_json(const Results& r) {
  ojson context = r.context.benchmark_context.is_object() ? r.context.benchmark_context : ojson::object();
  ojson tb;
  tb["schema_version"] = r.context.schema_version;
  tb["version"] = r.context.trainbench_version;
  tb["git_commit"] = r.context.git_commit;
  tb["cuda_toolkit"] = r.context.cuda_toolkit;
  tb["command"] = r.context.command;
  tb["device"] = r.context.device;
  tb["chip"] = r.context.chip ? ojson(*r.context.chip) : ojson(nullptr);
  tb["measurement"] = settings_json(r.context.measurement);
  context["trainbench"] = tb;
  ojson doc;
  doc["context"] = context;
  doc["benchmarks"] = ojson::array();
  for (const auto& b : r.benchmarks) doc["benchmarks"].push_back(benchmark_json(b));
  return doc;
}

Results results_from_json(const nlohmann::json& doc, const std::string& origin) {
  Results r;
  std::string where = "the top level";
  try {
    if (!doc.is_object())
      throw Error(fmt::format("a results file is a JSON object with \"context\" and \"benchmarks\", not {} {}",
                              doc.is_array() ? "an" : "a", doc.type_name()));
    where = "context";
    const auto& context = doc.at("context");
    if (context.is_object() && !context.contains("trainbench"))
      throw Error("context has no \"trainbench\" block: not a file `trainbench run` wrote (a plain Google Benchmark "
                  "file has no device, verification or samples to read)");
    const auto& tb = context.at("trainbench");
    tb.at("schema_version").get_to(r.context.schema_version);
    if (r.context.schema_version != kResultsSchemaVersion)
      throw Error(fmt::format("{}: results schema version {}; this trainbench reads version {}", origin,
                              r.context.schema_version, kResultsSchemaVersion));
    tb.at("version").get_to(r.context.trainbench_version);
    tb.at("git_commit").get_to(r.context.git_commit);
    tb.at("cuda_toolkit").get_to(r.context.cuda_toolkit);
    tb.at("command").get_to(r.context.command);
    where = "context.trainbench.device";
    tb.at("device").get_to(r.context.device);
    where = "context.trainbench.chip";
    if (!tb.at("chip").is_null()) r.context.chip = tb.at("chip").get<ChipSpec>();
    where = "context.trainbench.measurement";
    r.context.measurement = settings_from(tb.at("measurement"));
    ojson gb_context = ojson::parse(context.dump());
    gb_context.erase("trainbench");
    r.context.benchmark_context = gb_context;
    where = "benchmarks";
    const auto& benchmarks = doc.at("benchmarks");
    if (!benchmarks.is_array()) throw Error(fmt::format("\"benchmarks\" is {} {}, not an array",
                                                        benchmarks.is_object() ? "an" : "a", benchmarks.type_name()));
    std::map<std::string, std::size_t> seen;
    for (std::size_t i = 0; i < benchmarks.size(); ++i) {
      const auto& j = benchmarks[i];
      where = fmt::format("benchmarks[{}]{}", i,
                          j.is_object() && j.contains("name") && j["name"].is_string()
                              ? fmt::format(" (\"{}\")", j["name"].get<std::string>())
                              : std::string());
      BenchmarkResult b = benchmark_from(j);
      check_values(b);
      try {
        (void)op_from_json(b.op, b.shape);
      } catch (const Error& e) {
        throw Error(fmt::format("benchmark \"{}\": {}", b.name, e.what()));
      }
      const auto [it, fresh] = seen.emplace(benchmark_key(b), i);
      if (!fresh)
        throw Error(fmt::format("benchmark \"{}\" appears twice (benchmarks[{}] and [{}]): one file holds one result "
                                "per op and impl; several runs go in several files",
                                b.name, it->second, i));
      r.benchmarks.push_back(std::move(b));
    }
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("{}: malformed results file in {} ({})", origin, where, e.what()));
  } catch (const Error& e) {
    const std::string msg = e.what();
    if (msg.rfind(origin, 0) == 0) throw;
    throw Error(fmt::format("{}: {}", origin, msg));
  }
  return r;
}

void write_results_file(const std::string& path, const Results& results, bool force) {
  namespace fs = std::filesystem;
  if (fs::exists(path) && !force)
    throw Error(fmt::format("{} exists; pass --force to overwrite it, or choose another --out", path));
  const fs::path target(path);
  if (target.has_parent_path() && !fs::exists(target.parent_path()))
    throw Error(fmt::format("cannot write {}: directory {} does not exist", path, target.parent_path().string()));
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    if (!out) throw Error(fmt::format("cannot write {} (is the directory writable?)", tmp));
    out << results_to_json(results).dump(2) << '\n';
    out.close();
    if (!out) {
      std::error_code ignored;
      fs::remove(tmp, ignored);  // no half-written file left behind
      throw Error(fmt::format("writing {} failed (disk full?); {} was not written", tmp, path));
    }
  }
  std::error_code ec;
  fs::rename(tmp, target, ec);
  if (ec) {
    fs::remove(tmp);
    throw Error(fmt::format("cannot move {} to {}: {}", tmp, path, ec.message()));
  }
}

void check_results_path(const std::string& path, bool force, const std::string& resume) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw Error(fmt::format("cannot write {}: {} {}; create it first or choose another --out", path,
                            dir.string(), fs::exists(dir, ec) ? "is not a directory" : "does not exist"));
  if (fs::is_directory(target, ec)) throw Error(fmt::format("{} is a directory; --out takes a file name", path));
  if (fs::exists(target, ec) && !force)
    throw Error(fmt::format("{} exists; pass --force to overwrite it, or choose another --out", path));
  const std::string partial = partial_results_path(path);
  const bool partial_is_resumed = !resume.empty() && fs::equivalent(partial, resume, ec);
  if (fs::exists(partial, ec) && !force && !partial_is_resumed)
    throw Error(fmt::format("{} exists: the benchmarks a killed run had finished, which this run would replace; go on "
                            "from it with --resume {}, move it away, or pass --force to replace it",
                            partial, partial));
  // A file the run would write next to `path`, created and removed now: an unwritable directory
  // is found before the measurements, not after them.
  const fs::path probe = dir / fmt::format(".{}.probe", target.filename().string());
  {
    std::ofstream out(probe);
    if (!out)
      throw Error(fmt::format("cannot write {}: directory {} does not take new files (permissions? read-only?)", path,
                              dir.string()));
  }
  fs::remove(probe, ec);
}

std::string partial_results_path(const std::string& path) {
  const std::string ext = ".json";
  if (path.size() > ext.size() && path.compare(path.size() - ext.size(), ext.size(), ext) == 0)
    return path.substr(0, path.size() - ext.size()) + ".partial.json";
  return path + ".partial.json";
}

Results read_results_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw Error(fmt::format("{} is a directory; give a results file (*.json) in it", path));
  std::ifstream in(path);
  if (!in) throw Error(fmt::format("cannot read results file {}: no such file or not readable", path));
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text.str());
  } catch (const nlohmann::json::parse_error& e) {
    throw Error(fmt::format("{}: not valid JSON, perhaps truncated ({})", path, e.what()));
  }
  return results_from_json(doc, path);
}

}  // namespace trainbench
