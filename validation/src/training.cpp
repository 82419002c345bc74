#include "bftgate/validation/training.hpp"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <set>
#include <system_error>

namespace bftgate::validation {

namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

// Independent streams from one seed (splitmix64 finaliser of seed + stream constant).
std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t stream) {
  std::uint64_t z = seed + stream * 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

constexpr std::uint64_t kInitStream = 1;
constexpr std::uint64_t kDataStream = 2;

// Adam over a list of parameter blocks (registered once, stepped with gradients in that order).
class Adam {
 public:
  struct Block {
    float* value;
    const float* gradient;
    Eigen::Index size;
  };

  explicit Adam(const OptimizerOptions& options) : options_(options) {}

  void step(const std::vector<Block>& blocks, float learning_rate, float gradient_scale) {
    if (m_.empty()) {
      for (const auto& block : blocks) {
        m_.emplace_back(Eigen::ArrayXf::Zero(block.size));
        v_.emplace_back(Eigen::ArrayXf::Zero(block.size));
      }
    }
    ++t_;
    const auto t = static_cast<float>(t_);
    const float correction =
        std::sqrt(1.0f - std::pow(options_.beta2, t)) / (1.0f - std::pow(options_.beta1, t));
    const float step_size = learning_rate * correction;
    for (std::size_t i = 0; i < blocks.size(); ++i) {
      Eigen::Map<Eigen::ArrayXf> value(blocks[i].value, blocks[i].size);
      const Eigen::ArrayXf gradient =
          Eigen::Map<const Eigen::ArrayXf>(blocks[i].gradient, blocks[i].size) * gradient_scale;
      m_[i] = options_.beta1 * m_[i] + (1.0f - options_.beta1) * gradient;
      v_[i] = options_.beta2 * v_[i] + (1.0f - options_.beta2) * gradient.square();
      value -= step_size * m_[i] / (v_[i].sqrt() + options_.epsilon);
    }
  }

 private:
  OptimizerOptions options_;
  std::vector<Eigen::ArrayXf> m_;
  std::vector<Eigen::ArrayXf> v_;
  std::uint64_t t_ = 0;
};

// The scale that brings the global gradient norm down to clip_norm (1 when under it).
float clip_scale(const std::vector<Adam::Block>& blocks, float clip_norm) {
  if (clip_norm <= 0.0f) return 1.0f;
  double squared = 0.0;
  for (const auto& block : blocks) {
    squared += static_cast<double>(
        Eigen::Map<const Eigen::ArrayXf>(block.gradient, block.size).square().sum());
  }
  const double norm = std::sqrt(squared);
  return norm > clip_norm ? static_cast<float>(clip_norm / norm) : 1.0f;
}

// Drives the minibatch loop shared by base and LoRA training: a shuffled pass over every
// position per epoch, batches in that order, the loss reported every progress_every steps.
class TrainingLoop {
 public:
  TrainingLoop(const ByteDataset& data, const OptimizerOptions& options, std::uint64_t data_seed,
               std::string_view phase, const ProgressCallback& progress)
      : data_(data), options_(options), rng_(data_seed), phase_(phase), progress_(progress) {
    order_.resize(data.size());
    for (std::size_t i = 0; i < order_.size(); ++i) order_[i] = i;
    rng_.shuffle(order_);
  }

  // step(windows, targets, learning_rate) -> loss, called options.steps times.
  template <class StepFn>
  void run(StepFn&& step_fn) {
    const auto start = Clock::now();
    const std::size_t batch = std::min(options_.batch, data_.size());
    std::vector<std::uint8_t> targets;
    ByteWindows windows;
    double loss_sum = 0.0;
    std::size_t loss_count = 0;
    for (std::size_t step = 0; step < options_.steps; ++step) {
      if (cursor_ + batch > order_.size()) {
        rng_.shuffle(order_);
        cursor_ = 0;
      }
      data_.make_batch(std::span<const std::size_t>(order_).subspan(cursor_, batch), rng_, windows,
                       targets);
      cursor_ += batch;
      loss_sum += step_fn(windows, targets, learning_rate_at(options_, step));
      ++loss_count;
      const bool last = step + 1 == options_.steps;
      if (progress_ &&
          (last || (options_.progress_every > 0 && (step + 1) % options_.progress_every == 0))) {
        const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
        progress_({phase_, step + 1, options_.steps, loss_sum / static_cast<double>(loss_count),
                   elapsed});
        loss_sum = 0.0;
        loss_count = 0;
      }
    }
  }

 private:
  const ByteDataset& data_;
  const OptimizerOptions& options_;
  Rng rng_;
  std::string_view phase_;
  const ProgressCallback& progress_;
  std::vector<std::size_t> order_;
  std::size_t cursor_ = 0;
};

std::vector<Adam::Block> base_blocks(DenseStackModel& model, const ModelGradients& gradients) {
  std::vector<Adam::Block> blocks;
  blocks.push_back({model.embedding.data(), gradients.embedding.data(), model.embedding.size()});
  for (std::size_t l = 0; l < model.layers.size(); ++l) {
    auto& layer = model.layers[l];
    blocks.push_back({layer.weight.data(), gradients.weight[l].data(), layer.weight.size()});
    blocks.push_back({layer.bias.data(), gradients.bias[l].data(), layer.bias.size()});
  }
  return blocks;
}

std::vector<Adam::Block> lora_blocks(LoraAdapter& adapter, const LoraGradients& gradients) {
  std::vector<Adam::Block> blocks;
  for (std::size_t d = 0; d < adapter.deltas.size(); ++d) {
    auto& delta = adapter.deltas[d];
    blocks.push_back({delta.a.data(), gradients.a[d].data(), delta.a.size()});
    blocks.push_back({delta.b.data(), gradients.b[d].data(), delta.b.size()});
  }
  return blocks;
}

ModelGradients zero_gradients(const DenseStackModel& model) {
  ModelGradients gradients;
  gradients.embedding = Eigen::MatrixXf::Zero(model.embedding.rows(), model.embedding.cols());
  for (const auto& layer : model.layers) {
    gradients.weight.emplace_back(Eigen::MatrixXf::Zero(layer.weight.rows(), layer.weight.cols()));
    gradients.bias.emplace_back(Eigen::VectorXf::Zero(layer.bias.size()));
  }
  return gradients;
}

LoraGradients zero_gradients(const LoraAdapter& adapter) {
  LoraGradients gradients;
  for (const auto& delta : adapter.deltas) {
    gradients.a.emplace_back(Eigen::MatrixXf::Zero(delta.a.rows(), delta.a.cols()));
    gradients.b.emplace_back(Eigen::MatrixXf::Zero(delta.b.rows(), delta.b.cols()));
  }
  return gradients;
}

}  // namespace

