#include "harness/model.hpp"

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "harness/build_info.hpp"
#include "harness/error.hpp"
#include "harness/suggest.hpp"

namespace trainbench {
namespace {

constexpr const char* kRequiredCounts[] = {"layers", "hidden", "heads", "kv_heads", "head_dim",
                                           "ffn_hidden", "vocab", "seq_len"};
constexpr const char* kMoeCounts[] = {"experts", "shared_experts", "top_k", "expert_ffn_hidden", "first_dense_layers"};
constexpr const char* kMlaCounts[] = {"q_lora_rank", "kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim",
                                      "v_head_dim"};

// Reads the parts of one model entry, naming the file, the model and the field in every error.
class EntryReader {
 public:
  EntryReader(const nlohmann::json& j, std::string where) : j_(j), where_(std::move(where)) {}

  [[noreturn]] void fail(const std::string& field, const std::string& what) const {
    throw Error(fmt::format("{}: field \"{}\" {}", where_, field, what));
  }
  const nlohmann::json& at(const nlohmann::json& obj, const std::string& key, const std::string& field) const {
    if (!obj.contains(key)) fail(field, "is missing");
    return obj.at(key);
  }
  std::uint64_t count(const nlohmann::json& obj, const std::string& key, const std::string& field,
                      bool zero_ok = false) const {
    const auto& v = at(obj, key, field);
    if (!v.is_number_integer() || v.get<std::int64_t>() < (zero_ok ? 0 : 1))
      fail(field, fmt::format("must be a {} integer, got {}", zero_ok ? "non-negative" : "positive", v.dump()));
    return v.get<std::uint64_t>();
  }
  std::optional<double> optional_number(const std::string& key) const {
    if (!j_.contains(key) || j_.at(key).is_null()) return std::nullopt;
    if (!j_.at(key).is_number() || j_.at(key).get<double>() <= 0) fail(key, "must be a positive number or null");
    return j_.at(key).get<double>();
  }
  std::string text(const std::string& key, bool required = true) const {
    if (!j_.contains(key)) {
      if (required) fail(key, "is missing");
      return "";
    }
    if (!j_.at(key).is_string()) fail(key, fmt::format("must be a string, got {}", j_.at(key).dump()));
    return j_.at(key).get<std::string>();
  }

