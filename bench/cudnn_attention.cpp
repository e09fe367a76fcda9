#include "bench/cudnn_attention.hpp"

#include <cudnn.h>
#include <cudnn_frontend.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <exception>
#include <limits>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>

#include "harness/device_buffer.hpp"
#include "harness/error.hpp"

namespace trainbench {

namespace fe = cudnn_frontend;

std::string cudnn_attention_missing() { return ""; }

namespace {

enum Uid : std::int64_t { kQ = 1, kK, kV, kO, kStats, kDo, kDq, kDk, kDv };

// The part of the op cuDNN computes: the last `rows` query rows, those that see a key.
struct Problem {
  std::int64_t b, hq, hkv, sq, sk, d;
  std::int64_t rows;     // query rows given to cuDNN
  std::int64_t skipped;  // leading query rows that see no key (causal, seq_q > seq_kv)
  bool causal;
  float scale;
};

Problem problem(const Attention& a) {
  Problem p{.b = std::int64_t(a.batch), .hq = std::int64_t(a.heads_q), .hkv = std::int64_t(a.heads_kv),
            .sq = std::int64_t(a.seq_q), .sk = std::int64_t(a.seq_kv), .d = std::int64_t(a.head_dim),
            .rows = std::int64_t(a.seq_q), .skipped = 0, .causal = a.causal,
            .scale = float(1.0 / std::sqrt(double(a.head_dim)))};
  if (a.causal && p.sq > p.sk) {
    p.skipped = p.sq - p.sk;
    p.rows = p.sk;
  }
  return p;
}

// A (batch, seq, heads, head_dim) tensor as cuDNN's (batch, heads, seq, head_dim) view of
// `seq` of its `seq_stored` rows.
fe::graph::Tensor_attributes bshd(const char* name, Uid uid, std::int64_t b, std::int64_t h, std::int64_t seq,
                                  std::int64_t seq_stored, std::int64_t d) {
  return fe::graph::Tensor_attributes()
      .set_name(name)
      .set_uid(uid)
      .set_dim({b, h, seq, d})
      .set_stride({seq_stored * h * d, d, h * d, 1});
}

// (B, Hq, rows) FP32, contiguous.
std::vector<std::int64_t> stats_dim(const Problem& p) { return {p.b, p.hq, p.rows, 1}; }
std::vector<std::int64_t> stats_stride(const Problem& p) { return {p.hq * p.rows, p.rows, 1, 1}; }

// The causal mask of the rows given to cuDNN, aligned to the bottom right. Where they are as
// many as the keys it is the top-left mask, which every cuDNN 9 supports; one row (that then
// sees every key) needs none.
template <typename Options>
void set_mask(Options& options, const Problem& p) {
  if (!p.causal || p.rows == 1) return;
  if (p.rows == p.sk) options.set_causal_mask(true);
  else options.set_causal_mask_bottom_right(true);
}

void check(fe::error_t status, const std::string& what) {
  if (!status.is_good())
    throw Error(fmt::format("cuDNN {}: {} (cuDNN {}, frontend {}.{}.{})", what, status.get_message(),
                            cudnnGetVersion(), CUDNN_FRONTEND_MAJOR_VERSION, CUDNN_FRONTEND_MINOR_VERSION,
                            CUDNN_FRONTEND_PATCH_VERSION));
}

// Heuristics mode A's plans, the first that builds: what frameworks calling cuDNN's SDPA get.
void build(fe::graph::Graph& graph, cudnnHandle_t handle, const std::string& what) {
  check(graph.validate(), what + " graph validation");
  check(graph.build_operation_graph(handle), what + " operation graph");
  check(graph.create_execution_plans({fe::HeurMode_t::A, fe::HeurMode_t::FALLBACK}), what + " execution plans");
  check(graph.check_support(handle), what + " support check");
  check(graph.build_plans(handle), what + " plan build");
}

std::shared_ptr<fe::graph::Graph> new_graph() {
  auto graph = std::make_shared<fe::graph::Graph>();
  graph->set_io_data_type(fe::DataType_t::BFLOAT16)
      .set_intermediate_data_type(fe::DataType_t::FLOAT)
      .set_compute_data_type(fe::DataType_t::FLOAT);
  return graph;
}

std::shared_ptr<fe::graph::Graph> forward_graph(const Problem& p) {
  auto graph = new_graph();
  auto q = graph->tensor(bshd("Q", kQ, p.b, p.hq, p.rows, p.sq, p.d));
  auto k = graph->tensor(bshd("K", kK, p.b, p.hkv, p.sk, p.sk, p.d));
  auto v = graph->tensor(bshd("V", kV, p.b, p.hkv, p.sk, p.sk, p.d));
  auto options = fe::graph::SDPA_attributes().set_name("sdpa").set_generate_stats(true).set_attn_scale(p.scale);
  set_mask(options, p);
  auto [o, stats] = graph->sdpa(q, k, v, options);
  o->set_output(true).set_uid(kO).set_dim({p.b, p.hq, p.rows, p.d}).set_stride({p.sq * p.hq * p.d, p.d, p.hq * p.d, 1});
  stats->set_output(true)
      .set_uid(kStats)
      .set_data_type(fe::DataType_t::FLOAT)
      .set_dim(stats_dim(p))
      .set_stride(stats_stride(p));
  return graph;
}

std::shared_ptr<fe::graph::Graph> backward_graph(const Problem& p) {
  auto graph = new_graph();
  auto q = graph->tensor(bshd("Q", kQ, p.b, p.hq, p.rows, p.sq, p.d));
  auto k = graph->tensor(bshd("K", kK, p.b, p.hkv, p.sk, p.sk, p.d));
  auto v = graph->tensor(bshd("V", kV, p.b, p.hkv, p.sk, p.sk, p.d));
  auto o = graph->tensor(bshd("O", kO, p.b, p.hq, p.rows, p.sq, p.d));
  auto d_o = graph->tensor(bshd("dO", kDo, p.b, p.hq, p.rows, p.sq, p.d));
  auto stats = graph->tensor(fe::graph::Tensor_attributes()
                                 .set_name("Stats")
                                 .set_uid(kStats)
                                 .set_data_type(fe::DataType_t::FLOAT)
                                 .set_dim(stats_dim(p))
                                 .set_stride(stats_stride(p)));
  auto options = fe::graph::SDPA_backward_attributes().set_name("sdpa_backward").set_attn_scale(p.scale);
  set_mask(options, p);
  const auto grads = graph->sdpa_backward(q, k, v, o, d_o, stats, options);
  grads[0]->set_output(true).set_uid(kDq).set_dim({p.b, p.hq, p.rows, p.d}).set_stride(
      {p.sq * p.hq * p.d, p.d, p.hq * p.d, 1});
  grads[1]->set_output(true).set_uid(kDk).set_dim({p.b, p.hkv, p.sk, p.d}).set_stride(
      {p.sk * p.hkv * p.d, p.d, p.hkv * p.d, 1});
  grads[2]->set_output(true).set_uid(kDv).set_dim({p.b, p.hkv, p.sk, p.d}).set_stride(
      {p.sk * p.hkv * p.d, p.d, p.hkv * p.d, 1});
  return graph;
}

// cuDNN's variant pack holds void* for its inputs as well; it only reads them.
void* as_mutable(const void* p) { return const_cast<void*>(p); }

}  // namespace

struct CudnnAttention::Plans {
  Attention op;
  Problem p;
  cudnnHandle_t handle = nullptr;
  std::shared_ptr<fe::graph::Graph> forward, backward;
  DeviceBuffer workspace;
  // Where rows are skipped: cuDNN's stats of the rows it computes (contiguous, 16-byte aligned
  // as it requires, unlike lse + skipped), and -inf for the skipped rows' LSE.
  DeviceBuffer stats, minus_inf;

