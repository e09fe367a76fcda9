// The registry: every way to compute an op (ours and the vendor's), registered the same way.
// The harness knows kernels only through it.
#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <cuda_runtime_api.h>

#include "harness/device.hpp"
#include "harness/ops.hpp"

namespace trainbench {

struct Verification {
  double error = 0;      // the impl's own metric: bytes differing, or a relative norm error
  double tolerance = 0;  // passes when error <= tolerance (and is finite)
  bool passed = false;
  std::string detail;    // how the error was measured
  // ||out - ref|| / ||ref|| where the impl compares with a floating-point reference: what an
  // accuracy benchmark judges by (harness/measure.hpp); empty where not measured.
  std::optional<double> norm_error;
};

// One impl bound to one op: buffers allocated, ready to fill, launch and check.
class Case {
 public:
  virtual ~Case() = default;
  virtual void prepare(cudaStream_t stream) = 0;  // random inputs from a fixed seed, never zeros
  virtual void poison(cudaStream_t stream) = 0;   // outputs set to NaN / 0xFF before verifying
  virtual void launch(cudaStream_t stream) = 0;   // the timed work: enqueue only, never sync
  virtual Verification check(cudaStream_t stream) = 0;  // after one launch, against a reference
};

struct Impl {
  std::string name;    // "memory.copy", "gemm.cublas"
  std::string family;  // the op family it computes: "copy"
  std::string description;
  bool vendor = false;  // a vendor library baseline
  int min_arch = 80;    // compute capability x 10
  int max_arch = 0;     // 0: no upper bound; 90 for sm_90a-only kernels
  // Shared memory one block needs (the opt-in maximum, cudaDevAttrMaxSharedMemoryPerBlockOptin,
  // must reach it); 0 when any GPU of min_arch or later has enough. Where it depends on the op,
  // the least of smem_per_block's values.
  std::uint64_t min_smem_per_block = 0;
  // Set where the shared memory a block needs depends on the op (an instance per head_dim, say):
  // what it needs for this one, taken only for ops `unsupported` accepts.
  std::function<std::uint64_t(const Op&)> smem_per_block = nullptr;
  // Empty when this build holds the impl; otherwise why not and what to install (a vendor
  // library the build did not find). Such an impl stays listed, and never runs.
  std::string missing = {};
  // Empty when the impl computes this op; otherwise why not (e.g. "K must be a multiple of 8").
  std::function<std::string(const Op&)> unsupported = [](const Op&) { return std::string(); };
  std::function<std::unique_ptr<Case>(const Op&, const DeviceInfo&)> make;
};

// The GPUs an impl runs on, as tables print it: "sm_90a" (that arch alone), "sm_80+".
std::string arch_label(const Impl& impl);

// Empty when the impl can run on this device; otherwise why not (the build's `missing` first).
std::string unavailable_reason(const Impl& impl, const DeviceInfo& device);

// For an impl available on this device and an op it supports: empty when this device also gives
// what the impl needs at this op (the shared memory of smem_per_block); otherwise why not.
std::string unavailable_at_op_reason(const Impl& impl, const Op& op, const DeviceInfo& device);

class Registry {
 public:
  void add(Impl impl);  // throws on a duplicate name
  const Impl& find(const std::string& name) const;  // throws Error listing the names
  const std::vector<Impl>& all() const { return impls_; }

 private:
  std::vector<Impl> impls_;
};

// The program's registry, filled once by register_all_impls() (bench/impls.cpp).
Registry& registry();

}  // namespace trainbench
