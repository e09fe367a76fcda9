// Writes synthetic results files (for the plot tests): synthetic-h100.json and synthetic-h200.json
// in the given directory, and accuracy/synthetic-h100-fp8-accuracy.json. Not measurements; never
// copy them under results/.
#include <cstdio>
#include <filesystem>

#include "harness/error.hpp"
#include "tests/synthetic_results.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
    return 2;
  }
  namespace t = trainbench::testing;
  const std::filesystem::path dir = argv[1];
  std::filesystem::create_directories(dir);
  trainbench::write_results_file((dir / "synthetic-h100.json").string(),
                                 t::synthetic_results("NVIDIA H100 80GB HBM3", t::synthetic_suite(1.0), 1), true);
  trainbench::write_results_file((dir / "synthetic-h200.json").string(),
                                 t::synthetic_results("NVIDIA H200", t::synthetic_suite(0.8), 2), true);
  // Apart, since it shares no benchmark with the two above (the bars and compare tests want them).
  std::filesystem::create_directories(dir / "accuracy");
  trainbench::write_results_file((dir / "accuracy" / "synthetic-h100-fp8-accuracy.json").string(),
                                 t::synthetic_results("NVIDIA H100 80GB HBM3", t::synthetic_accuracy_suite(), 3), true);
  return 0;
}
