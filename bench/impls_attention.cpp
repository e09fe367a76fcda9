// Attention impls: the unfused FP32 reference (the oracle and the naive baseline), our fused
// kernels (kernels/attention/, simplest first) and cuDNN's fused SDPA (the vendor baseline,
// bench/cudnn_attention.hpp), bound to the op the same way.
//
// Inputs: Q, K, V (and dO for the backward) uniform in [-1, 1], BF16, fixed seeds, never zero.
// Outputs are poisoned with 0xFF (NaN) before the verifying launch. The Verification's error is
// the largest error / tolerance over the outputs, so it passes at <= 1; any NaN fails.
//
// The fused kernels' BF16 outputs (O; dQ, dK, dV) are held to a normwise bound per (batch, head):
// ||got - want|| / ||want|| over the slice, the worst slice counting. An elementwise bound
// relative to rms(want) does not hold for them, and it is the rounding's fault, not the kernels':
// on an H200 (2026-12), cuDNN's SDPA and both of ours erred identically on O (0.0326 at token 7
// of causal seq 4096: P rounded to BF16, the same rounding in all three) and by 0.05 to 0.17 on
// dQ, dK, dV, always at the first tokens of causal rows. Those rows see few keys whose terms
// are large and cancel, while rms(want) is set by the long rows that average thousands of keys;
// and the error of D = rowsum(dO O), read from the BF16 O, moves every dS of a row the same way,
// so that it does not cancel where dQ does. The worst element grows with the sequence length;
// the slice norm does not. tests/test_attention_rounding.cpp emulates the kernels' roundings in
// float64: they cost 2^-8.5 to 2^-8 of the slice norm at every shape tried, while a dropped key
// per row, a forgotten softmax scale or a forgotten D cost 0.06 or more. Tolerance 2^-6 on each
// (5x above the rounding, 4x below the smallest mistake); the elementwise error and where it
// occurs stay in the detail. A wrong tile of 128 rows in a slice of 16384 rows still moves that
// slice's norm by 0.09 of its relative error; a wrong row, by 0.01, which passes. So the forward's
// O is also held, row by row (head_dim values of one token and head), to the same 2^-6: over a
// row's 64 or 128 values the rounding averages out as over a slice, without the cancellation of
// single elements (tests/test_attention_rounding.cpp emulates the forward's roundings: 2^-8.4 in
// the worst row; the H200 run's slice norms were 2^-8.9 to 2^-8.5 for ours and cuDNN's alike),
// while a wrong row errs by about 1. A row that sees no key (O = 0) is measured against the mean
// row's norm (worst_slice_norm), so a value written there errs by about 1 as well.
// Not the gradients: where dS = P (dP - D) cancels, D's rounding moves a row of dK or dQ by far
// more than 2^-6 of that row's small norm (a key seen by one query, a query that sees one key).
// - attention.fwd.mma and attention.fwd.wgmma against attention.reference (FP32 unfused, on the
//   GPU); both round P to BF16 before P V and O to BF16. LSE (FP32), elementwise, tolerance
//   2^-14: both sides are FP32 dot products and sums (about 1e-6 apart); ex2.approx adds 2^-22.
// - attention.bwd.mma and attention.bwd.wgmma against attention.reference's backward (FP32
//   unfused, on the GPU), their O and LSE inputs from attention.fwd.mma (prepare, untimed): P
//   and dS rounded to BF16 before their matmuls, D from the BF16 O, the outputs in BF16;
//   attention.bwd.wgmma forms dS from the BF16 P.
// attention.cudnn goes through the same Cases, against the same reference, within the same
// tolerances (its O, dQ, dK, dV are BF16 and its stats FP32, as ours); its backward reads the O
// and LSE of cuDNN's own forward.
// attention.reference against float64 on the host, at 48 query rows spread over (batch, head,
// row), each recomputed alone (a row of O, its LSE and its dQ depend on no other row): tolerance
// 1e-4 on O, LSE and dQ (FP32 SGEMMs over at most 16384 terms: about 1e-6). dK and dV need every
// row of P and are checked whole at small sizes by tests/gpu_test_attention.cu.
#include <algorithm>
#include <bit>
#include <climits>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <vector>

#include <fmt/format.h>

#include "bench/attention_oracle.hpp"
#include "bench/cudnn_attention.hpp"
#include "bench/impls.hpp"
#include "harness/attention_reference.hpp"
#include "harness/device_buffer.hpp"
#include "harness/error.hpp"
#include "harness/verify.hpp"
#include "kernels/attention/attention.cuh"

