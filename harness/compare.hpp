// Comparing results files side by side (chips, or commits): one row per benchmark matched by
// (op, impl, shape), its throughput in each file, the ratio to the first file, % of each chip's
// peak, and a geometric mean of the ratios per op family.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "harness/results.hpp"

namespace trainbench {

struct NamedResults {
  std::string path;
  Results results;
};

struct CompareRow {
  std::string name;  // the benchmark name (op/impl/shape label)
  std::string op, impl, unit;
  std::vector<std::optional<double>> throughput;   // per file; empty where absent or not timed
  std::vector<std::optional<double>> pct_of_peak;  // per file
  std::vector<std::optional<double>> ratio;        // throughput / the first file's throughput
  std::vector<std::string> status;                 // per file: "ok", "absent", or why no number
};

struct Comparison {
  std::vector<std::string> files;    // paths as given
  std::vector<std::string> devices;  // each file's GPU name (and chip id when matched)
  std::vector<CompareRow> rows;      // benchmarks present in every file
  std::vector<CompareRow> partial;   // benchmarks present in only some files
  // Per op family: geometric mean over the rows timed in both files of the ratio to the first
  // file, and how many rows it covers.
  struct Geomean {
    std::vector<std::optional<double>> ratio;
    std::vector<int> count;
  };
  std::map<std::string, Geomean> geomean;
};

// At least two files; rows keep the order of the first file in which they appear. `pairs` maps
// an impl of the later files onto one of the first (e.g. torch.matmul -> gemm.cublas), so that a
// peer's results line up with ours at the same shapes.
Comparison compare_results(const std::vector<NamedResults>& files,
                           const std::map<std::string, std::string>& pairs = {});

enum class TableFormat { Table, Markdown, Csv, Json };
TableFormat table_format_from_name(const std::string& name);  // throws Error naming the choices
std::string render_comparison(const Comparison& c, TableFormat format);

}  // namespace trainbench
