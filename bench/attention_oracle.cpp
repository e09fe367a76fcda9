#include "bench/attention_oracle.hpp"

#include <cublas_v2.h>

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "harness/error.hpp"
#include "kernels/attention/reference.cuh"

namespace trainbench {
namespace {

void check_cublas(cublasStatus_t status, const char* call) {
  if (status != CUBLAS_STATUS_SUCCESS)
    throw Error(fmt::format("{} failed: {} ({})", call, cublasGetStatusName(status), cublasGetStatusString(status)));
}
#define TB_CUBLAS_CHECK(call) check_cublas((call), #call)

std::size_t floats(const Attention& op, std::uint64_t seq, std::uint64_t heads) {
  return std::size_t(op.batch * seq * heads * op.head_dim) * sizeof(float);
}

}  // namespace

struct AttentionOracle::Blas {
  cublasHandle_t handle = nullptr;
  Blas() {
    TB_CUBLAS_CHECK(cublasCreate(&handle));
    // FP32 throughout: no TF32 (nor any other reduced-precision shortcut) in the oracle.
    TB_CUBLAS_CHECK(cublasSetMathMode(handle, CUBLAS_PEDANTIC_MATH));
  }
  ~Blas() { cublasDestroy(handle); }
  Blas(const Blas&) = delete;
  Blas& operator=(const Blas&) = delete;