namespace trainbench {
namespace {

constexpr std::uint64_t kSeedQ = 20261201, kSeedK = 20261202, kSeedV = 20261203, kSeedDo = 20261204;
constexpr double kToleranceO = 0x1p-6, kToleranceLse = 0x1p-14, kToleranceGrad = 0x1p-6;
constexpr double kToleranceReference = 1e-4;
constexpr int kSampledRows = 48;
// When it verifies another impl it works through chunks of heads of at most this many bytes.
constexpr std::size_t kOracleChunkBytes = 4ull << 30;

std::string attention_unsupported(const Op& op) {
  const auto& a = std::get<Attention>(op);
  if (a.pass != "fwd" && a.pass != "bwd") return fmt::format("pass must be fwd or bwd, not {}", a.pass);
  if (a.batch == 0 || a.heads_q == 0 || a.heads_kv == 0 || a.seq_q == 0 || a.seq_kv == 0 || a.head_dim == 0)
    return "batch, heads, sequence lengths and head_dim must be positive";
  if (a.heads_q % a.heads_kv)
    return fmt::format("heads_kv ({}) must divide heads_q ({})", a.heads_kv, a.heads_q);
  if (a.head_dim % 8) return fmt::format("head_dim must be a multiple of 8 (16-byte rows); got {}", a.head_dim);
  const double q_elements = double(a.batch) * double(a.seq_q) * double(a.heads_q) * double(a.head_dim);
  const double kv_elements = double(a.batch) * double(a.seq_kv) * double(a.heads_kv) * double(a.head_dim);
  if (std::max(q_elements, kv_elements) > double(INT_MAX) || a.seq_q > INT_MAX / 2 || a.seq_kv > INT_MAX / 2)
    return "tensors must hold under 2^31 elements";
  return "";
}

std::string reference_unsupported(const Op& op) {
  if (auto why = attention_unsupported(op); !why.empty()) return why;
  const auto& a = std::get<Attention>(op);
  if (const double bytes = AttentionOracle::score_bytes(a); bytes > kAttentionReferenceMaxScoreBytes)
    return fmt::format("the unfused reference keeps B Hq Sq Sk FP32 scores ({}for the backward): {:.1f} GiB here, "
                       "over its {:.0f} GiB limit",
                       a.pass == "bwd" ? "twice, P and dS, " : "", bytes / double(1ull << 30),
                       kAttentionReferenceMaxScoreBytes / double(1ull << 30));
  return "";
}

std::string fwd_mma_unsupported(const Op& op) {
  if (auto why = attention_unsupported(op); !why.empty()) return why;
  const auto& a = std::get<Attention>(op);
  if (a.pass != "fwd") return "the attention.fwd.mma kernels compute the forward pass only (attention.bwd.mma: the backward)";
  if (!kernels::attention_mma_supports_head_dim(int(a.head_dim)))
    return fmt::format("head_dim must be 64 or 128 (a kernel instance per head_dim); got {}", a.head_dim);
  return "";
}

std::string fwd_wgmma_unsupported(const Op& op) {
  if (auto why = attention_unsupported(op); !why.empty()) return why;
  const auto& a = std::get<Attention>(op);
  if (a.pass != "fwd") return "attention.fwd.wgmma computes the forward pass only";
  if (!kernels::attention_wgmma_supports_head_dim(int(a.head_dim)))
    return fmt::format("head_dim must be 64 or 128 (a kernel instance per head_dim); got {}", a.head_dim);
  return "";
}

// What the cuDNN frontend refuses before building a plan, said here so that a suite lists it as
// unsupported instead of failing: its backward takes no single-key problem where one row is left
// (s_q = s_kv = 1; rows that see no key are sliced off first, so causal with s_kv = 1 comes to that).
std::string cudnn_unsupported(const Op& op) {
  if (auto why = attention_unsupported(op); !why.empty()) return why;
  const auto& a = std::get<Attention>(op);
  if (a.pass == "bwd" && a.seq_kv == 1 && (a.seq_q == 1 || a.causal))
    return "cuDNN's SDPA backward does not support s_q = s_kv = 1 (the frontend refuses it; causal with one key "
           "leaves one row)";
  return "";
}

std::string bwd_mma_unsupported(const Op& op) {
  if (auto why = attention_unsupported(op); !why.empty()) return why;
  const auto& a = std::get<Attention>(op);
  if (a.pass != "bwd") return "the attention.bwd.mma kernels compute the backward pass only (attention.fwd.mma: the forward)";
  if (!kernels::attention_mma_supports_head_dim(int(a.head_dim)))
    return fmt::format("head_dim must be 64 or 128 (a kernel instance per head_dim); got {}", a.head_dim);
  return "";
}

std::string bwd_wgmma_unsupported(const Op& op) {
  if (auto why = attention_unsupported(op); !why.empty()) return why;
  const auto& a = std::get<Attention>(op);
  if (a.pass != "bwd") return "attention.bwd.wgmma computes the backward pass only";
  if (!kernels::attention_wgmma_supports_head_dim(int(a.head_dim)))
    return fmt::format("head_dim must be 64 or 128 (a kernel instance per head_dim); got {}", a.head_dim);
  return "";
}

// One output's error, and the combination of several into one Verification.
constexpr const char* kElementwise = "max |got - want| / (|want| + rms(want))";
constexpr const char* kSliceNorm = "||got - want|| / ||want|| in the worst (batch, head)";
constexpr const char* kRowNorm = "||got - want|| / ||want|| in the worst row of head_dim values";

struct OutputError {
  std::string name;
  double error = 0, tolerance = 0;
  std::string note;
  const char* metric = kElementwise;
};

Verification combine(const std::vector<OutputError>& outputs, const std::string& against) {
  Verification v;
  v.tolerance = 1.0;
  std::string parts;
  for (const auto& o : outputs) {
    const double ratio = std::isfinite(o.error) ? o.error / o.tolerance : std::numeric_limits<double>::infinity();
    v.error = std::max(v.error, ratio);
    parts += fmt::format("{}{} {:.3g} ({}; tolerance {:.3g}{}{})", parts.empty() ? "" : "; ", o.name, o.error,
                         o.metric, o.tolerance, o.note.empty() ? "" : ", ", o.note);
  }
  v.detail = fmt::format("against {}: {}; the error shown is the worst error / tolerance", against, parts);
  return v;
}

// Where a fused output errs: the worst slice, and the worst element by the elementwise metric
// (which, unlike the slice norm, rounding pushes past any fixed bound on causal rows that see few
// keys: their terms are large and cancel, while rms(want) is set by the long rows).
std::string slice_note(const ReferenceComparison& c, std::size_t heads, std::size_t d) {
  return fmt::format("worst slice (batch {}, head {}); elementwise {} {:.3g} at (token {}, head {}, dim {}); {} non-finite",
                     c.worst_slice / heads, c.worst_slice % heads, kElementwise, c.max_error,
                     c.worst_index / d / heads, c.worst_index / d % heads, c.worst_index % d, c.nonfinite);
}

// Where the per-row norm errs worst.
std::string row_note(const ReferenceComparison& c, std::size_t seq, std::size_t heads) {
  const std::size_t token = c.worst_row / heads;
  return fmt::format("worst row (batch {}, token {}, head {})", token / seq, token % seq, c.worst_row % heads);
}

// Max relative error over pairs, both -inf counting as equal (rows that see no key).
double relative_error(const std::vector<double>& got, const std::vector<double>& want) {
  double sum_sq = 0;
  std::size_t finite = 0;
  for (double w : want)
    if (std::isfinite(w)) {
      sum_sq += w * w;
      ++finite;
    }
  const double rms = finite && sum_sq > 0 ? std::sqrt(sum_sq / double(finite)) : 1.0;
  double worst = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (std::isinf(want[i]) && got[i] == want[i]) continue;
    if (!std::isfinite(got[i]) || !std::isfinite(want[i])) return std::numeric_limits<double>::infinity();
    worst = std::max(worst, std::abs(got[i] - want[i]) / (std::abs(want[i]) + rms));
  }
  return worst;
}

template <typename T>
std::vector<T> to_host(const DeviceBuffer& buffer, cudaStream_t stream) {
  std::vector<T> out(buffer.bytes() / sizeof(T));
  TB_CUDA_CHECK(cudaMemcpyAsync(out.data(), buffer.get(), buffer.bytes(), cudaMemcpyDeviceToHost, stream));
  TB_CUDA_CHECK(cudaStreamSynchronize(stream));
  return out;
}

double bf16_value(std::uint16_t bits) { return double(std::bit_cast<float>(std::uint32_t(bits) << 16)); }

kernels::AttentionShape kernel_shape(const Attention& a) {
  return kernels::AttentionShape{.batch = int(a.batch), .heads_q = int(a.heads_q), .heads_kv = int(a.heads_kv),
                                 .seq_q = int(a.seq_q), .seq_kv = int(a.seq_kv), .head_dim = int(a.head_dim),
                                 .causal = a.causal};
}

// The inputs every attention case fills: Q, K, V, and dO for the backward.
class AttentionCase : public Case {
 public:
  explicit AttentionCase(const Attention& op)
      : op_(op),
        q_elements_(op.batch * op.seq_q * op.heads_q * op.head_dim),
        kv_elements_(op.batch * op.seq_kv * op.heads_kv * op.head_dim),
        q_(q_elements_ * 2, "attention input Q"),
        k_(kv_elements_ * 2, "attention input K"),
        v_(kv_elements_ * 2, "attention input V") {
    if (op.pass == "bwd") d_o_ = DeviceBuffer(q_elements_ * 2, "attention input dO");
  }