ByteDataset::ByteDataset(std::string_view text, int context, double line_start_padding)
    : context_(context), line_start_padding_(line_start_padding) {
  bytes_.reserve(text.size());
  line_start_.reserve(text.size());
  std::size_t line_start = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    bytes_.push_back(static_cast<std::uint8_t>(text[i]));
    line_start_.push_back(line_start);
    if (text[i] == '\n') line_start = i + 1;
  }
  examples_.resize(bytes_.size());
  for (std::size_t i = 0; i < examples_.size(); ++i) examples_[i] = i;
}

ByteDataset::ByteDataset(std::string_view text, const std::vector<bool>& target_mask, int context,
                         double line_start_padding)
    : ByteDataset(text, context, line_start_padding) {
  examples_.clear();
  for (std::size_t i = 0; i < bytes_.size() && i < target_mask.size(); ++i) {
    if (target_mask[i]) examples_.push_back(i);
  }
}

void ByteDataset::make_batch(std::span<const std::size_t> examples, Rng& rng, ByteWindows& windows,
                             std::vector<std::uint8_t>& targets) const {
  const auto c = static_cast<std::size_t>(context_);
  windows.resize(context_, static_cast<Eigen::Index>(examples.size()));
  targets.resize(examples.size());
  for (std::size_t j = 0; j < examples.size(); ++j) {
    const std::size_t p = examples_[examples[j]];
    targets[j] = bytes_[p];
    // Bytes before `first_kept` become 0: the start of the text, or a line start chosen as one.
    std::size_t first_kept = 0;
    const std::size_t line_start = line_start_[p];
    if (line_start > 0 && line_start + c > p && rng.bernoulli(line_start_padding_))
      first_kept = line_start;
    for (std::size_t t = 0; t < c; ++t) {
      const std::size_t offset = c - t;  // window byte t is p - offset
      const bool inside = p >= offset && p - offset >= first_kept;
      windows(static_cast<Eigen::Index>(t), static_cast<Eigen::Index>(j)) =
          inside ? bytes_[p - offset] : 0;
    }
  }
}

