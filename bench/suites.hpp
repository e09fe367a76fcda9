// Suites: named lists of (op, impls).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "harness/ops.hpp"

namespace trainbench {

struct SuiteEntry {
  Op op;
  std::vector<std::string> impls;
  // An accuracy benchmark: the verification error is the result, recorded even where it exceeds
  // the impl's own tolerance; only an output that says nothing about the reference fails
  // (verification_passes in harness/measure.hpp). Timed like any other, so that its results stay
  // comparable and checkable (`compare` and `check` read an untimed record as a failure).
  bool accuracy = false;
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

// Whether fp8gemm.wgmma_splitk and int8gemm.mma_splitk split k for an m x n x k GEMM on a GPU of
// 132 SMs (the H100 SXM's and the H200's): the rule by which the fp8 and int8 suites list them.
bool splits_k_on_132_sms(std::uint64_t m, std::uint64_t n, std::uint64_t k);

}  // namespace trainbench