  void prepare(cudaStream_t stream) override {
    fill_uniform_bf16(q_.get(), q_elements_, kSeedQ, stream);
    fill_uniform_bf16(k_.get(), kv_elements_, kSeedK, stream);
    fill_uniform_bf16(v_.get(), kv_elements_, kSeedV, stream);
    if (d_o_.get()) fill_uniform_bf16(d_o_.get(), q_elements_, kSeedDo, stream);
  }

 protected:
  const __nv_bfloat16* q() const { return q_.as<const __nv_bfloat16>(); }
  const __nv_bfloat16* k() const { return k_.as<const __nv_bfloat16>(); }
  const __nv_bfloat16* v() const { return v_.as<const __nv_bfloat16>(); }
  const __nv_bfloat16* d_o() const { return d_o_.as<const __nv_bfloat16>(); }

  Attention op_;
  std::size_t q_elements_, kv_elements_;
  DeviceBuffer q_, k_, v_, d_o_;
};

// attention.reference: FP32 outputs (O and LSE, or dQ, dK and dV), spot-checked row by row
// against the float64 host reference.
class ReferenceCase final : public AttentionCase {
 public:
  explicit ReferenceCase(const Attention& op)
      : AttentionCase(op), oracle_(op, std::size_t(kAttentionReferenceMaxScoreBytes)) {
    if (op.pass == "fwd") {
      o_ = DeviceBuffer(q_elements_ * 4, "attention.reference output O");
      lse_ = DeviceBuffer(op.batch * op.heads_q * op.seq_q * 4, "attention.reference output LSE");
    } else {
      dq_ = DeviceBuffer(q_elements_ * 4, "attention.reference output dQ");
      dk_ = DeviceBuffer(kv_elements_ * 4, "attention.reference output dK");
      dv_ = DeviceBuffer(kv_elements_ * 4, "attention.reference output dV");
    }
  }

