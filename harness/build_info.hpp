// Facts fixed when the program was built.
#pragma once
#include <string_view>

namespace trainbench {

inline constexpr int kResultsSchemaVersion = 1;

std::string_view version();
std::string_view git_commit();            // commit the build was configured from, or "unknown"
std::string_view cuda_toolkit_version();  // nvcc's toolkit, e.g. "13.0.48"
std::string_view embedded_chips_json();   // harness/data/chips.json at build time
std::string_view embedded_models_json();  // harness/data/models.json at build time

}  // namespace trainbench
