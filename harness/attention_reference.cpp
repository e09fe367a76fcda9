#include "harness/attention_reference.hpp"

#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "harness/error.hpp"
#include "harness/verify.hpp"

namespace trainbench {
namespace {

struct Dims {
  std::size_t b, sq, sk, hq, hkv, d;
  std::size_t group() const { return hq / hkv; }
  std::size_t q_at(std::size_t bi, std::size_t i, std::size_t h) const { return ((bi * sq + i) * hq + h) * d; }
  std::size_t kv_at(std::size_t bi, std::size_t j, std::size_t h) const { return ((bi * sk + j) * hkv + h) * d; }
  // Keys query i may see: [0, visible(i)).
  std::size_t visible(std::size_t i, bool causal) const {
    if (!causal) return sk;
    const long long last = static_cast<long long>(i) + static_cast<long long>(sk) - static_cast<long long>(sq);
    return last < 0 ? 0 : std::min<std::size_t>(sk, static_cast<std::size_t>(last) + 1);
  }
};

Dims dims_of(const Attention& op, std::size_t q, std::size_t k, std::size_t v) {
  if (op.heads_kv == 0 || op.heads_q % op.heads_kv)
    throw Error(fmt::format("heads_kv ({}) must divide heads_q ({})", op.heads_kv, op.heads_q));
  const Dims d{op.batch, op.seq_q, op.seq_kv, op.heads_q, op.heads_kv, op.head_dim};
  const std::size_t nq = d.b * d.sq * d.hq * d.d, nkv = d.b * d.sk * d.hkv * d.d;
  if (q != nq || k != nkv || v != nkv)
    throw Error(fmt::format("attention reference: q, k, v hold {}, {}, {} values; the shape needs {}, {}, {}", q, k, v,
                            nq, nkv, nkv));
  return d;
}

// Softmax probabilities of one query row over its visible keys, and the row's log-sum-exp.
double row_probabilities(const Dims& dm, const std::vector<double>& q, const std::vector<double>& k, std::size_t bi,
                         std::size_t i, std::size_t h, std::size_t n_visible, std::vector<double>& p) {
  const double scale = 1.0 / std::sqrt(static_cast<double>(dm.d));
  const std::size_t hk = h / dm.group();
  p.assign(n_visible, 0.0);
  double mx = -std::numeric_limits<double>::infinity();
  for (std::size_t j = 0; j < n_visible; ++j) {
    double s = 0;
    for (std::size_t x = 0; x < dm.d; ++x) s += q[dm.q_at(bi, i, h) + x] * k[dm.kv_at(bi, j, hk) + x];
    p[j] = s * scale;
    mx = std::max(mx, p[j]);
  }
  if (n_visible == 0) return -std::numeric_limits<double>::infinity();
  double sum = 0;
  for (auto& x : p) sum += (x = std::exp(x - mx));
  for (auto& x : p) x /= sum;
  return mx + std::log(sum);
}

}  // namespace

AttentionForward attention_forward_reference(const Attention& op, const std::vector<double>& q,
                                             const std::vector<double>& k, const std::vector<double>& v) {
  const Dims dm = dims_of(op, q.size(), k.size(), v.size());
  AttentionForward out;
  out.o.assign(q.size(), 0.0);
  out.lse.assign(dm.b * dm.hq * dm.sq, 0.0);
  std::vector<double> p;
  for (std::size_t bi = 0; bi < dm.b; ++bi)
    for (std::size_t h = 0; h < dm.hq; ++h)
      for (std::size_t i = 0; i < dm.sq; ++i) {
        const std::size_t n = dm.visible(i, op.causal);
        out.lse[(bi * dm.hq + h) * dm.sq + i] = row_probabilities(dm, q, k, bi, i, h, n, p);
        for (std::size_t j = 0; j < n; ++j)
          for (std::size_t x = 0; x < dm.d; ++x)
            out.o[dm.q_at(bi, i, h) + x] += p[j] * v[dm.kv_at(bi, j, h / dm.group()) + x];
      }
  return out;
}

AttentionGradients attention_backward_reference(const Attention& op, const std::vector<double>& q,
                                                const std::vector<double>& k, const std::vector<double>& v,
                                                const std::vector<double>& d_o) {
  const Dims dm = dims_of(op, q.size(), k.size(), v.size());
  if (d_o.size() != q.size())
    throw Error(fmt::format("attention reference: dO holds {} values; the shape needs {}", d_o.size(), q.size()));
  const double scale = 1.0 / std::sqrt(static_cast<double>(dm.d));
  AttentionGradients g;
  g.dq.assign(q.size(), 0.0);
  g.dk.assign(k.size(), 0.0);
  g.dv.assign(v.size(), 0.0);
  std::vector<double> p, dp;
  for (std::size_t bi = 0; bi < dm.b; ++bi)
    for (std::size_t h = 0; h < dm.hq; ++h) {
      const std::size_t hk = h / dm.group();
      for (std::size_t i = 0; i < dm.sq; ++i) {
        const std::size_t n = dm.visible(i, op.causal);
        row_probabilities(dm, q, k, bi, i, h, n, p);
        // dV += P^T dO;  dP = dO V^T;  dS = P * (dP - rowsum(P * dP));  dQ = dS K scale; dK += dS^T Q scale
        dp.assign(n, 0.0);
        double row_dot = 0;
        for (std::size_t j = 0; j < n; ++j) {
          for (std::size_t x = 0; x < dm.d; ++x) {
            const double dox = d_o[dm.q_at(bi, i, h) + x];
            g.dv[dm.kv_at(bi, j, hk) + x] += p[j] * dox;
            dp[j] += dox * v[dm.kv_at(bi, j, hk) + x];
          }
          row_dot += p[j] * dp[j];
        }
        for (std::size_t j = 0; j < n; ++j) {
          const double ds = p[j] * (dp[j] - row_dot) * scale;
          for (std::size_t x = 0; x < dm.d; ++x) {
            g.dq[dm.q_at(bi, i, h) + x] += ds * k[dm.kv_at(bi, j, hk) + x];
            g.dk[dm.kv_at(bi, j, hk) + x] += ds * q[dm.q_at(bi, i, h) + x];
          }
        }
      }
    }
  return g;
}

double worst_slice_norm_error(const std::vector<double>& got, const std::vector<double>& want, std::size_t seq,
                              std::size_t heads, std::size_t head_dim) {
  const std::size_t slice_values = seq * heads * head_dim;
  if (got.size() != want.size() || slice_values == 0 || want.size() % slice_values != 0)
    throw Error(fmt::format("worst_slice_norm_error: {} and {} values do not both form (batch, seq {}, heads {}, "
                            "head_dim {}) tensors",
                            got.size(), want.size(), seq, heads, head_dim));
  const std::size_t batch = want.size() / slice_values;
  std::vector<double> diff_sq(batch * heads, 0.0), want_sq(batch * heads, 0.0);
  for (std::size_t i = 0; i < want.size(); ++i) {
    if (!std::isfinite(got[i])) return std::numeric_limits<double>::infinity();
    const std::size_t row = i / head_dim, slice = row / (seq * heads) * heads + row % heads;
    diff_sq[slice] += (got[i] - want[i]) * (got[i] - want[i]);
    want_sq[slice] += want[i] * want[i];
  }
  return worst_slice_norm(diff_sq.data(), want_sq.data(), diff_sq.size()).error;
}

}  // namespace trainbench