  void poison(cudaStream_t stream) override {
    for (DeviceBuffer* b : {&o_, &lse_, &dq_, &dk_, &dv_})
      if (b->get()) fill_poison(b->get(), b->bytes(), 0xFF, stream);
  }
  void launch(cudaStream_t stream) override {
    if (op_.pass == "fwd") oracle_.forward(q(), k(), v(), o_.as<float>(), lse_.as<float>(), stream);
    else oracle_.backward(q(), k(), v(), d_o(), dq_.as<float>(), dk_.as<float>(), dv_.as<float>(), stream);
  }

  Verification check(cudaStream_t stream) override {
    const auto hq = to_host<std::uint16_t>(q_, stream), hk = to_host<std::uint16_t>(k_, stream),
               hv = to_host<std::uint16_t>(v_, stream);
    const auto hdo = op_.pass == "bwd" ? to_host<std::uint16_t>(d_o_, stream) : std::vector<std::uint16_t>();
    const std::size_t d = op_.head_dim, rows = op_.batch * op_.heads_q * op_.seq_q, group = op_.heads_q / op_.heads_kv;
    std::vector<double> got_main, want_main, got_lse, want_lse;
    const int samples = int(std::min<std::size_t>(kSampledRows, rows));
    for (int t = 0; t < samples; ++t) {
      // Evenly spread over the flattened (batch, head, row) order, first and last included.
      const std::size_t flat = samples > 1 ? std::size_t(t) * (rows - 1) / std::size_t(samples - 1) : 0;
      const std::size_t i = flat % op_.seq_q, h = flat / op_.seq_q % op_.heads_q, b = flat / op_.seq_q / op_.heads_q;
      const std::size_t n = std::size_t(kernels::attention_visible_keys(int(i), int(op_.seq_q), int(op_.seq_kv),
                                                                        op_.causal));
      const std::size_t q_at = ((b * op_.seq_q + i) * op_.heads_q + h) * d;
      std::vector<double> q_row(d), do_row(d), k_rows(n * d), v_rows(n * d);
      for (std::size_t x = 0; x < d; ++x) q_row[x] = bf16_value(hq[q_at + x]);
      if (!hdo.empty())
        for (std::size_t x = 0; x < d; ++x) do_row[x] = bf16_value(hdo[q_at + x]);
      for (std::size_t j = 0; j < n; ++j)
        for (std::size_t x = 0; x < d; ++x) {
          const std::size_t at = ((b * op_.seq_kv + j) * op_.heads_kv + h / group) * d + x;
          k_rows[j * d + x] = bf16_value(hk[at]);
          v_rows[j * d + x] = bf16_value(hv[at]);
        }
      // The row alone: one query that sees exactly its n visible keys, unmasked.
      const Attention row_op{.batch = 1, .heads_q = 1, .heads_kv = 1, .seq_q = 1, .seq_kv = n,
                             .head_dim = op_.head_dim, .causal = false, .pass = op_.pass};
      std::vector<double> want(d, 0.0);
      double want_lse_row = -std::numeric_limits<double>::infinity();
      if (n > 0 && op_.pass == "fwd") {
        const AttentionForward f = attention_forward_reference(row_op, q_row, k_rows, v_rows);
        want = f.o;
        want_lse_row = f.lse[0];
      } else if (n > 0) {
        want = attention_backward_reference(row_op, q_row, k_rows, v_rows, do_row).dq;
      }
      std::vector<float> got(d);
      const DeviceBuffer& out = op_.pass == "fwd" ? o_ : dq_;
      TB_CUDA_CHECK(cudaMemcpy(got.data(), out.as<float>() + q_at, d * 4, cudaMemcpyDeviceToHost));
      got_main.insert(got_main.end(), got.begin(), got.end());
      want_main.insert(want_main.end(), want.begin(), want.end());
      if (op_.pass == "fwd") {
        float got_lse_row = 0;
        TB_CUDA_CHECK(cudaMemcpy(&got_lse_row, lse_.as<float>() + (b * op_.heads_q + h) * op_.seq_q + i, 4,
                                 cudaMemcpyDeviceToHost));
        got_lse.push_back(got_lse_row);
        want_lse.push_back(want_lse_row);
      }
    }
    const std::string against = fmt::format(
        "float64 on the host at {} query rows spread over (batch, head, row), each recomputed alone", samples);
    if (op_.pass == "fwd")
      return combine({{"O", relative_error(got_main, want_main), kToleranceReference, ""},
                      {"LSE", relative_error(got_lse, want_lse), kToleranceReference, ""}},
                     against);
    return combine({{"dQ", relative_error(got_main, want_main), kToleranceReference,
                     "dK and dV not spot-checked: each row needs every row of P"}},
                   against);
  }

