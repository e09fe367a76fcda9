// Reference models (harness/data/models.json, embedded at build time; users add their own with a
// file of the same form): the architecture numbers a training step expands from, each with its
// source, and the FLOP conventions that turn them into model FLOPs.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace trainbench {

struct MoeSpec {
  std::uint64_t experts = 0;            // routed experts
  std::uint64_t shared_experts = 0;     // always-active experts
  std::uint64_t top_k = 0;              // routed experts per token
  std::uint64_t expert_ffn_hidden = 0;  // one expert's FFN width
  std::uint64_t first_dense_layers = 0; // leading layers with a dense FFN (ffn_hidden)
};

// Multi-head latent attention (DeepSeek-V2/V3): low-rank Q and KV projections.
struct MlaSpec {
  std::uint64_t q_lora_rank = 0, kv_lora_rank = 0, qk_nope_head_dim = 0, qk_rope_head_dim = 0, v_head_dim = 0;
};

struct ModelSpec {
  std::string id, name, group;  // group: "reference" or "validation"
  std::uint64_t layers = 0, hidden = 0, heads = 0, kv_heads = 0, head_dim = 0, ffn_hidden = 0, vocab = 0;
  std::string activation;          // "gelu" (2-matrix MLP) or "swiglu" (3-matrix gated MLP)
  bool tied_embeddings = false;
  std::uint64_t learned_positions = 0;  // rows of a learned position table; 0 for RoPE/ALiBi
  std::uint64_t seq_len = 0;             // the published training sequence length
  std::optional<double> global_batch_tokens, train_tokens;
  std::optional<MoeSpec> moe;
  std::optional<MlaSpec> mla;
  std::map<std::string, std::string> sources;  // field -> where its value comes from
  std::string notes;

  bool gated() const { return activation == "swiglu"; }
  bool is_moe_layer(std::uint64_t layer) const { return moe && layer >= moe->first_dense_layers; }
  std::uint64_t moe_layers() const { return moe ? layers - moe->first_dense_layers : 0; }
  std::uint64_t dense_layers() const { return layers - moe_layers(); }
  // Per-head widths of the attention matmuls: QK^T contracts over qk_dim, PV over v_dim.
  std::uint64_t qk_dim() const { return mla ? mla->qk_nope_head_dim + mla->qk_rope_head_dim : head_dim; }
  std::uint64_t v_dim() const { return mla ? mla->v_head_dim : head_dim; }

  // Parameter counts (biases and norm weights included where the architecture has them only as
  // vectors: they are counted, they do not change FLOPs).
  double attention_params() const;              // one layer
  double mlp_params(bool moe_layer) const;      // one layer's FFN, all experts
  double active_mlp_params(bool moe_layer) const;  // experts a token passes through (top-k + shared)
  double embedding_params() const;              // token table (+ position table)
  double head_params() const;                   // LM head matrix (0 extra when tied; see below)
  double total_params() const;
  double active_params() const;
  // Parameters a token multiplies by: every layer's active weights and the LM head (the input
  // embedding and the position table are lookups, not matmuls; a tied head still multiplies).
  double matmul_params_active() const;
};

// How a published figure counts FLOPs per token; `model_flops_per_token` takes one.
struct FlopConvention {
  bool causal_halving = true;   // the causal mask halves the attention term (Megatron-LM today)
  bool count_recompute = false; // add the full recomputation forward (hardware FLOPs, Megatron 2021)
};
// Training FLOPs per token at sequence length `seq`: 6 x matmul parameters (active for MoE) plus
// the attention term 6 L H (qk_dim + v_dim) seq, i.e. PaLM's 12 L H Q T, halved when causal.
// With count_recompute, the layers' forward is counted twice more (4x forward, the head 3x).
double model_flops_per_token(const ModelSpec& m, std::uint64_t seq, FlopConvention c = {});

class ModelTable {
 public:
  // Parses a models file; throws Error naming `origin`, the model and the field that is wrong.
  static ModelTable parse(std::string_view json_text, const std::string& origin);
  static const ModelTable& builtin();
  // The built-in models plus those in `path` (same form as models.json); a model in the file
  // replaces a built-in one of the same id.
  static ModelTable with_file(const std::string& path);

  const std::vector<ModelSpec>& models() const { return models_; }
  // By id; throws Error listing the known ids when there is none.
  const ModelSpec& by_id(std::string_view id) const;
  std::string ids(const std::string& group = "") const;

 private:
  std::vector<ModelSpec> models_;
};

}  // namespace trainbench