 private:
  const nlohmann::json& j_;
  std::string where_;
};

ModelSpec parse_model(const nlohmann::json& j, const std::string& origin, std::size_t index) {
  if (!j.is_object()) throw Error(fmt::format("{}: models[{}] is not an object", origin, index));
  const std::string id = j.contains("id") && j.at("id").is_string() ? j.at("id").get<std::string>() : "";
  if (id.empty()) throw Error(fmt::format("{}: models[{}] has no \"id\" string", origin, index));
  const EntryReader r(j, fmt::format("{}: model \"{}\"", origin, id));
  ModelSpec m;
  m.id = id;
  m.name = r.text("name");
  m.group = r.text("group", false);
  if (m.group.empty()) m.group = "reference";
  m.notes = r.text("notes", false);
  m.layers = r.count(j, "layers", "layers");
  m.hidden = r.count(j, "hidden", "hidden");
  m.heads = r.count(j, "heads", "heads");
  m.kv_heads = r.count(j, "kv_heads", "kv_heads");
  m.head_dim = r.count(j, "head_dim", "head_dim");
  m.ffn_hidden = r.count(j, "ffn_hidden", "ffn_hidden");
  m.vocab = r.count(j, "vocab", "vocab");
  m.seq_len = r.count(j, "seq_len", "seq_len");
  m.learned_positions = r.count(j, "learned_positions", "learned_positions", true);
  m.activation = r.text("activation");
  if (m.activation != "gelu" && m.activation != "swiglu")
    r.fail("activation", fmt::format("is \"{}\"; use gelu (2-matrix MLP) or swiglu (3-matrix gated MLP)",
                                     m.activation));
  if (!r.at(j, "tied_embeddings", "tied_embeddings").is_boolean()) r.fail("tied_embeddings", "must be true or false");
  m.tied_embeddings = j.at("tied_embeddings").get<bool>();
  m.global_batch_tokens = r.optional_number("global_batch_tokens");
  m.train_tokens = r.optional_number("train_tokens");
  if (m.heads % m.kv_heads != 0)
    r.fail("kv_heads", fmt::format("({}) must divide heads ({})", m.kv_heads, m.heads));

  std::set<std::string> numeric(std::begin(kRequiredCounts), std::end(kRequiredCounts));
  numeric.insert({"learned_positions", "activation", "tied_embeddings"});
  if (m.global_batch_tokens) numeric.insert("global_batch_tokens");
  if (m.train_tokens) numeric.insert("train_tokens");
  if (j.contains("moe") && !j.at("moe").is_null()) {
    const auto& o = j.at("moe");
    MoeSpec moe;
    moe.experts = r.count(o, "experts", "moe.experts");
    moe.shared_experts = r.count(o, "shared_experts", "moe.shared_experts", true);
    moe.top_k = r.count(o, "top_k", "moe.top_k");
    moe.expert_ffn_hidden = r.count(o, "expert_ffn_hidden", "moe.expert_ffn_hidden");
    moe.first_dense_layers = r.count(o, "first_dense_layers", "moe.first_dense_layers", true);
    if (moe.top_k > moe.experts) r.fail("moe.top_k", fmt::format("({}) exceeds moe.experts ({})", moe.top_k, moe.experts));
    if (moe.first_dense_layers >= m.layers) r.fail("moe.first_dense_layers", "leaves no MoE layer");
    m.moe = moe;
    for (const char* f : kMoeCounts) numeric.insert(std::string("moe.") + f);
  }
  if (j.contains("mla") && !j.at("mla").is_null()) {
    const auto& o = j.at("mla");
    MlaSpec mla;
    mla.q_lora_rank = r.count(o, "q_lora_rank", "mla.q_lora_rank", true);
    mla.kv_lora_rank = r.count(o, "kv_lora_rank", "mla.kv_lora_rank");
    mla.qk_nope_head_dim = r.count(o, "qk_nope_head_dim", "mla.qk_nope_head_dim");
    mla.qk_rope_head_dim = r.count(o, "qk_rope_head_dim", "mla.qk_rope_head_dim");
    mla.v_head_dim = r.count(o, "v_head_dim", "mla.v_head_dim");
    m.mla = mla;
    for (const char* f : kMlaCounts) numeric.insert(std::string("mla.") + f);
  }

  // Sources: keys are a field or a comma-separated list of fields; every value needs one.
  if (!j.contains("sources") || !j.at("sources").is_object())
    r.fail("sources", "is missing: give where each value comes from (paper, config.json URL)");
  std::set<std::string> sourced;
  for (const auto& [key, value] : j.at("sources").items()) {
    if (!value.is_string() || value.get<std::string>().empty()) r.fail("sources." + key, "must be a non-empty string");
    std::stringstream ss(key);
    for (std::string field; std::getline(ss, field, ',');) {
      m.sources[field] = value.get<std::string>();
      sourced.insert(field);
    }
  }
  for (const auto& f : numeric)
    if (!sourced.count(f)) r.fail(f, fmt::format("has no source; add sources.{} (where the value comes from)", f));
  return m;
}

}  // namespace

double ModelSpec::attention_params() const {
  const double h = double(hidden), n = double(heads);
  if (mla) {
    const double q = mla->q_lora_rank ? h * double(mla->q_lora_rank) + double(mla->q_lora_rank) * n * double(qk_dim())
                                      : h * n * double(qk_dim());
    const double kv = h * double(mla->kv_lora_rank + mla->qk_rope_head_dim) +
                      double(mla->kv_lora_rank) * n * double(mla->qk_nope_head_dim + mla->v_head_dim);
    return q + kv + n * double(v_dim()) * h;
  }
  return h * n * double(head_dim) + 2 * h * double(kv_heads) * double(head_dim) + n * double(head_dim) * h;
}

double ModelSpec::mlp_params(bool moe_layer) const {
  const double h = double(hidden), mats = gated() ? 3 : 2;
  if (!moe_layer) return mats * h * double(ffn_hidden);
  return double(moe->experts + moe->shared_experts) * mats * h * double(moe->expert_ffn_hidden) +
         h * double(moe->experts);  // + router
}

double ModelSpec::active_mlp_params(bool moe_layer) const {
  const double h = double(hidden), mats = gated() ? 3 : 2;
  if (!moe_layer) return mats * h * double(ffn_hidden);
  return double(moe->top_k + moe->shared_experts) * mats * h * double(moe->expert_ffn_hidden) + h * double(moe->experts);
}

double ModelSpec::embedding_params() const { return double(vocab + learned_positions) * double(hidden); }
double ModelSpec::head_params() const { return tied_embeddings ? 0.0 : double(vocab) * double(hidden); }

double ModelSpec::total_params() const {
  const double norms = 2.0 * double(hidden) * double(layers) + double(hidden);
  return double(layers) * attention_params() + double(dense_layers()) * mlp_params(false) +
         double(moe_layers()) * (moe ? mlp_params(true) : 0.0) + embedding_params() + head_params() + norms;
}

double ModelSpec::active_params() const {
  return total_params() - double(moe_layers()) * (moe ? mlp_params(true) - active_mlp_params(true) : 0.0);
}

double ModelSpec::matmul_params_active() const {
  return double(layers) * attention_params() + double(dense_layers()) * active_mlp_params(false) +
         double(moe_layers()) * (moe ? active_mlp_params(true) : 0.0) + double(vocab) * double(hidden);
}

double model_flops_per_token(const ModelSpec& m, std::uint64_t seq, FlopConvention c) {
  const double head_fwd = 2.0 * double(m.vocab) * double(m.hidden);
  const double layer_weights_fwd = 2.0 * (m.matmul_params_active() - double(m.vocab) * double(m.hidden));
  // Per token and layer: QK^T is 2 seq qk_dim per head, PV 2 seq v_dim.
  const double attention_fwd = 2.0 * double(m.layers) * double(m.heads) * double(seq) *
                               double(m.qk_dim() + m.v_dim()) * (c.causal_halving ? 0.5 : 1.0);
  const double layers_fwd = layer_weights_fwd + attention_fwd;
  return 3.0 * (layers_fwd + head_fwd) + (c.count_recompute ? layers_fwd : 0.0);
}

ModelTable ModelTable::parse(std::string_view json_text, const std::string& origin) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(json_text);
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("{}: not valid JSON ({})", origin, e.what()));
  }
  if (!doc.is_object() || !doc.contains("models") || !doc.at("models").is_array())
    throw Error(fmt::format("{}: expected an object with a \"models\" array (see harness/data/models.json)", origin));
  if (doc.contains("schema") && doc.at("schema") != "trainbench.models/1")
    throw Error(fmt::format("{}: schema {}; this trainbench reads \"trainbench.models/1\" (or a file without \"schema\")",
                            origin, doc.at("schema").dump()));
  ModelTable table;
  std::set<std::string> seen;
  const auto& models = doc.at("models");
  for (std::size_t i = 0; i < models.size(); ++i) {
    ModelSpec m = parse_model(models[i], origin, i);
    if (!seen.insert(m.id).second) throw Error(fmt::format("{}: model \"{}\" appears twice", origin, m.id));
    table.models_.push_back(std::move(m));
  }
  return table;
}