 private:
  AttentionOracle oracle_;
  DeviceBuffer o_, lse_, dq_, dk_, dv_;
};

using FwdLauncher = std::function<void(const kernels::AttentionFwdArgs&, cudaStream_t)>;
using BwdLauncher = std::function<void(const kernels::AttentionBwdArgs&, cudaStream_t)>;

// A fused forward (ours or cuDNN's): O (BF16) and LSE (FP32), verified against
// attention.reference. `about` is added to the verification's detail (the library's version).
class FwdKernelCase final : public AttentionCase {
 public:
  FwdKernelCase(const Attention& op, FwdLauncher launcher, std::string about = "")
      : AttentionCase(op), launcher_(std::move(launcher)), about_(std::move(about)),
        o_(q_elements_ * 2, "attention output O"), lse_(op.batch * op.heads_q * op.seq_q * 4, "attention output LSE") {}

  void poison(cudaStream_t stream) override {
    fill_poison(o_.get(), o_.bytes(), 0xFF, stream);
    fill_poison(lse_.get(), lse_.bytes(), 0xFF, stream);
  }
  void launch(cudaStream_t stream) override {
    launcher_(kernels::AttentionFwdArgs{.q = q(), .k = k(), .v = v(), .o = o_.as<__nv_bfloat16>(),
                                        .lse = lse_.as<float>(), .shape = kernel_shape(op_)},
              stream);
  }

