#include "bftgate/validation/model.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

#include "bftgate/base/strict_json.hpp"
#include "bftgate/validation/rng.hpp"

namespace bftgate::validation {

namespace {

using ByteWindows = Eigen::Matrix<std::uint8_t, Eigen::Dynamic, Eigen::Dynamic>;

constexpr Eigen::Index kScoringBatch = 1024;

std::string_view activation_name(Activation activation) {
  return activation == Activation::kTanh ? "tanh" : "none";
}

template <class Derived>
bool all_finite(const Eigen::DenseBase<Derived>& values) {
  return values.derived().array().isFinite().all();
}

// Row-major copy of a column-major Eigen matrix (safetensors is row-major).
std::vector<float> row_major(const Eigen::MatrixXf& matrix) {
  std::vector<float> values(static_cast<std::size_t>(matrix.size()));
  Eigen::Map<Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
      values.data(), matrix.rows(), matrix.cols()) = matrix;
  return values;
}

Eigen::MatrixXf from_row_major(const std::vector<float>& values, Eigen::Index rows,
                               Eigen::Index cols) {
  return Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
      values.data(), rows, cols);
}

Result<std::uint64_t> parse_u64(const std::map<std::string, std::string>& metadata,
                                const std::string& key) {
  auto it = metadata.find(key);
  if (it == metadata.end()) return Error{fmt::format("model metadata lacks \"{}\"", key)};
  std::uint64_t value = 0;
  const auto& text = it->second;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) {
    return Error{
        fmt::format("model metadata \"{}\" is not an unsigned integer: \"{}\"", key, text)};
  }
  return value;
}

Result<double> parse_double(const std::map<std::string, std::string>& metadata,
                            const std::string& key) {
  auto it = metadata.find(key);
  if (it == metadata.end()) return Error{fmt::format("model metadata lacks \"{}\"", key)};
  double value = 0.0;
  const auto& text = it->second;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) {
    return Error{fmt::format("model metadata \"{}\" is not a number: \"{}\"", key, text)};
  }
  return value;
}

// The values of a tensor of exactly the expected shape.
Result<std::vector<float>> expect_tensor(const SafetensorsFile& file, const std::string& name,
                                         const std::vector<std::int64_t>& shape) {
  const auto* tensor = file.find(name);
  if (tensor == nullptr) return Error{fmt::format("model file lacks tensor \"{}\"", name)};
  if (tensor->shape != shape) {
    return Error{fmt::format("tensor \"{}\" has shape [{}], the architecture says [{}]", name,
                             fmt::join(tensor->shape, ", "), fmt::join(shape, ", "))};
  }
  auto values = file.to_f32(*tensor);
  if (!values) return Error{fmt::format("tensor \"{}\": {}", name, values.error().message)};
  return values;
}

}  // namespace

std::string hidden_module_name(std::size_t index) {
  return fmt::format("mlp.fc{}", index + 1);
}

DenseStackModel init_tiny_lm(const TinyLmArchitecture& architecture, std::uint64_t seed,
                             std::string name) {
  Rng rng(seed);
  DenseStackModel model;
  model.name = std::move(name);
  model.context = architecture.context;
  model.vocab = 256;
  model.embedding.resize(model.vocab, architecture.embed_dim);
  for (Eigen::Index r = 0; r < model.embedding.rows(); ++r) {
    for (Eigen::Index c = 0; c < model.embedding.cols(); ++c) {
      model.embedding(r, c) = static_cast<float>(rng.normal());
    }
  }
  int in = architecture.context * architecture.embed_dim;
  auto add_layer = [&](std::string module, int out, Activation activation, float scale) {
    DenseLayer layer{std::move(module), Eigen::MatrixXf(out, in), Eigen::VectorXf::Zero(out),
                     activation};
    const float bound = scale * std::sqrt(6.0f / static_cast<float>(in + out));
    for (Eigen::Index r = 0; r < layer.weight.rows(); ++r) {
      for (Eigen::Index c = 0; c < layer.weight.cols(); ++c)
        layer.weight(r, c) = rng.uniform(-bound, bound);
    }
    model.layers.push_back(std::move(layer));
    in = out;
  };
  for (std::size_t i = 0; i < architecture.hidden.size(); ++i) {
    add_layer(hidden_module_name(i), architecture.hidden[i], Activation::kTanh, 1.0f);
  }
  add_layer(kOutputModule, model.vocab, Activation::kNone, 0.1f);
  return model;
}