const ModelTable& ModelTable::builtin() {
  static const ModelTable table = parse(embedded_models_json(), "harness/data/models.json (built in)");
  return table;
}

ModelTable ModelTable::with_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error(fmt::format("cannot read models file {}: check the path", path));
  std::stringstream ss;
  ss << in.rdbuf();
  const ModelTable extra = parse(ss.str(), path);
  ModelTable table = builtin();
  for (const auto& m : extra.models_) {
    auto it = std::find_if(table.models_.begin(), table.models_.end(), [&](const ModelSpec& b) { return b.id == m.id; });
    if (it != table.models_.end()) *it = m;
    else table.models_.push_back(m);
  }
  return table;
}

const ModelSpec& ModelTable::by_id(std::string_view id) const {
  for (const auto& m : models_)
    if (m.id == id) return m;
  std::vector<std::string> known;
  for (const auto& m : models_) known.push_back(m.id);
  throw Error(fmt::format("unknown model \"{}\"{}; known models: {} (`trainbench project` reads more from "
                          "--models-file FILE)",
                          id, did_you_mean(id, known), ids()));
}

std::string ModelTable::ids(const std::string& group) const {
  std::vector<std::string> names;
  for (const auto& m : models_)
    if (group.empty() || m.group == group) names.push_back(m.id);
  return fmt::format("{}", fmt::join(names, ", "));
}

}  // namespace trainbench
