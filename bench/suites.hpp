// Suites: named lists of (op, impls).
#pragma once
#include <string>
#include <vector>

#include "harness/ops.hpp"

namespace trainbench {

struct SuiteEntry {
  Op op;
  std::vector<std::string> impls;
};

struct Suite {
  std::string name;
  std::string description;
  std::vector<SuiteEntry> entries;
};

const std::vector<Suite>& suites();
// Throws Error listing the suite names when there is none called `name`.
const Suite& find_suite(const std::string& name);
// The benchmark name of one (op, impl): "copy/memory.copy/bytes:1073741824".
std::string benchmark_name(const Op& op, const std::string& impl);

}  // namespace trainbench