Status check_model(const DenseStackModel& model) {
  if (model.vocab != 256)
    return fail(fmt::format("vocab is {}, a byte-level model has 256", model.vocab));
  if (model.context < 1 || model.context > kMaxContext) {
    return fail(fmt::format("context {} is outside [1, {}]", model.context, kMaxContext));
  }
  if (model.embedding.rows() != model.vocab || model.embedding.cols() < 1 ||
      model.embedding.cols() > kMaxWidth) {
    return fail(fmt::format("embedding is [{}, {}], expected [256, E] with 1 <= E <= {}",
                            model.embedding.rows(), model.embedding.cols(), kMaxWidth));
  }
  if (!all_finite(model.embedding)) return fail("embedding has a non-finite value");
  if (model.layers.empty()) return fail("the model has no layers");
  Eigen::Index in = static_cast<Eigen::Index>(model.context) * model.embedding.cols();
  std::set<std::string> modules;
  for (const auto& layer : model.layers) {
    if (layer.module.empty()) return fail("a layer has an empty module name");
    if (!modules.insert(layer.module).second)
      return fail(fmt::format("module \"{}\" appears twice", layer.module));
    if (layer.weight.cols() != in) {
      return fail(fmt::format("layer \"{}\" takes {} inputs, the previous layer gives {}",
                              layer.module, layer.weight.cols(), in));
    }
    if (layer.weight.rows() < 1 || layer.weight.rows() > kMaxWidth) {
      return fail(fmt::format("layer \"{}\" has {} outputs", layer.module, layer.weight.rows()));
    }
    if (layer.bias.size() != layer.weight.rows()) {
      return fail(fmt::format("layer \"{}\" has {} outputs but {} biases", layer.module,
                              layer.weight.rows(), layer.bias.size()));
    }
    if (!all_finite(layer.weight) || !all_finite(layer.bias)) {
      return fail(fmt::format("layer \"{}\" has a non-finite value", layer.module));
    }
    in = layer.weight.rows();
  }
  if (in != model.vocab)
    return fail(fmt::format("the last layer gives {} outputs, not 256 logits", in));
  return ok_status();
}

std::string architecture_json(const DenseStackModel& model) {
  nlohmann::json layers = nlohmann::json::array();
  for (const auto& layer : model.layers) {
    layers.push_back({{"module", layer.module},
                      {"in", layer.weight.cols()},
                      {"out", layer.weight.rows()},
                      {"activation", activation_name(layer.activation)}});
  }
  nlohmann::json architecture{{"type", "dense-stack-byte-lm"},
                              {"context", model.context},
                              {"vocab", model.vocab},
                              {"embed_dim", model.embed_dim()},
                              {"layers", layers}};
  return architecture.dump();
}

std::map<std::string, std::string> model_metadata(const TinyLm& lm) {
  return {{"format", kTinyLmFormat},
          {"name", lm.model.name},
          {"architecture", architecture_json(lm.model)},
          {"seed", std::to_string(lm.info.seed)},
          {"corpus_sha256", lm.info.corpus_sha256},
          {"training_steps", std::to_string(lm.info.training_steps)},
          {"heldout_perplexity", fmt::format("{}", lm.info.heldout_perplexity)}};
}

std::vector<TensorToWrite> model_tensors(const DenseStackModel& model) {
  std::vector<TensorToWrite> tensors;
  tensors.push_back(
      {"embedding", {model.embedding.rows(), model.embedding.cols()}, row_major(model.embedding)});
  for (const auto& layer : model.layers) {
    tensors.push_back({layer.module + ".weight",
                       {layer.weight.rows(), layer.weight.cols()},
                       row_major(layer.weight)});
    tensors.push_back(
        {layer.module + ".bias",
         {layer.bias.size()},
         std::vector<float>(layer.bias.data(), layer.bias.data() + layer.bias.size())});
  }
  return tensors;
}