  Verification check(cudaStream_t stream) override {
    AttentionOracle oracle(op_, kOracleChunkBytes);
    DeviceBuffer want_o(q_elements_ * 4, "the reference O"), want_lse(lse_.bytes(), "the reference LSE");
    oracle.forward(q(), k(), v(), want_o.as<float>(), want_lse.as<float>(), stream);
    const HeadSlices slices{op_.seq_q, op_.heads_q, op_.head_dim};
    const ReferenceComparison o = compare_with_reference(o_.get(), FloatType::Bf16, want_o.as<float>(), q_elements_,
                                                         stream, &slices);
    // LSE is small (B Hq Sq values) and may hold -inf (rows that see no key): compared on the host.
    const auto got_lse = to_host<float>(lse_, stream), ref_lse = to_host<float>(want_lse, stream);
    const double lse_error = relative_error(std::vector<double>(got_lse.begin(), got_lse.end()),
                                            std::vector<double>(ref_lse.begin(), ref_lse.end()));
    const std::size_t d = op_.head_dim;
    return combine({{"O", o.slice_norm_error, kToleranceO, slice_note(o, op_.heads_q, d), kSliceNorm},
                    {"O", o.row_norm_error, kToleranceO, row_note(o, op_.seq_q, op_.heads_q), kRowNorm},
                    {"LSE", lse_error, kToleranceLse, ""}},
                   "attention.reference (unfused FP32 on the GPU)" + about_);
  }

 private:
  FwdLauncher launcher_;
  std::string about_;
  DeviceBuffer o_, lse_;
};

// A fused backward (ours or cuDNN's): dQ, dK, dV (BF16) from Q, K, V, dO and the O and LSE of
// the given forward (run in prepare, outside the timed launch), verified against
// attention.reference. workspace_bytes: the backward's scratch, passed in its args (0: none).
class BwdKernelCase final : public AttentionCase {
 public:
  BwdKernelCase(const Attention& op, FwdLauncher forward, BwdLauncher launcher, std::size_t workspace_bytes,
                std::string about = "")
      : AttentionCase(op), forward_(std::move(forward)), launcher_(std::move(launcher)), about_(std::move(about)),
        o_(q_elements_ * 2, "attention forward output O"),
        lse_(op.batch * op.heads_q * op.seq_q * 4, "attention forward output LSE"),
        dq_(q_elements_ * 2, "attention output dQ"), dk_(kv_elements_ * 2, "attention output dK"),
        dv_(kv_elements_ * 2, "attention output dV") {
    if (workspace_bytes) workspace_ = DeviceBuffer(workspace_bytes, "attention backward workspace");
  }

  void prepare(cudaStream_t stream) override {
    AttentionCase::prepare(stream);
    forward_(kernels::AttentionFwdArgs{.q = q(), .k = k(), .v = v(), .o = o_.as<__nv_bfloat16>(),
                                       .lse = lse_.as<float>(), .shape = kernel_shape(op_)},
             stream);
    TB_CUDA_CHECK(cudaGetLastError());
  }
  void poison(cudaStream_t stream) override {
    for (DeviceBuffer* b : {&dq_, &dk_, &dv_, &workspace_})
      if (b->get()) fill_poison(b->get(), b->bytes(), 0xFF, stream);
  }
  void launch(cudaStream_t stream) override {
    launcher_(kernels::AttentionBwdArgs{.q = q(), .k = k(), .v = v(), .o = o_.as<const __nv_bfloat16>(),
                                        .lse = lse_.as<const float>(), .d_o = d_o(), .dq = dq_.as<__nv_bfloat16>(),
                                        .dk = dk_.as<__nv_bfloat16>(), .dv = dv_.as<__nv_bfloat16>(),
                                        .workspace = workspace_.get(), .shape = kernel_shape(op_)},
              stream);
  }

  Verification check(cudaStream_t stream) override {
    AttentionOracle oracle(op_, kOracleChunkBytes);
    DeviceBuffer want_dq(q_elements_ * 4, "the reference dQ"), want_dk(kv_elements_ * 4, "the reference dK"),
        want_dv(kv_elements_ * 4, "the reference dV");
    oracle.backward(q(), k(), v(), d_o(), want_dq.as<float>(), want_dk.as<float>(), want_dv.as<float>(), stream);
    std::vector<OutputError> errors;
    const struct {
      const char* name;
      const DeviceBuffer& got;
      const DeviceBuffer& want;
      std::size_t count, seq, heads;
    } outputs[] = {{"dQ", dq_, want_dq, q_elements_, op_.seq_q, op_.heads_q},
                   {"dK", dk_, want_dk, kv_elements_, op_.seq_kv, op_.heads_kv},
                   {"dV", dv_, want_dv, kv_elements_, op_.seq_kv, op_.heads_kv}};
    for (const auto& out : outputs) {
      const HeadSlices slices{out.seq, out.heads, op_.head_dim};
      const ReferenceComparison c =
          compare_with_reference(out.got.get(), FloatType::Bf16, out.want.as<float>(), out.count, stream, &slices);
      errors.push_back({out.name, c.slice_norm_error, kToleranceGrad, slice_note(c, out.heads, op_.head_dim),
                        kSliceNorm});
    }
    return combine(errors, "attention.reference's backward (unfused FP32 on the GPU)" + about_);
  }