float learning_rate_at(const OptimizerOptions& options, std::size_t step) {
  const float peak = options.learning_rate;
  if (step < options.warmup_steps) {
    return peak * static_cast<float>(step + 1) / static_cast<float>(options.warmup_steps);
  }
  const std::size_t decay_steps =
      options.steps > options.warmup_steps ? options.steps - options.warmup_steps : 1;
  const double progress = std::min(
      1.0, static_cast<double>(step - options.warmup_steps) / static_cast<double>(decay_steps));
  const double cosine = 0.5 * (1.0 + std::cos(3.14159265358979323846 * progress));
  const double floor = options.final_lr_fraction;
  return peak * static_cast<float>(floor + (1.0 - floor) * cosine);
}

Result<TinyLm> train_tiny_lm(const BaseCorpus& corpus, const BaseTrainingOptions& options,
                             const ProgressCallback& progress) {
  const auto& arch = options.architecture;
  if (arch.context < 1 || arch.context > kMaxContext || arch.embed_dim < 1 ||
      arch.embed_dim > kMaxWidth) {
    return Error{
        fmt::format("invalid architecture: context {} embed_dim {}", arch.context, arch.embed_dim)};
  }
  for (int width : arch.hidden) {
    if (width < 1 || width > kMaxWidth) return Error{fmt::format("invalid hidden width {}", width)};
  }
  if (options.optimizer.batch == 0) return Error{"batch size must be positive"};
  if (corpus.split.train.empty()) return Error{"the training text is empty"};

  TinyLm lm;
  lm.model = init_tiny_lm(arch, derive_seed(options.seed, kInitStream));
  lm.info.seed = options.seed;
  lm.info.corpus_sha256 = corpus.sha256_hex;
  lm.info.training_steps = options.optimizer.steps;

  const ByteDataset data(corpus.split.train, arch.context, options.line_start_padding);
  ModelGradients gradients = zero_gradients(lm.model);
  const auto blocks = base_blocks(lm.model, gradients);
  Adam adam(options.optimizer);
  HalvedBackprop backprop;
  TrainingLoop loop(data, options.optimizer, derive_seed(options.seed, kDataStream), "base",
                    progress);
  loop.run([&](const ByteWindows& windows, const std::vector<std::uint8_t>& targets,
               float learning_rate) {
    const double loss = backprop(lm.model, nullptr, windows, targets, &gradients, nullptr);
    adam.step(blocks, learning_rate, clip_scale(blocks, options.optimizer.clip_norm));
    return loss;
  });
  lm.info.heldout_perplexity = text_perplexity(lm.model, nullptr, corpus.split.heldout);
  return lm;
}

Result<LoraAdapter> init_lora(const DenseStackModel& base, const LoraTrainingOptions& options) {
  if (options.target_modules.empty()) return Error{"no target modules"};
  if (options.rank < 1) return Error{fmt::format("rank {} must be at least 1", options.rank)};
  if (!(options.alpha > 0.0f) || !std::isfinite(options.alpha)) {
    return Error{fmt::format("alpha {} must be a positive number", options.alpha)};
  }
  LoraAdapter adapter;
  adapter.config.rank = options.rank;
  adapter.config.alpha = options.alpha;
  adapter.config.use_rslora = options.use_rslora;
  adapter.config.target_modules = options.target_modules;
  adapter.config.base_model_name_or_path = base.name;
  Rng rng(derive_seed(options.seed, kInitStream));
  std::set<std::string> seen;
  for (const auto& module : options.target_modules) {
    if (!seen.insert(module).second)
      return Error{fmt::format("target module \"{}\" is named twice", module)};
    const DenseLayer* layer = nullptr;
    for (const auto& candidate : base.layers) {
      if (candidate.module == module) layer = &candidate;
    }
    if (layer == nullptr) {
      std::string known;
      for (const auto& candidate : base.layers)
        known += (known.empty() ? "" : ", ") + candidate.module;
      return Error{fmt::format("target module \"{}\" is not in model {} (modules: {})", module,
                               base.name, known)};
    }
    const auto in = layer->weight.cols();
    const auto out = layer->weight.rows();
    if (options.rank > std::min(in, out)) {
      return Error{fmt::format("rank {} exceeds min(in, out) = {} of \"{}\"", options.rank,
                               std::min(in, out), module)};
    }
    LoraDelta delta{module, Eigen::MatrixXf(options.rank, in),
                    Eigen::MatrixXf::Zero(out, options.rank), adapter.config.scaling()};
    const float bound = 1.0f / std::sqrt(static_cast<float>(in));
    for (Eigen::Index r = 0; r < delta.a.rows(); ++r) {
      for (Eigen::Index c = 0; c < delta.a.cols(); ++c) delta.a(r, c) = rng.uniform(-bound, bound);
    }
    adapter.deltas.push_back(std::move(delta));
  }
  return adapter;
}

