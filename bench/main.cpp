// trainbench: how fast does this GPU really train, and why?
// Exit codes: 0 success; 1 a verification or check failed; 2 usage or environment error.
#include <algorithm>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "bench/cli_checks.hpp"
#include "bench/cmd_compare.hpp"
#include "bench/cmd_project.hpp"
#include "bench/cmd_show.hpp"
#include "bench/impls.hpp"
#include "bench/model_suite.hpp"
#include "bench/runner.hpp"
#include "bench/suites.hpp"
#include "harness/build_info.hpp"
#include "harness/chips.hpp"
#include "harness/device.hpp"
#include "harness/error.hpp"

namespace trainbench {
namespace {

std::string join_args(int argc, char** argv) {
  std::string out;
  for (int i = 0; i < argc; ++i) out += (i ? " " : "") + std::string(argv[i]);
  return out;
}

std::string opt(const std::optional<double>& v, const char* fmt_spec = "{:g}") {
  return v ? fmt::format(fmt::runtime(fmt_spec), *v) : "-";
}

int cmd_device(int index, bool json) {
  const Device device(index);
  const DeviceInfo& d = device.info();
  const ChipSpec* chip = ChipTable::builtin().match(d.name);
  if (json) {
    nlohmann::ordered_json j;
    j["device"] = d;
    j["chip"] = chip ? nlohmann::ordered_json(*chip) : nlohmann::ordered_json(nullptr);
    j["conditions"] = device.conditions();
    fmt::print("{}\n", j.dump(2));
    return kExitOk;
  }
  const GpuConditions c = device.conditions();
  fmt::print("GPU {}: {}\n", d.index, d.name);
  fmt::print("  compute capability   {}.{} ({})\n", d.cc_major, d.cc_minor, d.arch_string());
  fmt::print("  SMs                  {}\n", d.sm_count);
  fmt::print("  memory               {:.1f} GiB, {}-bit bus, max memory clock {} MHz\n",
             static_cast<double>(d.memory_bytes) / (1ull << 30), d.mem_bus_width_bits, d.mem_clock_max_mhz);
  fmt::print("  L2                   {:.1f} MiB\n", static_cast<double>(d.l2_bytes) / (1 << 20));
  fmt::print("  max SM clock         {} MHz\n", d.sm_clock_max_mhz);
  fmt::print("  power limit          {} W\n", opt(d.power_limit_w, "{:.0f}"));
  fmt::print("  ECC                  {}\n", d.ecc_enabled ? (*d.ecc_enabled ? "on" : "off") : "unknown");
  fmt::print("  driver               {} (CUDA driver API {}, runtime {})\n",
             d.driver_version.empty() ? "unknown" : d.driver_version, d.driver_api_version, d.runtime_version);
  fmt::print("  NVML                 {}\n", d.nvml_status);
  if (c.sm_clock_mhz)
    fmt::print("  now                  SM {} MHz, memory {} MHz, {} C, {} W, throttle: {}\n", *c.sm_clock_mhz,
               c.mem_clock_mhz.value_or(0), c.temperature_c.value_or(0), opt(c.power_w, "{:.0f}"),
               c.throttle_reasons ? throttle_reason_names(*c.throttle_reasons) : "unknown");
  if (chip)
    fmt::print("  chip spec            {} ({}): BF16 {} TFLOP/s, FP8 {} TFLOP/s, HBM {} TB/s\n", chip->id, chip->name,
               opt(chip->bf16_dense_tflops), opt(chip->fp8_dense_tflops), opt(chip->hbm_tbps));
  else
    fmt::print("  chip spec            none matches \"{}\" in harness/data/chips.json\n", d.name);
  return kExitOk;
}

int cmd_list() {
  register_all_impls();
  fmt::print("Suites (trainbench run --suite NAME):\n");
  for (const auto& s : suites())
    fmt::print("  {:<10} {} benchmark(s): {}\n", s.name,
               [&] { std::size_t n = 0; for (const auto& e : s.entries) n += e.impls.size(); return n; }(),
               s.description);
  fmt::print("  {:<10} the per-GPU GEMM and attention ops of a model below (run flags --tp --ep --cp --seq "
             "--micro-batch --precision)\n", "model:ID");
  fmt::print("\nOps:\n");
  fmt::print("  {:<10} bytes moved = 2 x bytes (read once, written once); judged against HBM bandwidth\n", "copy");
  fmt::print("  {:<10} FLOPs = 2 M N K; layouts tn (forward), nn (dgrad), nt (wgrad); judged against BF16 peak\n",
             "gemm");
  fmt::print("  {:<10} FLOPs = 4 B Hq Sq Sk D, halved when causal, x2.5 for the backward; against BF16 peak\n",
             "attention");
  fmt::print("  {:<10} FLOPs = 2 M N K with FP8 (e4m3) or INT8 (s8) operands and FP32 scales; against the "
             "FP8 or INT8 peak\n", "scaled_gemm");
  fmt::print("  {:<10} BF16 -> E4M3 with 1x128 / 128x128 / per-tensor scales; 3 bytes per element + scales; "
             "judged against HBM bandwidth\n", "quantize");
  fmt::print("\nImpls:\n");
  std::size_t impl_width = 0, family_width = 0, arch_width = 0;  // columns as wide as their longest entry
  for (const auto& i : registry().all()) {
    impl_width = std::max(impl_width, i.name.size());
    family_width = std::max(family_width, i.family.size());
    arch_width = std::max(arch_width, arch_label(i).size());
  }
  for (const auto& i : registry().all()) {
    fmt::print("  {:<{}} {:<{}} {:<{}} {}{}\n", i.name, impl_width, i.family, family_width, arch_label(i), arch_width,
               i.vendor ? "[vendor] " : "", i.description);
    if (i.min_smem_per_block)
      fmt::print("  {:<{}} needs {} KiB of shared memory per block{} (sm_86 and sm_89 GPUs give 99 KiB, A100 163, H100 227)\n",
                 "", impl_width, i.min_smem_per_block / 1024, i.smem_per_block ? ", more at some shapes" : "");
    if (!i.missing.empty()) fmt::print("  {:<{}} unavailable in this build: {}\n", "", impl_width, i.missing);
  }
  fmt::print("\nChips (harness/data/chips.json; dense peaks):\n");
  std::size_t name_width = 4;
  for (const auto& c : ChipTable::builtin().chips()) name_width = std::max(name_width, c.name.size());
  fmt::print("  {:<16} {:<{}} {:>9} {:>9} {:>8} {:>8}\n", "id", "name", name_width, "BF16 TF", "FP8 TF", "HBM TB/s",
             "TDP W");
  for (const auto& c : ChipTable::builtin().chips())
    fmt::print("  {:<16} {:<{}} {:>9} {:>9} {:>8} {:>8}\n", c.id, c.name, name_width, opt(c.bf16_dense_tflops),
               opt(c.fp8_dense_tflops), opt(c.hbm_tbps), opt(c.tdp_w));
  print_models_list();
  return kExitOk;
}

int main_impl(int argc, char** argv) {
  CLI::App app{"trainbench: measures how fast this GPU trains large models (GEMM, attention, FP8, memory roof)\n"
               "Exit codes: 0 success; 1 a verification or check failed; 2 usage or environment error; 3 a benchmark\n"
               "made no progress for --hang-timeout seconds (run: the partial results file says which; --resume goes on)."};
  app.set_version_flag("--version", fmt::format("trainbench {} (commit {}, built with CUDA {})", version(),
                                                git_commit().substr(0, 12), cuda_toolkit_version()));
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error or off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
  app.require_subcommand(1);

  auto* device_cmd = app.add_subcommand("device", "Print the GPU's fingerprint and matched chip spec (needs a GPU)");
  bool device_json = false;
  int device_index = 0;
  device_cmd->add_flag("--json", device_json, "Print JSON");
  device_cmd->add_option("--device", device_index, "GPU index")->check(non_negative_integer());

  app.add_subcommand("list", "List suites, ops, impls and chips (works without a GPU)");

  auto* run_cmd = app.add_subcommand("run", "Verify, then time a suite on the GPU and write a results file");
  RunOptions run;
  run_cmd->add_option("--suite", run.suite, "Suite to run (see `trainbench list`)")->capture_default_str();
  run_cmd->add_option("--filter", run.filter, "Only benchmarks whose name matches this regular expression");
  run_cmd->add_option("--out", run.out,
                      "Results file (default: results-<chip>-<suite>-<time>.json); while it runs, what is done so "
                      "far is in <out without .json>.partial.json, which a run that is killed leaves behind");
  run_cmd->add_flag("--force", run.force, "Overwrite --out if it exists");
  run_cmd->add_flag("--hot", run.hot, "Keep L2 warm between samples (default: flush it)");
  run_cmd->add_flag("--verify-only", run.verify_only,
                    "Verify every benchmark of the suite (one launch each, against its reference) and print the "
                    "verdicts; time nothing, write no results file");
  run_cmd->add_flag("--list", run.list,
                    "Print the benchmarks the suite holds (after --filter) with their GFLOP and bytes, and run "
                    "nothing (no GPU needed)");
  run_cmd->add_option("--noise", run.noise_target, "Relative noise target that ends sampling")
      ->capture_default_str()->check(positive_number());
  run_cmd->add_option("--budget", run.budget_s, "Seconds of sampling per benchmark at most (after min samples)")
      ->capture_default_str()->check(positive_number());
  run_cmd->add_option("--min-samples", run.min_samples, "Samples taken at least")
      ->capture_default_str()->check(positive_number());
  run_cmd->add_option("--device", run.device, "GPU index")->check(non_negative_integer());
  run_cmd->add_option("--resume", run.resume,
                      "Go on from an earlier run's results file (the .partial.json a run that hung or was killed "
                      "left; same GPU, build and options): its benchmarks are kept, the others run")
      ->check(CLI::ExistingFile);
  run_cmd->add_option("--hang-timeout", run.hang_timeout_s,
                      "Seconds after which a benchmark that makes no progress (its verification, warm-up or a "
                      "sample) is taken to hang: it is recorded as such, the partial file saved, and the run ends "
                      "with exit code 3 (0: never; a verification is one FP64 launch: raise it where FP64 is slow)")
      ->capture_default_str();
  auto* layout_group = run_cmd->add_option_group("model suites", "The layout of --suite model:NAME");
  layout_group->add_option("--tp", run.model.tp, "Tensor-parallel degree")->capture_default_str()->check(positive_number());
  layout_group->add_option("--ep", run.model.ep, "Expert-parallel degree")->capture_default_str()->check(positive_number());
  layout_group->add_option("--cp", run.model.cp, "Context-parallel degree")->capture_default_str()->check(positive_number());
  layout_group->add_option("--seq", run.model.seq, "Sequence length (default: the model's)")->check(positive_number());
  layout_group->add_option("--micro-batch", run.model.micro_batch, "Sequences per micro-batch")
      ->capture_default_str()->check(positive_number());
  layout_group->add_option("--precision", run.model.precision, "GEMM precision: bf16 or fp8")
      ->capture_default_str()->check(CLI::IsMember({"bf16", "fp8"}));

  ShowOptions show;
  auto* show_cmd = add_show_command(app, show);
  CompareOptions compare;
  auto* compare_cmd = add_compare_command(app, compare);
  CheckCommandOptions check;
  auto* check_cmd = add_check_command(app, check);
  ProjectOptions project;
  auto* project_cmd = add_project_command(app, project);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // An unknown first word reads to CLI11 as a missing subcommand: say which word and what exists.
    if (argc > 1 && argv[1][0] != '-' && app.get_subcommands().empty()) {
      std::vector<std::string> names;
      for (const auto* sub : app.get_subcommands({})) names.push_back(sub->get_name());
      std::fprintf(stderr, "trainbench: no command \"%s\"; the commands are %s (trainbench --help)\n", argv[1],
                   fmt::format("{}", fmt::join(names, ", ")).c_str());
      return kExitUsage;
    }
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  // The layout options shape a model suite's ops; with any other suite they would be ignored.
  if (*run_cmd && !is_model_suite(run.suite))
    for (const auto* opt : layout_group->get_options())
      if (opt->count() > 0) {
        std::fprintf(stderr, "trainbench: %s applies to --suite model:NAME only, not to --suite %s\n",
                     opt->get_name().c_str(), run.suite.c_str());
        return kExitUsage;
      }

  auto logger = spdlog::stderr_color_mt("trainbench");
  logger->set_pattern("[%H:%M:%S] %^%l%$ %v");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(log_level));

  try {
    if (*device_cmd) return cmd_device(device_index, device_json);
    if (app.got_subcommand("list")) return cmd_list();
    if (*show_cmd) return run_show(show);
    if (*compare_cmd) return run_compare(compare);
    if (*check_cmd) return run_check(check);
    if (*project_cmd) return run_project(project);
    if (*run_cmd) {
      run.command = join_args(argc, argv);
      return run_suite(run);
    }
  } catch (const Error& e) {
    spdlog::error("{}", e.what());
    return e.code();
  }
  return kExitUsage;
}

}  // namespace
}  // namespace trainbench

int main(int argc, char** argv) {
  try {
    return trainbench::main_impl(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "trainbench: internal error: %s\n", e.what());
    return trainbench::kExitUsage;
  }
}