Status save_tiny_lm(const std::filesystem::path& file, const TinyLm& lm) {
  if (auto valid = check_model(lm.model); !valid)
    return fail("refusing to save an invalid model: " + valid.error().message);
  return write_safetensors_file(file, model_tensors(lm.model), model_metadata(lm), DType::kF32);
}

Result<TinyLm> tiny_lm_from_safetensors(const SafetensorsFile& file) {
  const auto& metadata = file.metadata;
  auto format = metadata.find("format");
  if (format == metadata.end() || format->second != kTinyLmFormat) {
    return Error{fmt::format("not a bftgate tiny LM file: metadata \"format\" is not \"{}\"",
                             kTinyLmFormat)};
  }
  auto name = metadata.find("name");
  if (name == metadata.end() || name->second.empty()) return Error{"model metadata lacks \"name\""};
  auto architecture_text = metadata.find("architecture");
  if (architecture_text == metadata.end()) return Error{"model metadata lacks \"architecture\""};
  auto parsed_architecture =
      parse_json(architecture_text->second, JsonLimits{.max_bytes = 1 << 16, .max_depth = 4});
  if (!parsed_architecture || !parsed_architecture->is_object()) {
    return Error{"model metadata \"architecture\" is not a JSON object"};
  }
  const auto& architecture = *parsed_architecture;

  TinyLm lm;
  auto& model = lm.model;
  model.name = name->second;
  const auto integer = [&](const nlohmann::json& object, const char* key, std::int64_t lo,
                           std::int64_t hi) -> Result<std::int64_t> {
    auto it = object.find(key);
    if (it == object.end() || !it->is_number_integer()) {
      return Error{fmt::format("architecture: \"{}\" is missing or not an integer", key)};
    }
    const auto value = it->get<std::int64_t>();
    if (value < lo || value > hi) {
      return Error{
          fmt::format("architecture: \"{}\" = {} is outside [{}, {}]", key, value, lo, hi)};
    }
    return value;
  };
  auto context = integer(architecture, "context", 1, kMaxContext);
  if (!context) return context.error();
  auto vocab = integer(architecture, "vocab", 256, 256);
  if (!vocab) return vocab.error();
  auto embed_dim = integer(architecture, "embed_dim", 1, kMaxWidth);
  if (!embed_dim) return embed_dim.error();
  model.context = static_cast<int>(*context);
  model.vocab = static_cast<int>(*vocab);

  auto embedding = expect_tensor(file, "embedding", {*vocab, *embed_dim});
  if (!embedding) return embedding.error();
  model.embedding = from_row_major(*embedding, *vocab, *embed_dim);

  auto layers = architecture.find("layers");
  if (layers == architecture.end() || !layers->is_array() || layers->empty()) {
    return Error{"architecture: \"layers\" is missing or empty"};
  }
  for (const auto& spec : *layers) {
    if (!spec.is_object()) return Error{"architecture: a layer is not an object"};
    auto module = spec.find("module");
    if (module == spec.end() || !module->is_string())
      return Error{"architecture: a layer lacks \"module\""};
    auto activation = spec.find("activation");
    if (activation == spec.end() || !activation->is_string() ||
        (*activation != "tanh" && *activation != "none")) {
      return Error{fmt::format("architecture: layer \"{}\" has no activation \"tanh\" or \"none\"",
                               module->get<std::string>())};
    }
    auto in = integer(spec, "in", 1, static_cast<std::int64_t>(kMaxContext) * kMaxWidth);
    if (!in) return in.error();
    auto out = integer(spec, "out", 1, kMaxWidth);
    if (!out) return out.error();
    DenseLayer layer;
    layer.module = module->get<std::string>();
    layer.activation = *activation == "tanh" ? Activation::kTanh : Activation::kNone;
    auto weight = expect_tensor(file, layer.module + ".weight", {*out, *in});
    if (!weight) return weight.error();
    auto bias = expect_tensor(file, layer.module + ".bias", {*out});
    if (!bias) return bias.error();
    layer.weight = from_row_major(*weight, *out, *in);
    layer.bias = Eigen::Map<const Eigen::VectorXf>(bias->data(), *out);
    model.layers.push_back(std::move(layer));
  }
  const std::size_t expected_tensors = 1 + 2 * model.layers.size();
  if (file.tensors.size() != expected_tensors) {
    return Error{fmt::format("model file has {} tensors, the architecture names {}",
                             file.tensors.size(), expected_tensors)};
  }
  if (auto valid = check_model(model); !valid)
    return Error{"invalid model: " + valid.error().message};

  auto seed = parse_u64(metadata, "seed");
  if (!seed) return seed.error();
  auto steps = parse_u64(metadata, "training_steps");
  if (!steps) return steps.error();
  auto heldout = parse_double(metadata, "heldout_perplexity");
  if (!heldout) return heldout.error();
  auto digest = metadata.find("corpus_sha256");
  if (digest == metadata.end()) return Error{"model metadata lacks \"corpus_sha256\""};
  lm.info = {*seed, digest->second, *steps, *heldout};
  return lm;
}