Result<LoraAdapter> train_lora(const DenseStackModel& base, std::string_view text,
                               const LoraTrainingOptions& options,
                               const ProgressCallback& progress) {
  if (text.empty()) return Error{"the fine-tuning text is empty"};
  return train_lora(base, ByteDataset(text, base.context, options.line_start_padding), options,
                    progress);
}

Result<LoraAdapter> train_lora(const DenseStackModel& base, const ByteDataset& data,
                               const LoraTrainingOptions& options,
                               const ProgressCallback& progress) {
  if (auto valid = check_model(base); !valid)
    return Error{"invalid base model: " + valid.error().message};
  if (data.size() == 0) return Error{"the fine-tuning data has no examples"};
  if (data.context() != base.context) {
    return Error{fmt::format("the dataset's context {} is not the model's {}", data.context(),
                             base.context)};
  }
  if (options.optimizer.batch == 0) return Error{"batch size must be positive"};
  auto adapter = init_lora(base, options);
  if (!adapter) return adapter;
  LoraGradients gradients = zero_gradients(*adapter);
  const auto blocks = lora_blocks(*adapter, gradients);
  Adam adam(options.optimizer);
  HalvedBackprop backprop;
  TrainingLoop loop(data, options.optimizer, derive_seed(options.seed, kDataStream), "lora",
                    progress);
  loop.run([&](const ByteWindows& windows, const std::vector<std::uint8_t>& targets,
               float learning_rate) {
    const double loss = backprop(base, &*adapter, windows, targets, nullptr, &gradients);
    adam.step(blocks, learning_rate, clip_scale(blocks, options.optimizer.clip_norm));
    return loss;
  });
  for (const auto& delta : adapter->deltas) {
    if (!delta.a.allFinite() || !delta.b.allFinite()) {
      return Error{
          fmt::format("LoRA training diverged: \"{}\" has non-finite weights", delta.module)};
    }
  }
  return adapter;
}

fs::path default_cache_dir() {
  if (const char* env = std::getenv("BFTGATE_CACHE_DIR"); env != nullptr && *env != '\0')
    return env;
  std::error_code ec;
  return fs::current_path(ec) / ".cache" / "bftgate";
}

Result<TinyLm> load_or_train_default_tiny_lm(const fs::path& cache_dir,
                                             const ProgressCallback& progress) {
  auto corpus = load_base_corpus();
  if (!corpus) return corpus.error();
  const BaseTrainingOptions options;
  const fs::path dir = cache_dir / "model";
  const fs::path file = dir / kModelFileName;
  std::error_code ec;
  if (fs::exists(file, ec)) {
    auto cached = load_tiny_lm(file);
    if (cached && cached->info.seed == options.seed &&
        cached->info.corpus_sha256 == corpus->sha256_hex &&
        cached->info.training_steps == options.optimizer.steps &&
        architecture_json(cached->model) ==
            architecture_json(init_tiny_lm(options.architecture, 0, cached->model.name)) &&
        cached->model.name == kTinyLmName) {
      return cached;
    }
    // Stale or unreadable: retrain and replace it.
  }
  auto trained = train_tiny_lm(*corpus, options, progress);
  if (!trained) return trained;
  fs::create_directories(dir, ec);
  if (ec) return Error{fmt::format("cannot create {}: {}", dir.string(), ec.message())};
  if (auto saved = save_tiny_lm(file, *trained); !saved) return saved.error();
  return trained;
}

Result<DenseStackModel> load_or_train_default_model(const fs::path& cache_dir,
                                                    const ProgressCallback& progress) {
  auto lm = load_or_train_default_tiny_lm(cache_dir, progress);
  if (!lm) return lm.error();
  return std::move(lm->model);
}

}  // namespace bftgate::validation