 private:
  FwdLauncher forward_;
  BwdLauncher launcher_;
  std::string about_;
  DeviceBuffer o_, lse_, dq_, dk_, dv_, workspace_;
};

// attention.cudnn: the plans are built here, once per op, before any launch; the backward's O
// and LSE come from cuDNN's own forward.
std::unique_ptr<Case> make_cudnn_case(const Attention& op) {
  auto cudnn = std::make_shared<CudnnAttention>(op);
  const std::string about = ", run on " + cudnn->versions();
  FwdLauncher forward = [cudnn](const kernels::AttentionFwdArgs& a, cudaStream_t stream) {
    cudnn->forward(a.q, a.k, a.v, a.o, a.lse, stream);
  };
  if (op.pass == "fwd") return std::make_unique<FwdKernelCase>(op, std::move(forward), about);
  BwdLauncher backward = [cudnn](const kernels::AttentionBwdArgs& a, cudaStream_t stream) {
    cudnn->backward(a.q, a.k, a.v, a.o, a.lse, a.d_o, a.dq, a.dk, a.dv, stream);
  };
  return std::make_unique<BwdKernelCase>(op, std::move(forward), std::move(backward), 0, about);
}

}  // namespace

void register_attention_impls(Registry& r) {
  r.add(Impl{.name = "attention.reference",
             .family = Attention::family,
             .description = "unfused FP32: cuBLAS SGEMM S = QK^T, masked softmax kernel, O = PV; and the backward "
                            "(bench/attention_oracle.cpp, kernels/attention/reference.cu)",
             .vendor = false,
             .min_arch = 80,
             .max_arch = 0,
             .unsupported = reference_unsupported,
             .make = [](const Op& op, const DeviceInfo&) -> std::unique_ptr<Case> {
               return std::make_unique<ReferenceCase>(std::get<Attention>(op));
             }});
  r.add(Impl{.name = "attention.fwd.mma",
             .family = Attention::family,
             .description = "FlashAttention-2 forward: mma.sync m16n8k16, Q in registers, 2-stage cp.async K/V, "
                            "128x64 tiles (kernels/attention/1_sm80_flash_fwd_mma.cu)",
             .vendor = false,
             .min_arch = 80,
             .max_arch = 0,
             .unsupported = fwd_mma_unsupported,
             .make = [](const Op& op, const DeviceInfo&) -> std::unique_ptr<Case> {
               return std::make_unique<FwdKernelCase>(std::get<Attention>(op), &kernels::attention_fwd_mma_sm80);
             }});
  r.add(Impl{.name = "attention.fwd.mma_256",
             .family = Attention::family,
             .description = "attention.fwd.mma on 256x64 tiles (256x32 at head_dim 128): 8 warps of 32 query rows, "
                            "each K and V fragment feeding two m16 tiles, Q re-read from shared memory "
                            "(kernels/attention/1_sm80_flash_fwd_mma.cu, version 1b)",
             .vendor = false,
             .min_arch = 80,
             .max_arch = 0,
             .unsupported = fwd_mma_unsupported,
             .make = [](const Op& op, const DeviceInfo&) -> std::unique_ptr<Case> {
               return std::make_unique<FwdKernelCase>(std::get<Attention>(op), &kernels::attention_fwd_mma_256_sm80);
             }});
  r.add(Impl{.name = "attention.fwd.wgmma",
             .family = Attention::family,
             .description = "FlashAttention-3 forward: TMA Q and K/V ring on mbarriers, producer + 2 or 3 consumer "
                            "warpgroups (setmaxnreg), wgmma S = QK^T and O += PV with P in registers, ping-pong and "
                            "intra-warpgroup softmax overlap (kernels/attention/3_sm90_flash_fwd_wgmma.cu)",
             .vendor = false,
             .min_arch = 90,
             .max_arch = 90,
             .unsupported = fwd_wgmma_unsupported,
             .make = [](const Op& op, const DeviceInfo&) -> std::unique_ptr<Case> {
               return std::make_unique<FwdKernelCase>(std::get<Attention>(op), &kernels::attention_fwd_wgmma_sm90);
             }});
  r.add(Impl{.name = "attention.fwd.wgmma_persistent",
             .family = Attention::family,
             .description = "attention.fwd.wgmma on a persistent grid (one CTA per SM walking tiles): the producer "
                            "loads the next tile's Q and K/V under the last P V and stores of the tile before "
                            "(kernels/attention/3_sm90_flash_fwd_wgmma.cu)",
             .vendor = false,
             .min_arch = 90,
             .max_arch = 90,
             .unsupported = fwd_wgmma_unsupported,
             .make = [](const Op& op, const DeviceInfo&) -> std::unique_ptr<Case> {
               return std::make_unique<FwdKernelCase>(std::get<Attention>(op),
                                                      &kernels::attention_fwd_wgmma_persistent_sm90);
             }});
  r.add(Impl{.name = "attention.bwd.mma",
             .family = Attention::family,
             .description = "FlashAttention-2 backward: mma.sync m16n8k16, a CTA per 64 keys of a query head with "
                            "dK, dV in registers (added by FP32 atomics under GQA), dQ by FP32 atomics "
                            "(kernels/attention/2_sm80_flash_bwd_mma.cu)",
             .vendor = false,
             .min_arch = 80,
             .max_arch = 0,
             .unsupported = bwd_mma_unsupported,
             .make = [](const Op& op, const DeviceInfo&) -> std::unique_ptr<Case> {
               const auto& a = std::get<Attention>(op);
               return std::make_unique<BwdKernelCase>(a, &kernels::attention_fwd_mma_sm80,
                                                      &kernels::attention_bwd_mma_sm80,
                                                      kernels::attention_bwd_workspace(kernel_shape(a)).bytes);
             }});
  r.add(Impl{.name = "attention.bwd.mma_128",
             .family = Attention::family,
             .description = "attention.bwd.mma on 128 keys per CTA (8 warps, dQ split by head dimension): half the dQ "
                            "atomics and Q/dO loads per key (kernels/attention/2_sm80_flash_bwd_mma.cu, version 2b)",
             .vendor = false,
             .min_arch = 80,
             .max_arch = 0,
             .min_smem_per_block = kernels::attention_bwd_mma_128_smem_bytes(64),
             .smem_per_block = [](const Op& op) -> std::uint64_t {
               return kernels::attention_bwd_mma_128_smem_bytes(int(std::get<Attention>(op).head_dim));
             },
             .unsupported = bwd_mma_unsupported,
             .make = [](const Op& op, const DeviceInfo&) -> std::unique_ptr<Case> {
               const auto& a = std::get<Attention>(op);
               return std::make_unique<BwdKernelCase>(a, &kernels::attention_fwd_mma_sm80,
                                                      &kernels::attention_bwd_mma_128_sm80,
                                                      kernels::attention_bwd_workspace(kernel_shape(a)).bytes);
             }});
  r.add(Impl{.name = "attention.bwd.wgmma",
             .family = Attention::family,
             .description = "FlashAttention-3-style backward: TMA K/V once and Q, dO, LSE, D per query block on "
                            "mbarriers, producer + 2 consumer warpgroups of 64 keys (setmaxnreg), wgmma S^T, dP^T, "
                            "dV, dK (P^T and dS^T in registers) and dQ, dQ added by TMA reductions, a CTA per query "
                            "head (kernels/attention/4_sm90_flash_bwd_wgmma.cu)",
             .vendor = false,
             .min_arch = 90,
             .max_arch = 90,
             .unsupported = bwd_wgmma_unsupported,
             .make = [](const Op& op, const DeviceInfo&) -> std::unique_ptr<Case> {
               const auto& a = std::get<Attention>(op);
               return std::make_unique<BwdKernelCase>(a, &kernels::attention_fwd_mma_sm80,
                                                      &kernels::attention_bwd_wgmma_sm90,
                                                      kernels::attention_bwd_workspace(kernel_shape(a)).bytes);
             }});
  r.add(Impl{.name = "attention.cudnn",
             .family = Attention::family,
             .description = "cuDNN's fused SDPA, forward (with its LSE stats) and backward, through the cuDNN "
                            "frontend's graph API; plans built once per shape (bench/cudnn_attention.cpp)",
             .vendor = true,
             .min_arch = 80,
             .max_arch = 0,
             .missing = cudnn_attention_missing(),
             .unsupported = cudnn_unsupported,
             .make = [](const Op& op, const DeviceInfo&) -> std::unique_ptr<Case> {
               return make_cudnn_case(std::get<Attention>(op));
             }});
}

}  // namespace trainbench