  // Row-major per-head matrices in cuBLAS's column-major terms; see the call sites.
  void gemm(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, float alpha, const float* a, int lda,
            long long stride_a, const float* b, int ldb, long long stride_b, float* c, int ldc, long long stride_c,
            int batch, cudaStream_t stream) const {
    const float beta = 0.f;
    TB_CUBLAS_CHECK(cublasSetStream(handle, stream));
    TB_CUBLAS_CHECK(cublasSgemmStridedBatched(handle, ta, tb, m, n, k, &alpha, a, lda, stride_a, b, ldb, stride_b,
                                              &beta, c, ldc, stride_c, batch));
  }
};

double AttentionOracle::score_bytes(const Attention& op) {
  return double(op.batch) * double(op.heads_q) * double(op.seq_q) * double(op.seq_kv) * 4.0 *
         (op.pass == "bwd" ? 2.0 : 1.0);
}

std::size_t AttentionOracle::heads_per_chunk(const Attention& op, std::size_t score_budget_bytes) {
  const double per_head = double(op.seq_q) * double(op.seq_kv) * 4.0 * (op.pass == "bwd" ? 2.0 : 1.0);
  const double heads = double(op.batch * op.heads_q);
  return std::size_t(std::clamp(std::floor(double(score_budget_bytes) / std::max(per_head, 1.0)), 1.0, heads));
}

AttentionOracle::AttentionOracle(const Attention& op, std::size_t score_budget_bytes)
    : op_(op), chunk_heads_(heads_per_chunk(op, score_budget_bytes)), blas_(std::make_unique<Blas>()) {
  if (op.heads_kv == 0 || op.heads_q % op.heads_kv)
    throw Error(fmt::format("attention.reference: heads_kv ({}) must divide heads_q ({})", op.heads_kv, op.heads_q));
  const bool bwd = op.pass == "bwd";
  const std::size_t scores = chunk_heads_ * std::size_t(op.seq_q) * std::size_t(op.seq_kv) * sizeof(float);
  q_ = DeviceBuffer(floats(op, op.seq_q, op.heads_q), "the reference's FP32 Q");
  k_ = DeviceBuffer(floats(op, op.seq_kv, op.heads_q), "the reference's FP32 K (GQA expanded)");
  v_ = DeviceBuffer(floats(op, op.seq_kv, op.heads_q), "the reference's FP32 V (GQA expanded)");
  o_ = DeviceBuffer(floats(op, op.seq_q, op.heads_q), "the reference's head-major O");
  scores_ = DeviceBuffer(scores, "the reference's scores (one chunk of heads)");
  lse_scratch_ = DeviceBuffer(std::size_t(op.batch * op.heads_q * op.seq_q) * sizeof(float), "the reference's LSE");
  if (bwd) {
    d_o_ = DeviceBuffer(floats(op, op.seq_q, op.heads_q), "the reference's FP32 dO");
    dq_ = DeviceBuffer(floats(op, op.seq_q, op.heads_q), "the reference's head-major dQ");
    dk_ = DeviceBuffer(floats(op, op.seq_kv, op.heads_q), "the reference's per-query-head dK");
    dv_ = DeviceBuffer(floats(op, op.seq_kv, op.heads_q), "the reference's per-query-head dV");
    d_scores_ = DeviceBuffer(scores, "the reference's dP / dS (one chunk of heads)");
  }
}

AttentionOracle::~AttentionOracle() = default;

void AttentionOracle::forward(const __nv_bfloat16* q, const __nv_bfloat16* k, const __nv_bfloat16* v, float* o,
                              float* lse, cudaStream_t stream) {
  const int b = int(op_.batch), hq = int(op_.heads_q), hkv = int(op_.heads_kv), sq = int(op_.seq_q),
            sk = int(op_.seq_kv), d = int(op_.head_dim);
  const float scale = float(1.0 / std::sqrt(double(d)));
  kernels::attention_to_heads_major_f32(q, q_.as<float>(), b, sq, hq, hq, d, stream);
  kernels::attention_to_heads_major_f32(k, k_.as<float>(), b, sk, hkv, hq, d, stream);
  kernels::attention_to_heads_major_f32(v, v_.as<float>(), b, sk, hkv, hq, d, stream);
  TB_CUDA_CHECK(cudaGetLastError());
  const std::size_t heads = std::size_t(b) * hq;
  const long long q_stride = (long long)sq * d, kv_stride = (long long)sk * d, s_stride = (long long)sq * sk;
  for (std::size_t h0 = 0; h0 < heads; h0 += chunk_heads_) {
    const int nh = int(std::min(chunk_heads_, heads - h0));
    const float* qc = q_.as<float>() + h0 * q_stride;
    const float* kc = k_.as<float>() + h0 * kv_stride;
    const float* vc = v_.as<float>() + h0 * kv_stride;
    float* s = scores_.as<float>();
    // S (Sq x Sk) = scale Q K^T: column-major S^T (Sk x Sq) = K (Sk x D, stored D x Sk) . Q^T.
    blas_->gemm(CUBLAS_OP_T, CUBLAS_OP_N, sk, sq, d, scale, kc, d, kv_stride, qc, d, q_stride, s, sk, s_stride, nh,
                stream);
    kernels::attention_masked_softmax(s, lse + h0 * sq, (long long)nh * sq, sq, sk, op_.causal, stream);
    TB_CUDA_CHECK(cudaGetLastError());
    // O (Sq x D) = P V: column-major O^T (D x Sq) = V^T (D x Sk) . P^T (Sk x Sq).
    blas_->gemm(CUBLAS_OP_N, CUBLAS_OP_N, d, sq, sk, 1.f, vc, d, kv_stride, s, sk, s_stride,
                o_.as<float>() + h0 * q_stride, d, q_stride, nh, stream);
  }
  kernels::attention_from_heads_major_sum_groups(o_.as<float>(), o, b, sq, hq, 1, d, stream);
  TB_CUDA_CHECK(cudaGetLastError());
}

void AttentionOracle::backward(const __nv_bfloat16* q, const __nv_bfloat16* k, const __nv_bfloat16* v,
                               const __nv_bfloat16* d_o, float* dq, float* dk, float* dv, cudaStream_t stream) {
  if (op_.pass != "bwd") throw Error("attention.reference: backward() needs an oracle built for pass \"bwd\"");
  const int b = int(op_.batch), hq = int(op_.heads_q), hkv = int(op_.heads_kv), sq = int(op_.seq_q),
            sk = int(op_.seq_kv), d = int(op_.head_dim);
  const float scale = float(1.0 / std::sqrt(double(d)));
  kernels::attention_to_heads_major_f32(q, q_.as<float>(), b, sq, hq, hq, d, stream);
  kernels::attention_to_heads_major_f32(k, k_.as<float>(), b, sk, hkv, hq, d, stream);
  kernels::attention_to_heads_major_f32(v, v_.as<float>(), b, sk, hkv, hq, d, stream);
  kernels::attention_to_heads_major_f32(d_o, d_o_.as<float>(), b, sq, hq, hq, d, stream);
  TB_CUDA_CHECK(cudaGetLastError());
  const std::size_t heads = std::size_t(b) * hq;
  const long long q_stride = (long long)sq * d, kv_stride = (long long)sk * d, s_stride = (long long)sq * sk;
  for (std::size_t h0 = 0; h0 < heads; h0 += chunk_heads_) {
    const int nh = int(std::min(chunk_heads_, heads - h0));
    const float* qc = q_.as<float>() + h0 * q_stride;
    const float* kc = k_.as<float>() + h0 * kv_stride;
    const float* vc = v_.as<float>() + h0 * kv_stride;
    const float* doc = d_o_.as<float>() + h0 * q_stride;
    float* p = scores_.as<float>();
    float* ds = d_scores_.as<float>();
    blas_->gemm(CUBLAS_OP_T, CUBLAS_OP_N, sk, sq, d, scale, kc, d, kv_stride, qc, d, q_stride, p, sk, s_stride, nh,
                stream);
    kernels::attention_masked_softmax(p, lse_scratch_.as<float>() + h0 * sq, (long long)nh * sq, sq, sk, op_.causal,
                                      stream);
    TB_CUDA_CHECK(cudaGetLastError());
    // dP (Sq x Sk) = dO V^T, as S = Q K^T above.
    blas_->gemm(CUBLAS_OP_T, CUBLAS_OP_N, sk, sq, d, 1.f, vc, d, kv_stride, doc, d, q_stride, ds, sk, s_stride, nh,
                stream);
    kernels::attention_softmax_backward(p, ds, (long long)nh * sq, sk, scale, stream);
    TB_CUDA_CHECK(cudaGetLastError());
    // dV (Sk x D) = P^T dO: column-major dV^T (D x Sk) = dO^T (D x Sq) . P (Sq x Sk, stored Sk x Sq).
    blas_->gemm(CUBLAS_OP_N, CUBLAS_OP_T, d, sk, sq, 1.f, doc, d, q_stride, p, sk, s_stride,
                dv_.as<float>() + h0 * kv_stride, d, kv_stride, nh, stream);
    // dQ (Sq x D) = dS K, as O = P V.
    blas_->gemm(CUBLAS_OP_N, CUBLAS_OP_N, d, sq, sk, 1.f, kc, d, kv_stride, ds, sk, s_stride,
                dq_.as<float>() + h0 * q_stride, d, q_stride, nh, stream);
    // dK (Sk x D) = dS^T Q, as dV.
    blas_->gemm(CUBLAS_OP_N, CUBLAS_OP_T, d, sk, sq, 1.f, qc, d, q_stride, ds, sk, s_stride,
                dk_.as<float>() + h0 * kv_stride, d, kv_stride, nh, stream);
  }
  kernels::attention_from_heads_major_sum_groups(dq_.as<float>(), dq, b, sq, hq, 1, d, stream);
  kernels::attention_from_heads_major_sum_groups(dk_.as<float>(), dk, b, sk, hq, hq / hkv, d, stream);
  kernels::attention_from_heads_major_sum_groups(dv_.as<float>(), dv, b, sk, hq, hq / hkv, d, stream);
  TB_CUDA_CHECK(cudaGetLastError());
}

}  // namespace trainbench