Result<TinyLm> load_tiny_lm(const std::filesystem::path& file) {
  auto parsed = read_safetensors_file(file, 1ull << 30);
  if (!parsed) return Error{fmt::format("{}: {}", file.string(), parsed.error().message)};
  auto lm = tiny_lm_from_safetensors(*parsed);
  if (!lm) return Error{fmt::format("{}: {}", file.string(), lm.error().message)};
  return lm;
}

std::vector<double> byte_log_probs(const DenseStackModel& m, const LoraAdapter* adapter,
                                   std::string_view context, std::string_view continuation) {
  std::vector<double> result;
  result.reserve(continuation.size());
  const auto byte_at = [&](std::ptrdiff_t i) -> std::uint8_t {
    if (i < 0) return 0;
    const auto index = static_cast<std::size_t>(i);
    return static_cast<std::uint8_t>(index < context.size() ? context[index]
                                                            : continuation[index - context.size()]);
  };
  const auto c = static_cast<std::ptrdiff_t>(m.context);
  const auto first = static_cast<std::ptrdiff_t>(context.size());
  const auto total = static_cast<std::ptrdiff_t>(continuation.size());
  ByteWindows windows;
  for (std::ptrdiff_t begin = 0; begin < total; begin += kScoringBatch) {
    const auto count = std::min<std::ptrdiff_t>(kScoringBatch, total - begin);
    windows.resize(m.context, count);
    for (std::ptrdiff_t j = 0; j < count; ++j) {
      const auto position = first + begin + j;  // index in context + continuation
      for (std::ptrdiff_t t = 0; t < c; ++t) windows(t, j) = byte_at(position - c + t);
    }
    const Eigen::MatrixXf logits = forward_logits_batch(m, adapter, windows);
    for (std::ptrdiff_t j = 0; j < count; ++j) {
      const auto column = logits.col(j);
      const double max = static_cast<double>(column.maxCoeff());
      double sum = 0.0;
      for (Eigen::Index v = 0; v < column.size(); ++v)
        sum += std::exp(static_cast<double>(column(v)) - max);
      const auto target = byte_at(first + begin + j);
      result.push_back(static_cast<double>(column(target)) - max - std::log(sum));
    }
  }
  return result;
}

double log_likelihood(const DenseStackModel& m, const LoraAdapter* adapter,
                      std::string_view context, std::string_view continuation) {
  double total = 0.0;
  for (double lp : byte_log_probs(m, adapter, context, continuation)) total += lp;
  return total;
}

double rolling_log_likelihood(const DenseStackModel& m, const LoraAdapter* adapter,
                              std::string_view text) {
  return log_likelihood(m, adapter, {}, text);
}

double text_perplexity(const DenseStackModel& m, const LoraAdapter* adapter,
                       std::string_view text) {
  if (text.empty()) return 1.0;
  return std::exp(-rolling_log_likelihood(m, adapter, text) / static_cast<double>(text.size()));
}

}  // namespace bftgate::validation
