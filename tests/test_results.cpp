// Results files: lossless round trip, the Google Benchmark keys, and clear errors for bad files.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <fstream>
#include <sstream>

#include <unistd.h>

#include "harness/build_info.hpp"
#include "harness/error.hpp"
#include "harness/results.hpp"

namespace trainbench {
namespace {

namespace fs = std::filesystem;

Results sample_results() {
  Results r;
  r.context.benchmark_context = {{"date", "2026-11-25T12:00:00+0000"}, {"host_name", "gpu-host"},
                                 {"executable", "trainbench"}, {"num_cpus", 16}};
  r.context.schema_version = kResultsSchemaVersion;
  r.context.trainbench_version = "0.1.0";
  r.context.git_commit = "0123456789abcdef";
  r.context.cuda_toolkit = "13.0.88";
  r.context.command = "trainbench run --suite memory";
  DeviceInfo& d = r.context.device;
  d.name = "NVIDIA H100 80GB HBM3";
  d.cc_major = 9;
  d.sm_count = 132;
  d.memory_bytes = 85520809984ull;
  d.l2_bytes = 52428800;
  d.smem_per_block_optin = 232448;
  d.sm_clock_max_mhz = 1980;
  d.mem_clock_max_mhz = 2619;
  d.mem_bus_width_bits = 5120;
  d.power_limit_w = 700.0;
  d.ecc_enabled = true;
  d.driver_api_version = 13000;
  d.runtime_version = 13000;
  d.driver_version = "580.1";
  d.nvml_status = "ok";
  r.context.chip = ChipTable::builtin().by_id("h100-sxm");
  r.context.measurement.l2_flush_bytes = 3 * 52428800ull;

  BenchmarkResult b;
  b.name = "copy/memory.copy/bytes:1073741824";
  b.op = "copy";
  b.impl = "memory.copy";
  b.shape = {{"bytes", 1073741824}};
  b.flops = 0;
  b.bytes = 2.0 * 1073741824;
  b.verified = true;
  b.verify_detail = "exact";
  b.timed = true;
  b.samples_s = {7.1e-4, 7.0e-4, 7.2e-4};
  b.samples_sm_clock_mhz = {1980, 1975, 1980};
  b.discarded_samples_s = {1.4e-3};
  b.discarded_sm_clock_mhz = {990};
  b.median_s = 7.1e-4;
  b.min_s = 7.0e-4;
  b.max_s = 7.2e-4;
  b.mean_s = 7.1e-4;
  b.noise = 0.014;
  b.real_time_us = 710;
  b.cpu_time_us = 5;
  b.gbps = b.bytes / b.median_s / 1e9;
  b.roof = "hbm";
  b.peak = 3350.0;
  b.pct_of_peak = 100 * b.gbps / 3350.0;
  b.sm_clock_mhz = 1980;
  b.stop_reason = "noise_target";
  b.conditions_before.sm_clock_mhz = 1980;
  b.conditions_before.throttle_reasons = 0;
  b.conditions_after.temperature_c = 55;
  b.conditions_after.power_w = 512.5;
  r.benchmarks.push_back(b);

  BenchmarkResult failed = b;
  failed.name = "copy/memory.cudaMemcpy/bytes:1073741824";
  failed.impl = "memory.cudaMemcpy";
  failed.verified = false;
  failed.timed = false;
  failed.error_occurred = true;
  failed.error_message = "verification failed";
  failed.samples_s.clear();
  failed.samples_sm_clock_mhz.clear();
  failed.pct_of_peak.reset();
  failed.peak.reset();
  r.benchmarks.push_back(failed);
  return r;
}

fs::path temp_path(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("trainbench-test-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return dir / name;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(ResultsJson, RoundTripIsLossless) {
  const Results r = sample_results();
  const auto first = results_to_json(r);
  const Results back = results_from_json(nlohmann::json::parse(first.dump()), "memory");
  // Same content; Google Benchmark's context keys come back in sorted order.
  EXPECT_EQ(nlohmann::json::parse(results_to_json(back).dump()), nlohmann::json::parse(first.dump()));
  ASSERT_EQ(back.benchmarks.size(), 2u);
  EXPECT_EQ(back.benchmarks[0].samples_s, r.benchmarks[0].samples_s);
  EXPECT_EQ(back.benchmarks[0].discarded_sm_clock_mhz, r.benchmarks[0].discarded_sm_clock_mhz);
  EXPECT_EQ(back.context.device.name, "NVIDIA H100 80GB HBM3");
  EXPECT_EQ(back.context.chip->id, "h100-sxm");
  EXPECT_FALSE(back.benchmarks[1].pct_of_peak.has_value());
}

TEST(ResultsJson, CarriesGoogleBenchmarksStandardKeys) {
  const auto j = results_to_json(sample_results());
  EXPECT_EQ(j.at("context").at("host_name"), "gpu-host");
  EXPECT_EQ(j.at("context").at("trainbench").at("schema_version"), kResultsSchemaVersion);
  const auto& b = j.at("benchmarks").at(0);
  for (const char* key : {"name", "run_name", "run_type", "iterations", "real_time", "cpu_time", "time_unit",
                          "repetitions", "repetition_index", "threads", "family_index", "per_family_instance_index"})
    EXPECT_TRUE(b.contains(key)) << key;
  EXPECT_EQ(b.at("time_unit"), "us");
  EXPECT_EQ(b.at("run_type"), "iteration");
  EXPECT_TRUE(b.at("GB/s").is_number());  // counters are flat numbers, as Google Benchmark writes them
  EXPECT_TRUE(j.at("benchmarks").at(1).at("error_occurred").get<bool>());
}

TEST(ResultsJson, OtherSchemaVersionIsRefusedByName) {
  auto j = nlohmann::json::parse(results_to_json(sample_results()).dump());
  j["context"]["trainbench"]["schema_version"] = kResultsSchemaVersion + 1;
  try {
    results_from_json(j, "new.json");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("new.json"), std::string::npos) << msg;
    EXPECT_NE(msg.find("schema version"), std::string::npos) << msg;
  }
}

TEST(ResultsJson, MissingKeyNamesTheFileAndThePlace) {
  auto j = nlohmann::json::parse(results_to_json(sample_results()).dump());
  j["benchmarks"][0].erase("samples_s");
  try {
    results_from_json(j, "partial.json");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("partial.json"), std::string::npos) << msg;
    EXPECT_NE(msg.find("benchmarks"), std::string::npos) << msg;
    EXPECT_EQ(e.code(), kExitUsage);
  }
}

TEST(ResultsJson, SampleCountMustMatchTheSamples) {
  auto j = nlohmann::json::parse(results_to_json(sample_results()).dump());
  j["benchmarks"][0]["samples"] = 99;
  EXPECT_THROW(results_from_json(j, "x.json"), Error);
}

// What no measurement can hold is refused, naming the file, the benchmark and the value: values
// out of range, a timed result without samples, two results for one op and impl, and files of
// another shape (an array, another tool's Google Benchmark file, benchmarks as an object).
TEST(ResultsJson, ImpossibleValuesAndWrongShapesAreRefusedWithTheirPlace) {
  const auto good = nlohmann::json::parse(results_to_json(sample_results()).dump());
  ASSERT_NO_THROW(results_from_json(good, "good.json"));
  const std::string first = good["benchmarks"][0]["name"];
  struct Case {
    const char* what;
    std::function<void(nlohmann::json&)> edit;
    std::vector<std::string> says;
  };
  const Case cases[] = {
      {"negative GB/s", [](auto& j) { j["benchmarks"][0]["GB/s"] = -5; }, {first, "GB/s"}},
      {"zero GB/s, timed", [](auto& j) { j["benchmarks"][0]["GB/s"] = 0; }, {first, "GB/s"}},
      {"a zero sample", [](auto& j) { j["benchmarks"][0]["samples_s"][0] = 0.0; }, {first, "sample"}},
      {"negative median", [](auto& j) { j["benchmarks"][0]["median_s"] = -1e-3; }, {first, "median_s"}},
      {"median above max",
       [](auto& j) { j["benchmarks"][0]["median_s"] = 2 * j["benchmarks"][0]["max_s"].template get<double>(); },
       {first, "max_s"}},
      {"timed without samples",
       [](auto& j) {
         j["benchmarks"][0]["samples_s"] = nlohmann::json::array();
         j["benchmarks"][0]["samples_sm_clock_mhz"] = nlohmann::json::array();
         j["benchmarks"][0]["samples"] = 0;
       },
       {first, "no samples"}},
      {"unknown roof", [](auto& j) { j["benchmarks"][0]["roof"] = "weird"; }, {first, "roof"}},
      {"a null number", [](auto& j) { j["benchmarks"][0]["median_s"] = nullptr; }, {"benchmarks[0]", first}},
      {"duplicate", [](auto& j) { j["benchmarks"].push_back(j["benchmarks"][0]); }, {first, "twice"}},
      {"top-level array", [](auto& j) { j = nlohmann::json::array({j}); }, {"JSON object", "array"}},
      {"Google Benchmark file", [](auto& j) { j["context"].erase("trainbench"); }, {"trainbench", "Google Benchmark"}},
      {"benchmarks as an object", [](auto& j) { j["benchmarks"] = nlohmann::json::object(); }, {"not an array"}},
      {"a negative size", [](auto& j) { j["benchmarks"][0]["shape"]["bytes"] = -1; }, {first, "whole numbers"}},
      {"an unknown op", [](auto& j) { j["benchmarks"][0]["op"] = "nosuchop"; }, {first, "unknown op family"}},
  };
  for (const Case& c : cases) {
    auto j = good;
    c.edit(j);
    try {
      results_from_json(j, "edited.json");
      ADD_FAILURE() << c.what << ": read without an error";
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_EQ(e.code(), kExitUsage) << c.what;
      EXPECT_NE(msg.find("edited.json"), std::string::npos) << c.what << ": " << msg;
      for (const auto& word : c.says) EXPECT_NE(msg.find(word), std::string::npos) << c.what << ": " << msg;
    }
  }
}

TEST(ResultsFile, WriteThenReadBack) {
  const fs::path p = temp_path("roundtrip.json");
  fs::remove(p);
  write_results_file(p.string(), sample_results(), false);
  const Results back = read_results_file(p.string());
  EXPECT_EQ(nlohmann::json::parse(results_to_json(back).dump()),
            nlohmann::json::parse(results_to_json(sample_results()).dump()));
  EXPECT_FALSE(fs::exists(p.string() + ".tmp"));
}

TEST(ResultsFile, PartialPathSitsBesideTheResultsFile) {
  EXPECT_EQ(partial_results_path("out/h100-quick.json"), "out/h100-quick.partial.json");
  EXPECT_EQ(partial_results_path("results"), "results.partial.json");
  EXPECT_EQ(partial_results_path(".json"), ".json.partial.json");
  EXPECT_EQ(partial_results_path("a.json.bak"), "a.json.bak.partial.json");
}

TEST(ResultsFile, RefusesToOverwriteWithoutForceAndLeavesTheFileAlone) {
  const fs::path p = temp_path("keep.json");
  { std::ofstream(p) << "precious"; }
  try {
    write_results_file(p.string(), sample_results(), false);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--force"), std::string::npos) << e.what();
    EXPECT_EQ(e.code(), kExitUsage);
  }
  EXPECT_EQ(slurp(p), "precious");
  write_results_file(p.string(), sample_results(), true);
  EXPECT_NE(slurp(p), "precious");
}

TEST(ResultsFile, TruncatedFileIsAnErrorNamingTheFile) {
  const fs::path p = temp_path("truncated.json");
  const std::string full = results_to_json(sample_results()).dump(2);
  { std::ofstream(p) << full.substr(0, full.size() / 2); }
  try {
    read_results_file(p.string());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(p.string()), std::string::npos) << msg;
    EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
  }
}

TEST(ResultsFile, MissingFileAndMissingDirectoryAreErrors) {
  EXPECT_THROW(read_results_file("/nonexistent/trainbench.json"), Error);
  EXPECT_THROW(write_results_file("/nonexistent-dir/out.json", sample_results(), false), Error);
}

}  // namespace
}  // namespace trainbench