  ~Plans() {
    if (handle) cudnnDestroy(handle);
  }

  // Offsets of the first row given to cuDNN.
  std::size_t q_offset() const { return std::size_t(p.skipped * p.hq * p.d); }

  void execute(const fe::graph::Graph& graph, std::unordered_map<std::int64_t, void*>& pack, cudaStream_t stream,
               const char* what) const {
    if (const cudnnStatus_t s = cudnnSetStream(handle, stream); s != CUDNN_STATUS_SUCCESS)
      throw Error(fmt::format("cudnnSetStream failed: {}", cudnnGetErrorString(s)));
    check(graph.execute(handle, pack, workspace.get()), fmt::format("{} of {}", what, op_label(op)));
  }
};

CudnnAttention::CudnnAttention(const Attention& op) : plans_(std::make_unique<Plans>()) {
  Plans& s = *plans_;
  s.op = op;
  s.p = problem(op);
  const std::string label = op_label(op);
  try {
    if (const cudnnStatus_t status = cudnnCreate(&s.handle); status != CUDNN_STATUS_SUCCESS)
      throw Error(fmt::format("cudnnCreate failed: {} (cuDNN {})", cudnnGetErrorString(status), cudnnGetVersion()));
    s.forward = forward_graph(s.p);
    build(*s.forward, s.handle, "SDPA forward of " + label);
    std::int64_t bytes = 0;
    check(s.forward->get_workspace_size(bytes), "SDPA forward workspace size");
    if (op.pass == "bwd") {
      s.backward = backward_graph(s.p);
      build(*s.backward, s.handle, "SDPA backward of " + label);
      std::int64_t bwd_bytes = 0;
      check(s.backward->get_workspace_size(bwd_bytes), "SDPA backward workspace size");
      bytes = std::max(bytes, bwd_bytes);
    }
    if (bytes > 0) s.workspace = DeviceBuffer(std::size_t(bytes), "cuDNN's SDPA workspace");
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error(fmt::format("cuDNN SDPA for {}: {} (cuDNN {})", label, e.what(), cudnnGetVersion()));
  }
  if (s.p.skipped > 0) {
    const std::size_t heads = std::size_t(s.p.b * s.p.hq);
    s.stats = DeviceBuffer(heads * std::size_t(s.p.rows) * 4, "cuDNN's SDPA stats");
    const std::vector<float> host(heads * std::size_t(s.p.skipped), -std::numeric_limits<float>::infinity());
    s.minus_inf = DeviceBuffer(host.size() * 4, "-inf for the LSE of rows that see no key");
    TB_CUDA_CHECK(cudaMemcpy(s.minus_inf.get(), host.data(), s.minus_inf.bytes(), cudaMemcpyHostToDevice));
  }
}

CudnnAttention::~CudnnAttention() = default;

void CudnnAttention::forward(const __nv_bfloat16* q, const __nv_bfloat16* k, const __nv_bfloat16* v,
                             __nv_bfloat16* o, float* lse, cudaStream_t stream) {
  const Plans& s = *plans_;
  const Problem& p = s.p;
  std::unordered_map<std::int64_t, void*> pack = {{kQ, as_mutable(q + s.q_offset())},
                                                  {kK, as_mutable(k)},
                                                  {kV, as_mutable(v)},
                                                  {kO, o + s.q_offset()},
                                                  {kStats, p.skipped ? s.stats.get() : lse}};
  s.execute(*s.forward, pack, stream, "SDPA forward");
  if (!p.skipped) return;
  const std::size_t heads = std::size_t(p.b * p.hq), lse_pitch = std::size_t(p.sq) * 4;
  TB_CUDA_CHECK(cudaMemcpy2DAsync(lse + p.skipped, lse_pitch, s.stats.get(), std::size_t(p.rows) * 4,
                                  std::size_t(p.rows) * 4, heads, cudaMemcpyDeviceToDevice, stream));
  TB_CUDA_CHECK(cudaMemcpy2DAsync(lse, lse_pitch, s.minus_inf.get(), std::size_t(p.skipped) * 4,
                                  std::size_t(p.skipped) * 4, heads, cudaMemcpyDeviceToDevice, stream));
  // BF16 zero is all zero bits; the skipped rows lead each batch's (Sq, Hq, D) block.
  TB_CUDA_CHECK(cudaMemset2DAsync(o, std::size_t(p.sq * p.hq * p.d) * 2, 0, s.q_offset() * 2, std::size_t(p.b),
                                  stream));
}

void CudnnAttention::backward(const __nv_bfloat16* q, const __nv_bfloat16* k, const __nv_bfloat16* v,
                              const __nv_bfloat16* o, const float* lse, const __nv_bfloat16* d_o, __nv_bfloat16* dq,
                              __nv_bfloat16* dk, __nv_bfloat16* dv, cudaStream_t stream) {
  const Plans& s = *plans_;
  const Problem& p = s.p;
  if (!s.backward) throw Error(fmt::format("attention.cudnn: backward() needs an op whose pass is \"bwd\", not {}",
                                           op_label(s.op)));
  if (p.skipped)
    TB_CUDA_CHECK(cudaMemcpy2DAsync(s.stats.get(), std::size_t(p.rows) * 4, lse + p.skipped, std::size_t(p.sq) * 4,
                                    std::size_t(p.rows) * 4, std::size_t(p.b * p.hq), cudaMemcpyDeviceToDevice,
                                    stream));
  std::unordered_map<std::int64_t, void*> pack = {{kQ, as_mutable(q + s.q_offset())},
                                                  {kK, as_mutable(k)},
                                                  {kV, as_mutable(v)},
                                                  {kO, as_mutable(o + s.q_offset())},
                                                  {kDo, as_mutable(d_o + s.q_offset())},
                                                  {kStats, p.skipped ? s.stats.get() : as_mutable(lse)},
                                                  {kDq, dq + s.q_offset()},
                                                  {kDk, dk},
                                                  {kDv, dv}};
  s.execute(*s.backward, pack, stream, "SDPA backward");
  if (p.skipped)
    TB_CUDA_CHECK(cudaMemset2DAsync(dq, std::size_t(p.sq * p.hq * p.d) * 2, 0, s.q_offset() * 2, std::size_t(p.b),
                                    stream));
}

std::string CudnnAttention::versions() const {
  return fmt::format("cuDNN {} (frontend headers {}.{}.{})", cudnnGetVersion(), CUDNN_FRONTEND_MAJOR_VERSION,
                     CUDNN_FRONTEND_MINOR_VERSION, CUDNN_FRONTEND_PATCH_VERSION);
}

}  // namespace trainbench
