// The attention kernels (forward and backward), cuDNN's (attention.cudnn) and the unfused
// reference against the float64 host reference (harness/attention_reference.hpp) at small,
// awkward shapes: sequence lengths that are not multiples of any tile, seq_q != seq_kv (rows
// that see no key when causal), GQA and MQA, head_dim 64 and 128. Then every attention impl
// through its Case at larger shapes (verified against attention.reference on the GPU), and an
// unwritten output caught by the poison.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <cuda_bf16.h>

#include "bench/attention_oracle.hpp"
#include "bench/cudnn_attention.hpp"
#include "bench/impls.hpp"
#include "harness/attention_reference.hpp"
#include "harness/device.hpp"
#include "harness/device_buffer.hpp"
#include "harness/error.hpp"
#include "harness/verify.hpp"
#include "kernels/attention/attention.cuh"
#include "tests/gpu_skip.hpp"
#include "tests/gpu_test_support.hpp"

namespace trainbench {
namespace {

using testing::Stream;

// The fused kernels (ours and cuDNN's) against float64, by the measure and bounds the benchmarks
// use (bench/impls_attention.cpp): ||got - want|| / ||want|| in the worst (batch, head), 2^-6 on
// the BF16 O, dQ, dK, dV, and on O in the worst row of head_dim values too; the FP32 LSE
// elementwise. The FP32 reference is held to FP32 accuracy.
constexpr double kToleranceFusedO = 0x1p-6, kToleranceFusedLse = 0x1p-14, kToleranceFp32 = 1e-4;
constexpr double kToleranceFusedGrad = 0x1p-6;

// The fused outputs' measure on a query-shaped (O, dQ) or key-shaped (dK, dV) tensor.
double q_error(const std::vector<double>& got, const std::vector<double>& want, const Attention& a) {
  return worst_slice_norm_error(got, want, a.seq_q, a.heads_q, a.head_dim);
}
double kv_error(const std::vector<double>& got, const std::vector<double>& want, const Attention& a) {
  return worst_slice_norm_error(got, want, a.seq_kv, a.heads_kv, a.head_dim);
}
// The forward's O, row by row (one token of one head).
double o_row_error(const std::vector<double>& got, const std::vector<double>& want, const Attention& a) {
  return worst_slice_norm_error(got, want, 1, a.heads_q, a.head_dim);
}

// max |got - want| / (|want| + rms(want)); equal infinities (rows that see no key) count as equal.
double relative_error(const std::vector<double>& got, const std::vector<double>& want) {
  EXPECT_EQ(got.size(), want.size());
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

std::vector<double> bf16_to_host(const DeviceBuffer& b) {
  std::vector<std::uint16_t> bits(b.bytes() / 2);
  TB_CUDA_CHECK(cudaMemcpy(bits.data(), b.get(), b.bytes(), cudaMemcpyDeviceToHost));
  std::vector<double> out(bits.size());
  for (std::size_t i = 0; i < bits.size(); ++i) out[i] = double(std::bit_cast<float>(std::uint32_t(bits[i]) << 16));
  return out;
}

std::vector<double> f32_to_host(const DeviceBuffer& b) {
  std::vector<float> v(b.bytes() / 4);
  TB_CUDA_CHECK(cudaMemcpy(v.data(), b.get(), b.bytes(), cudaMemcpyDeviceToHost));
  return std::vector<double>(v.begin(), v.end());
}

struct Seqs {
  std::uint64_t q, kv;
};
// Not multiples of the tiles (128 query rows, 64 keys) except where the point is the boundary.
const Seqs kSmallSeqs[] = {{1, 1},     {1, 300},   {17, 17},   {64, 64},   {100, 130},
                           {130, 100}, {128, 128}, {257, 257}, {300, 300}, {300, 65}};
struct Heads {
  std::uint64_t q, kv;
};
const Heads kHeads[] = {{4, 2}, {4, 4}, {4, 1}};

std::vector<Seqs> small_seqs() { return {std::begin(kSmallSeqs), std::end(kSmallSeqs)}; }
// Those, and a few whose key blocks (128, or 176 at head_dim 128 without a causal mask) wrap the
// Hopper kernels' rings and whose query tiles (64 to 256 rows) end in tails: 352 keys are two whole
// 176-key blocks, none masked, 176 one, 177 one and a one-key block; 1100 x 129 causal is several
// 256-row CTAs of attention.fwd.mma_256 whose rows mostly see no key, 385 x 770 a diagonal offset
// across two of them. 191 x 256 causal: the first row that sees key 128 (the second 128-key
// backward CTA's first key) is row 63, the last of a 64-row query block, so a causal start one row
// late would skip it.
std::vector<Seqs> longer_seqs() {
  std::vector<Seqs> seqs = small_seqs();
  for (const Seqs s : {Seqs{600, 600}, Seqs{129, 1100}, Seqs{1100, 129}, Seqs{385, 770}, Seqs{352, 352},
                       Seqs{176, 176}, Seqs{177, 177}, Seqs{191, 256}})
    seqs.push_back(s);
  return seqs;
}

// The small test problems of a pass: each (seq_q, seq_kv) at head_dim 64 and 128, full and causal,
// batch 2, the head layouts (GQA, MHA, MQA) taken in turn.
std::vector<Attention> small_problems(const std::vector<Seqs>& seqs, const char* pass) {
  std::vector<Attention> out;
  std::size_t shape_index = 0;
  for (const Seqs s : seqs)
    for (const std::uint64_t d : {64, 128})
      for (const bool causal : {false, true}) {
        const Heads h = kHeads[shape_index++ % 3];
        out.push_back(Attention{.batch = 2, .heads_q = h.q, .heads_kv = h.kv, .seq_q = s.q, .seq_kv = s.kv,
                                .head_dim = d, .causal = causal, .pass = pass});
      }
  return out;
}

std::string label(const Attention& a) { return op_label(a); }

// Whether `impl` (none: any) can run `a` on this GPU; where not (a head_dim whose shared memory
// the GPU does not give), says that the test leaves it out.
bool runs_here(const Impl* impl, const Attention& a, const DeviceInfo& info) {
  if (!impl) return true;
  const std::string why = unavailable_at_op_reason(*impl, a, info);
  if (!why.empty()) std::printf("[ INFO     ] %s %s left out: %s\n", impl->name.c_str(), label(a).c_str(), why.c_str());
  return why.empty();
}

// Random BF16 inputs on the device and their exact values on the host.
struct Inputs {
  DeviceBuffer q, k, v, d_o;
  std::vector<double> hq, hk, hv, hdo;
  Inputs(const Attention& a, cudaStream_t stream)
      : q(a.batch * a.seq_q * a.heads_q * a.head_dim * 2, "Q"),
        k(a.batch * a.seq_kv * a.heads_kv * a.head_dim * 2, "K"),
        v(k.bytes(), "V"),
        d_o(q.bytes(), "dO") {
    fill_uniform_bf16(q.get(), q.bytes() / 2, 11, stream);
    fill_uniform_bf16(k.get(), k.bytes() / 2, 12, stream);
    fill_uniform_bf16(v.get(), v.bytes() / 2, 13, stream);
    fill_uniform_bf16(d_o.get(), d_o.bytes() / 2, 14, stream);
    TB_CUDA_CHECK(cudaStreamSynchronize(stream));
    hq = bf16_to_host(q), hk = bf16_to_host(k), hv = bf16_to_host(v), hdo = bf16_to_host(d_o);
  }
};

kernels::AttentionShape kernel_shape(const Attention& a) {
  return {int(a.batch), int(a.heads_q), int(a.heads_kv), int(a.seq_q), int(a.seq_kv), int(a.head_dim), a.causal};
}

// A fused forward kernel on `a`, outputs poisoned first: O and LSE against the float64 reference.
void expect_fused_forward_matches(void (*kernel)(const kernels::AttentionFwdArgs&, cudaStream_t), const char* name,
                                  const Attention& a, const Inputs& in, const AttentionForward& want,
                                  cudaStream_t stream) {
  DeviceBuffer o(in.q.bytes(), "O"), lse(a.batch * a.heads_q * a.seq_q * 4, "LSE");
  fill_poison(o.get(), o.bytes(), 0xFF, stream);
  fill_poison(lse.get(), lse.bytes(), 0xFF, stream);
  kernel({.q = in.q.as<const __nv_bfloat16>(), .k = in.k.as<const __nv_bfloat16>(), .v = in.v.as<const __nv_bfloat16>(),
          .o = o.as<__nv_bfloat16>(), .lse = lse.as<float>(), .shape = kernel_shape(a)},
         stream);
  TB_CUDA_CHECK(cudaGetLastError());
  TB_CUDA_CHECK(cudaStreamSynchronize(stream));
  const std::vector<double> got_o = bf16_to_host(o);
  EXPECT_LE(q_error(got_o, want.o, a), kToleranceFusedO) << name << " O " << label(a);
  EXPECT_LE(o_row_error(got_o, want.o, a), kToleranceFusedO) << name << " O, worst row, " << label(a);
  EXPECT_LE(relative_error(f32_to_host(lse), want.lse), kToleranceFusedLse) << name << " LSE " << label(a);
}

// compare_with_reference's slice and row norms (what the attention impls are held to) against the
// host's worst_slice_norm_error on the same values: one row of (batch 1, token 60, head 2) zeroed,
// one element of another slice moved, and a row whose reference is zero given a value.
TEST(AttentionVerification, SliceAndRowNormsOnTheGpuAreTheHostMeasure) {
  TB_REQUIRE_GPU();
  const Device device(0);
  const Stream stream;
  constexpr std::size_t kBatch = 2, kSeq = 64, kHeads = 4, kDim = 128, kCount = kBatch * kSeq * kHeads * kDim;
  DeviceBuffer values(kCount * 2, "values"), want(kCount * 4, "reference"), got(kCount * 4, "output");
  fill_uniform_bf16(values.get(), kCount, 21, stream);
  TB_CUDA_CHECK(cudaStreamSynchronize(stream));
  const std::vector<double> h = bf16_to_host(values);
  std::vector<float> w(h.begin(), h.end());
  std::fill(w.begin() + 10 * kDim, w.begin() + 11 * kDim, 0.f);  // row 10: a reference of zero
  std::vector<float> g = w;
  const std::size_t row = (1 * kSeq + 60) * kHeads + 2;
  std::fill(g.begin() + row * kDim, g.begin() + (row + 1) * kDim, 0.f);
  g[5 * kDim + 7] += 0.25f;
  g[10 * kDim + 3] = 0.5f;
  TB_CUDA_CHECK(cudaMemcpyAsync(want.get(), w.data(), kCount * 4, cudaMemcpyHostToDevice, stream));
  TB_CUDA_CHECK(cudaMemcpyAsync(got.get(), g.data(), kCount * 4, cudaMemcpyHostToDevice, stream));
  const HeadSlices slices{kSeq, kHeads, kDim};
  const ReferenceComparison r = compare_with_reference(got.get(), FloatType::F32, want.as<float>(), kCount, stream, &slices);
  const std::vector<double> hw(w.begin(), w.end()), hg(g.begin(), g.end());
  EXPECT_NEAR(r.slice_norm_error, worst_slice_norm_error(hg, hw, kSeq, kHeads, kDim), 1e-12);
  EXPECT_EQ(r.worst_slice, 1u * kHeads + 2);
  EXPECT_NEAR(r.row_norm_error, worst_slice_norm_error(hg, hw, 1, kHeads, kDim), 1e-12);
  EXPECT_NEAR(r.row_norm_error, 1.0, 1e-12);  // the zeroed row: all of it wrong
  EXPECT_EQ(r.worst_row, row);
}

// Under a sanitizer the small sequences only: racecheck tracks every shared-memory access of the
// mma.sync kernels, and took 25 s over those for attention.fwd.mma alone on an H200.
TEST(AttentionForward, FusedAndReferenceMatchFloat64AtSmallShapes) {
  TB_REQUIRE_GPU();
  const Device device(0);
  const Stream stream;
  for (const Attention& a : small_problems(testing::under_sanitizer() ? small_seqs() : longer_seqs(), "fwd")) {
    const Inputs in(a, stream);
    const AttentionForward want = attention_forward_reference(a, in.hq, in.hk, in.hv);

    DeviceBuffer lse(a.batch * a.heads_q * a.seq_q * 4, "LSE");
    expect_fused_forward_matches(&kernels::attention_fwd_mma_sm80, "attention.fwd.mma", a, in, want, stream);
    expect_fused_forward_matches(&kernels::attention_fwd_mma_256_sm80, "attention.fwd.mma_256", a, in, want, stream);

    AttentionOracle oracle(a, 1ull << 30);
    DeviceBuffer o32(in.q.bytes() * 2, "O (FP32)");
    fill_poison(o32.get(), o32.bytes(), 0xFF, stream);
    fill_poison(lse.get(), lse.bytes(), 0xFF, stream);
    oracle.forward(in.q.as<const __nv_bfloat16>(), in.k.as<const __nv_bfloat16>(),
                   in.v.as<const __nv_bfloat16>(), o32.as<float>(), lse.as<float>(), stream);
    TB_CUDA_CHECK(cudaStreamSynchronize(stream));
    EXPECT_LE(relative_error(f32_to_host(o32), want.o), kToleranceFp32) << "attention.reference O " << label(a);
    EXPECT_LE(relative_error(f32_to_host(lse), want.lse), kToleranceFp32) << "attention.reference LSE " << label(a);
  }
}

// attention.fwd.wgmma (sm_90a) at the same shapes; its bounds are attention.fwd.mma's (P and O
// rounded to BF16 the same way).
TEST(AttentionForward, WgmmaMatchesFloat64AtSmallShapes) {
  TB_REQUIRE_GPU();
  const Device device(0);
  register_all_impls();
  if (const auto why = unavailable_reason(registry().find("attention.fwd.wgmma"), device.info()); !why.empty())
    GTEST_SKIP() << "attention.fwd.wgmma: " << why;
  const Stream stream;
  for (const Attention& a : small_problems(longer_seqs(), "fwd")) {
    const Inputs in(a, stream);
    const AttentionForward want = attention_forward_reference(a, in.hq, in.hk, in.hv);
    expect_fused_forward_matches(&kernels::attention_fwd_wgmma_sm90, "attention.fwd.wgmma", a, in, want, stream);
    // The tile walk of attention.fwd.wgmma_persistent with one CTA (every tile, the ring wrapping
    // from tile to tile, one-block and keyless tiles in between) and with 7.
    expect_fused_forward_matches(
        [](const kernels::AttentionFwdArgs& args, cudaStream_t s) {
          kernels::attention_fwd_wgmma_on_ctas_sm90(args, 1, s);
        },
        "attention.fwd.wgmma on 1 CTA", a, in, want, stream);
    expect_fused_forward_matches(
        [](const kernels::AttentionFwdArgs& args, cudaStream_t s) {
          kernels::attention_fwd_wgmma_on_ctas_sm90(args, 7, s);
        },
        "attention.fwd.wgmma on 7 CTAs", a, in, want, stream);
  }
}

// Key j scaled by 1 + 4 j / seq_kv (rounded back to BF16): scores grow along the keys, so row
// maxima keep moving in late key blocks, where with uniform inputs they have long settled. That
// exercises the rescale of O and the skip of it (attention.fwd.mma's warps skip it when no row's
// max moved) on both of their branches, many blocks into a row; full and causal, GQA.
void grow_keys(Inputs& in, const Attention& a, cudaStream_t stream) {
  std::vector<std::uint16_t> bits(in.hk.size());
  for (std::size_t i = 0; i < in.hk.size(); ++i) {
    const std::uint64_t key = i / (a.heads_kv * a.head_dim) % a.seq_kv;
    const __nv_bfloat16 x = __float2bfloat16_rn(float(in.hk[i] * (1.0 + 4.0 * double(key) / double(a.seq_kv))));
    bits[i] = std::bit_cast<std::uint16_t>(x);
    in.hk[i] = double(__bfloat162float(x));
  }
  // On the stream the kernels run on (non-blocking: a plain cudaMemcpy from pageable memory may
  // return before the copy lands), and waited for before `bits` goes.
  TB_CUDA_CHECK(cudaMemcpyAsync(in.k.get(), bits.data(), in.k.bytes(), cudaMemcpyHostToDevice, stream));
  TB_CUDA_CHECK(cudaStreamSynchronize(stream));
}

TEST(AttentionForward, RowMaximaMovingLateMatchFloat64) {
  TB_REQUIRE_GPU();
  const Device device(0);
  register_all_impls();
  const bool hopper = unavailable_reason(registry().find("attention.fwd.wgmma"), device.info()).empty();
  const Stream stream;
  for (const std::uint64_t d : {64, 128})
    for (const bool causal : {false, true}) {
      const Attention a{.batch = 1, .heads_q = 2, .heads_kv = 1, .seq_q = 2048, .seq_kv = 2048, .head_dim = d,
                        .causal = causal, .pass = "fwd"};
      Inputs in(a, stream);
      grow_keys(in, a, stream);
      const AttentionForward want = attention_forward_reference(a, in.hq, in.hk, in.hv);
      expect_fused_forward_matches(&kernels::attention_fwd_mma_sm80, "attention.fwd.mma", a, in, want, stream);
      expect_fused_forward_matches(&kernels::attention_fwd_mma_256_sm80, "attention.fwd.mma_256", a, in, want, stream);
      if (hopper)
        expect_fused_forward_matches(&kernels::attention_fwd_wgmma_sm90, "attention.fwd.wgmma", a, in, want, stream);
    }
}

TEST(AttentionBackward, ReferenceMatchesFloat64AtSmallShapes) {
  TB_REQUIRE_GPU();
  const Device device(0);
  const Stream stream;
  for (const Attention& a : small_problems(small_seqs(), "bwd")) {
    const Inputs in(a, stream);
    const AttentionGradients want = attention_backward_reference(a, in.hq, in.hk, in.hv, in.hdo);
    // A small budget, so that the chunked path (several chunks of heads) is the one tested.
    AttentionOracle oracle(a, std::size_t(a.seq_q * a.seq_kv * 4 * 2 * 3));
    DeviceBuffer dq(in.q.bytes() * 2, "dQ"), dk(in.k.bytes() * 2, "dK"), dv(in.v.bytes() * 2, "dV");
    for (DeviceBuffer* b : {&dq, &dk, &dv}) fill_poison(b->get(), b->bytes(), 0xFF, stream);
    oracle.backward(in.q.as<const __nv_bfloat16>(), in.k.as<const __nv_bfloat16>(),
                    in.v.as<const __nv_bfloat16>(), in.d_o.as<const __nv_bfloat16>(), dq.as<float>(),
                    dk.as<float>(), dv.as<float>(), stream);
    TB_CUDA_CHECK(cudaStreamSynchronize(stream));
    EXPECT_LE(relative_error(f32_to_host(dq), want.dq), kToleranceFp32) << "dQ " << label(a);
    EXPECT_LE(relative_error(f32_to_host(dk), want.dk), kToleranceFp32) << "dK " << label(a);
    EXPECT_LE(relative_error(f32_to_host(dv), want.dv), kToleranceFp32) << "dV " << label(a);
  }
}

using BwdLauncher = void (*)(const kernels::AttentionBwdArgs&, cudaStream_t);

// Runs attention.fwd.mma then the fused backward `backward` (attention.bwd.mma unless said;
// outputs and the workspace poisoned first); dQ, dK, dV in float64 on the host.
AttentionGradients fused_backward(const Attention& a, const Inputs& in, cudaStream_t stream,
                                  BwdLauncher backward = &kernels::attention_bwd_mma_sm80) {
  const std::size_t workspace_bytes = kernels::attention_bwd_workspace(kernel_shape(a)).bytes;
  DeviceBuffer o(in.q.bytes(), "O"), lse(a.batch * a.heads_q * a.seq_q * 4, "LSE");
  DeviceBuffer dq(in.q.bytes(), "dQ"), dk(in.k.bytes(), "dK"), dv(in.v.bytes(), "dV");
  DeviceBuffer workspace(workspace_bytes, "workspace");
  for (DeviceBuffer* b : {&o, &lse, &dq, &dk, &dv, &workspace}) fill_poison(b->get(), b->bytes(), 0xFF, stream);
  kernels::attention_fwd_mma_sm80({.q = in.q.as<const __nv_bfloat16>(), .k = in.k.as<const __nv_bfloat16>(),
                                   .v = in.v.as<const __nv_bfloat16>(), .o = o.as<__nv_bfloat16>(),
                                   .lse = lse.as<float>(), .shape = kernel_shape(a)},
                                  stream);
  backward({.q = in.q.as<const __nv_bfloat16>(), .k = in.k.as<const __nv_bfloat16>(),
            .v = in.v.as<const __nv_bfloat16>(), .o = o.as<const __nv_bfloat16>(), .lse = lse.as<const float>(),
            .d_o = in.d_o.as<const __nv_bfloat16>(), .dq = dq.as<__nv_bfloat16>(), .dk = dk.as<__nv_bfloat16>(),
            .dv = dv.as<__nv_bfloat16>(), .workspace = workspace.get(), .shape = kernel_shape(a)},
           stream);
  TB_CUDA_CHECK(cudaGetLastError());
  TB_CUDA_CHECK(cudaStreamSynchronize(stream));
  return {bf16_to_host(dq), bf16_to_host(dk), bf16_to_host(dv)};
}

// Every small problem of `seqs` through `backward`, against float64, held to the fused bounds.
// Where `impl` is given, the problems it cannot run on this GPU (a head_dim whose shared memory the
// GPU does not give) are left out, and said so.
void expect_backward_matches_float64(BwdLauncher backward, const char* name, const std::vector<Seqs>& seqs,
                                     const Impl* impl = nullptr) {
  const Stream stream;
  const DeviceInfo info = Device(0).info();
  for (const Attention& a : small_problems(seqs, "bwd")) {
    if (!runs_here(impl, a, info)) continue;
    const Inputs in(a, stream);
    const AttentionGradients want = attention_backward_reference(a, in.hq, in.hk, in.hv, in.hdo);
    const AttentionGradients got = fused_backward(a, in, stream, backward);
    EXPECT_LE(q_error(got.dq, want.dq, a), kToleranceFusedGrad) << name << " dQ " << label(a);
    EXPECT_LE(kv_error(got.dk, want.dk, a), kToleranceFusedGrad) << name << " dK " << label(a);
    EXPECT_LE(kv_error(got.dv, want.dv, a), kToleranceFusedGrad) << name << " dV " << label(a);
  }
}

// The forward's shape list (GQA, MQA, causal and full, seq_q != seq_kv, rows that see no key,
// tails of every tile) through the fused backward.
TEST(AttentionBackward, FusedMatchesFloat64AtSmallShapes) {
  TB_REQUIRE_GPU();
  const Device device(0);
  expect_backward_matches_float64(&kernels::attention_bwd_mma_sm80, "attention.bwd.mma", small_seqs());
}

// Every head of a group adds into its KV head's dK and dV: with MQA over 8 query heads, and
// causal rows that see no key beside rows that see all (seq_q 200 > seq_kv 70).
void expect_group_summed_and_no_nan(BwdLauncher backward, const char* name, const Impl* impl = nullptr) {
  const Stream stream;
  const DeviceInfo info = Device(0).info();
  for (const std::uint64_t d : {64, 128}) {
    const Attention a{.batch = 1, .heads_q = 8, .heads_kv = 1, .seq_q = 200, .seq_kv = 70, .head_dim = d,
                      .causal = true, .pass = "bwd"};
    if (!runs_here(impl, a, info)) continue;
    const Inputs in(a, stream);
    const AttentionGradients want = attention_backward_reference(a, in.hq, in.hk, in.hv, in.hdo);
    const AttentionGradients got = fused_backward(a, in, stream, backward);
    // The first 130 rows of every head see no key: their dQ is exactly 0.
    for (std::uint64_t i = 0; i < 130; ++i)
      for (std::uint64_t h = 0; h < a.heads_q; ++h)
        for (std::uint64_t x = 0; x < d; ++x)
          ASSERT_EQ(got.dq[(i * a.heads_q + h) * d + x], 0.0) << name << " " << i << " " << h;
    EXPECT_LE(q_error(got.dq, want.dq, a), kToleranceFusedGrad) << name << " " << label(a);
    EXPECT_LE(kv_error(got.dk, want.dk, a), kToleranceFusedGrad) << name << " " << label(a);
    EXPECT_LE(kv_error(got.dv, want.dv, a), kToleranceFusedGrad) << name << " " << label(a);
  }
}

TEST(AttentionBackward, FusedSumsTheGroupAndLeavesNoNaNForRowsThatSeeNoKey) {
  TB_REQUIRE_GPU();
  const Device device(0);
  expect_group_summed_and_no_nan(&kernels::attention_bwd_mma_sm80, "attention.bwd.mma");
}

// attention.bwd.mma_128 (128 keys per CTA) at the same shapes and the longer ones (several 128-key
// CTAs with tails, causal starts inside a query block), held to the same bounds; at head_dim 128
// only where a block can have its 145 KiB of shared memory (not sm_86 or sm_89: said so).
TEST(AttentionBackward, Mma128KeysMatchesFloat64AtSmallShapes) {
  TB_REQUIRE_GPU();
  const Device device(0);
  register_all_impls();
  const Impl& impl = registry().find("attention.bwd.mma_128");
  if (const auto why = unavailable_reason(impl, device.info()); !why.empty())
    GTEST_SKIP() << "attention.bwd.mma_128: " << why;
  expect_backward_matches_float64(&kernels::attention_bwd_mma_128_sm80, "attention.bwd.mma_128",
                                  testing::under_sanitizer() ? small_seqs() : longer_seqs(), &impl);
  expect_group_summed_and_no_nan(&kernels::attention_bwd_mma_128_sm80, "attention.bwd.mma_128", &impl);
}

// attention.bwd.wgmma (sm_90a; skipped with the reason elsewhere) at the same shapes, and at a few
// whose query blocks (64 or 128 rows) wrap its 2-stage ring many times, whose key blocks (128)
// end in tails, with causal rows that see no key; held to attention.bwd.mma's bounds (its dS is
// formed from the BF16 P, a rounding the bound already allows for P V).
TEST(AttentionBackward, WgmmaMatchesFloat64AtSmallShapes) {
  TB_REQUIRE_GPU();
  const Device device(0);
  register_all_impls();
  if (const auto why = unavailable_reason(registry().find("attention.bwd.wgmma"), device.info()); !why.empty())
    GTEST_SKIP() << "attention.bwd.wgmma: " << why;
  expect_backward_matches_float64(&kernels::attention_bwd_wgmma_sm90, "attention.bwd.wgmma", longer_seqs());
  // MQA over 8 query heads: 8 CTAs per key block add into one KV head's FP32 dK and dV.
  expect_group_summed_and_no_nan(&kernels::attention_bwd_wgmma_sm90, "attention.bwd.wgmma");
}

// attention.cudnn, forward then backward (from its own forward's O and LSE, as the impl runs),
// against float64 (GQA, MQA, causal tails, rows that see no key, a single query row), held to
// the fused kernels' bounds. Its LSE matching ours is what shows cuDNN's stats convention
// (natural log of the scaled scores) to be ours. Fewer shapes than the kernels get: each builds
// two cuDNN plans.
TEST(AttentionCudnn, ForwardAndBackwardMatchFloat64AtSmallShapes) {
  TB_REQUIRE_GPU();
  if (const std::string why = cudnn_attention_missing(); !why.empty()) GTEST_SKIP() << "attention.cudnn: " << why;
  const Device device(0);
  const Stream stream;
  const std::vector<Seqs> seqs{{1, 300}, {17, 17}, {100, 130}, {130, 100}, {300, 300}, {300, 65}};
  for (const Attention& a : small_problems(seqs, "bwd")) {
    const Inputs in(a, stream);
    const AttentionForward want_fwd = attention_forward_reference(a, in.hq, in.hk, in.hv);
    const AttentionGradients want = attention_backward_reference(a, in.hq, in.hk, in.hv, in.hdo);
    CudnnAttention cudnn(a);
    DeviceBuffer o(in.q.bytes(), "O"), lse(a.batch * a.heads_q * a.seq_q * 4, "LSE");
    DeviceBuffer dq(in.q.bytes(), "dQ"), dk(in.k.bytes(), "dK"), dv(in.v.bytes(), "dV");
    for (DeviceBuffer* b : {&o, &lse, &dq, &dk, &dv}) fill_poison(b->get(), b->bytes(), 0xFF, stream);
    cudnn.forward(in.q.as<const __nv_bfloat16>(), in.k.as<const __nv_bfloat16>(), in.v.as<const __nv_bfloat16>(),
                  o.as<__nv_bfloat16>(), lse.as<float>(), stream);
    cudnn.backward(in.q.as<const __nv_bfloat16>(), in.k.as<const __nv_bfloat16>(),
                   in.v.as<const __nv_bfloat16>(), o.as<const __nv_bfloat16>(), lse.as<const float>(),
                   in.d_o.as<const __nv_bfloat16>(), dq.as<__nv_bfloat16>(), dk.as<__nv_bfloat16>(),
                   dv.as<__nv_bfloat16>(), stream);
    TB_CUDA_CHECK(cudaStreamSynchronize(stream));
    const std::vector<double> got_o = bf16_to_host(o);
    EXPECT_LE(q_error(got_o, want_fwd.o, a), kToleranceFusedO) << "attention.cudnn O " << label(a);
    EXPECT_LE(o_row_error(got_o, want_fwd.o, a), kToleranceFusedO) << "attention.cudnn O, worst row, " << label(a);
    EXPECT_LE(relative_error(f32_to_host(lse), want_fwd.lse), kToleranceFusedLse)
        << "attention.cudnn LSE " << label(a) << " (" << cudnn.versions() << ")";
    EXPECT_LE(q_error(bf16_to_host(dq), want.dq, a), kToleranceFusedGrad) << "attention.cudnn dQ " << label(a);
    EXPECT_LE(kv_error(bf16_to_host(dk), want.dk, a), kToleranceFusedGrad) << "attention.cudnn dK " << label(a);
    EXPECT_LE(kv_error(bf16_to_host(dv), want.dv, a), kToleranceFusedGrad) << "attention.cudnn dV " << label(a);
  }
}

std::vector<std::string> attention_impl_names() {
  register_all_impls();
  std::vector<std::string> names;
  for (const auto& impl : registry().all())
    if (impl.family == "attention") names.push_back(impl.name);
  return names;
}

Verification verify_once(const Impl& impl, const Attention& a, const DeviceInfo& info, cudaStream_t stream) {
  auto c = impl.make(a, info);
  c->prepare(stream);
  c->poison(stream);
  c->launch(stream);
  TB_CUDA_CHECK(cudaGetLastError());
  TB_CUDA_CHECK(cudaStreamSynchronize(stream));
  return c->check(stream);
}

// Larger shapes: tails, GQA, MQA, seq_q != seq_kv, both head dims and passes.
const Attention kLarger[] = {
    {2, 16, 16, 1024, 1024, 128, true, "fwd"},  {2, 16, 16, 1024, 1024, 128, false, "fwd"},
    {1, 8, 1, 2000, 2000, 128, true, "fwd"},    {3, 32, 32, 777, 777, 64, true, "fwd"},
    {2, 8, 2, 1000, 3000, 64, true, "fwd"},     {2, 8, 2, 3000, 1000, 128, true, "fwd"},
    {2, 8, 2, 1000, 3000, 64, false, "fwd"},    {2, 8, 2, 1000, 3000, 128, true, "fwd"},
    // 176-key blocks (head_dim 128, full): a last block of one key (1057 = 6 x 176 + 1), and
    // 3000 = 17 x 176 + 8 keys with GQA, the ring wrapping many times.
    {1, 8, 2, 1057, 1057, 128, false, "fwd"},   {2, 8, 2, 1000, 3000, 128, false, "fwd"},
    // Several tiles per CTA of attention.fwd.wgmma_persistent on a whole grid (132 SMs): Llama 3
    // 70B's per-GPU causal forward (512 ranked tiles), 176-key blocks (576 tiles), head_dim 64 full
    // (352 tiles of 192 rows).
    {1, 8, 1, 8192, 8192, 128, true, "fwd"},    {4, 16, 4, 1057, 1057, 128, false, "fwd"},
    {2, 16, 16, 2000, 2000, 64, false, "fwd"},
    {2, 16, 16, 1024, 1024, 128, true, "bwd"},  {1, 8, 1, 2000, 2000, 128, true, "bwd"},
    {2, 8, 2, 1000, 3000, 64, false, "bwd"},   {3, 32, 32, 777, 777, 64, true, "bwd"},
    {2, 8, 2, 3000, 1000, 128, true, "bwd"}};

class AttentionImpl : public ::testing::TestWithParam<std::string> {};

TEST_P(AttentionImpl, VerifiesAtLargerShapes) {
  TB_REQUIRE_GPU();
  const Impl& impl = registry().find(GetParam());
  const Device device(0);
  if (const auto why = unavailable_reason(impl, device.info()); !why.empty()) GTEST_SKIP() << impl.name << ": " << why;
  const Stream stream;
  int verified = 0;
  for (const Attention& a : kLarger) {
    if (const auto why = impl.unsupported(a); !why.empty()) continue;
    if (!runs_here(&impl, a, device.info())) continue;
    const Verification v = verify_once(impl, a, device.info(), stream);
    ++verified;
    EXPECT_TRUE(std::isfinite(v.error) && v.error <= v.tolerance)
        << impl.name << " " << label(a) << ": error " << v.error << " > tolerance " << v.tolerance << " (" << v.detail
        << ")";
  }
  // Two at least: the backward impls' head_dim-64 shapes, where a GPU gives no more.
  EXPECT_GE(verified, 2) << impl.name;
}

TEST_P(AttentionImpl, UnwrittenOutputFailsVerification) {
  TB_REQUIRE_GPU();
  const Impl& impl = registry().find(GetParam());
  const Device device(0);
  if (const auto why = unavailable_reason(impl, device.info()); !why.empty()) GTEST_SKIP() << impl.name << ": " << why;
  const Stream stream;
  for (const char* pass : {"fwd", "bwd"}) {
    const Attention a{.batch = 1, .heads_q = 4, .heads_kv = 2, .seq_q = 200, .seq_kv = 200, .head_dim = 128,
                      .causal = true, .pass = pass};
    if (!impl.unsupported(a).empty()) continue;
    auto c = impl.make(a, device.info());
    c->prepare(stream);
    c->poison(stream);  // no launch: the outputs still hold the poison
    TB_CUDA_CHECK(cudaStreamSynchronize(stream));
    const Verification v = c->check(stream);
    EXPECT_FALSE(std::isfinite(v.error) && v.error <= v.tolerance) << impl.name << " " << pass << ": " << v.detail;
  }
}

INSTANTIATE_TEST_SUITE_P(All, AttentionImpl, ::testing::ValuesIn(attention_impl_names()),
                         testing::impl_test_name);

}  // namespace
}  // namespace trainbench
