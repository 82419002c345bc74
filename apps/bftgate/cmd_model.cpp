// bftgate model train|eval and bftgate adapter train|eval|make-suite: the tiny LM trained in this
// repository and LoRA adapters fine-tuned on it.
#include <fmt/format.h>

#include <chrono>
#include <sstream>

#include "bftgate/io/file_io.hpp"
#include "bftgate/validation/adapter_suite.hpp"
#include "bftgate/validation/corpus.hpp"
#include "bftgate/validation/model.hpp"
#include "bftgate/validation/peft.hpp"
#include "bftgate/validation/training.hpp"
#include "cli_common.hpp"

namespace bftgate::cli {

namespace fs = std::filesystem;
namespace v = bftgate::validation;

namespace {

void print_progress(const v::TrainingProgress& p) {
  fmt::print("  {} step {}/{} loss {:.4f} nats/byte ({:.1f} s)\n", p.phase, p.step, p.total_steps,
             p.loss, p.elapsed_s);
  std::fflush(stdout);
}

// --model: a directory holding model.safetensors or the file itself; empty: the cached default
// model, trained on first use.
Result<v::TinyLm> load_model(const std::string& model) {
  if (model.empty()) {
    const auto cache = v::default_cache_dir();
    fmt::print("model: the default model in {} (trained on first use)\n",
               (cache / "model").string());
    std::fflush(stdout);
    return v::load_or_train_default_tiny_lm(cache, print_progress);
  }
  fs::path file = model;
  std::error_code ec;
  if (fs::is_directory(file, ec)) file /= v::kModelFileName;
  if (!fs::exists(file, ec)) {
    return Error{
        fmt::format("no model at {} (bftgate model train --out DIR writes one)", file.string())};
  }
  return v::load_tiny_lm(file);
}

Result<v::DType> parse_dtype(const std::string& dtype) {
  if (dtype == "f32") return v::DType::kF32;
  if (dtype == "f16") return v::DType::kF16;
  return Error{fmt::format("unknown dtype \"{}\" (f32 or f16)", dtype)};
}

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> parts;
  std::stringstream stream(text);
  std::string part;
  while (std::getline(stream, part, ',')) {
    if (!part.empty()) parts.push_back(part);
  }
  return parts;
}

int fail_with(const std::string& message) {
  print_error(message);
  return kExitFailure;
}

struct ModelTrainArgs {
  std::uint64_t seed = v::kDefaultModelSeed;
  std::string out;
  std::size_t steps = v::BaseTrainingOptions{}.optimizer.steps;
};

int run_model_train(const ModelTrainArgs& args) {
  auto corpus = v::load_base_corpus();
  if (!corpus) return fail_with(corpus.error().message);
  v::BaseTrainingOptions options;
  options.seed = args.seed;
  options.optimizer.steps = args.steps;
  options.optimizer.progress_every = std::max<std::size_t>(1, args.steps / 20);
  const fs::path dir = args.out.empty() ? v::default_cache_dir() / "model" : fs::path(args.out);
  const auto& arch = options.architecture;
  fmt::print(
      "training {} (context {} bytes, embedding {}, hidden {}, seed {}) for {} steps of {} windows "
      "on {} KB\n",
      v::kTinyLmName, arch.context, arch.embed_dim, fmt::join(arch.hidden, "/"), args.seed,
      args.steps, options.optimizer.batch, corpus->split.train.size() / 1024);
  std::fflush(stdout);
  const auto start = std::chrono::steady_clock::now();
  auto lm = v::train_tiny_lm(*corpus, options, print_progress);
  if (!lm) return fail_with(lm.error().message);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return fail_with(fmt::format("cannot create {}: {}", dir.string(), ec.message()));
  const fs::path file = dir / v::kModelFileName;
  if (auto saved = v::save_tiny_lm(file, *lm); !saved) return fail_with(saved.error().message);
  const v::UnigramModel unigram(corpus->split.train);
  const auto& heldout = corpus->split.heldout;
  fmt::print("trained in {:.1f} s: held-out perplexity {:.3f} per byte (unigram baseline {:.3f})\n",
             seconds, lm->info.heldout_perplexity,
             v::perplexity(unigram.log_likelihood(heldout), heldout.size()));
  fmt::print("wrote {}\n", file.string());
  return kExitOk;
}

int run_model_eval(const std::string& model) {
  auto lm = load_model(model);
  if (!lm) return fail_with(lm.error().message);
  auto corpus = v::load_base_corpus();
  if (!corpus) return fail_with(corpus.error().message);
  auto proverbs = v::load_proverbs();
  if (!proverbs) return fail_with(proverbs.error().message);
  if (lm->info.corpus_sha256 != corpus->sha256_hex) {
    fmt::print("note: the model was trained on another corpus (sha256 {})\n",
               lm->info.corpus_sha256);
  }
  const v::UnigramModel unigram(corpus->split.train);
  const auto row = [&](const char* label, const std::string& text) {
    const double model_ll = v::rolling_log_likelihood(lm->model, nullptr, text);
    const double unigram_ll = unigram.log_likelihood(text);
    fmt::print(
        "{:<28} {:>7} bytes  model ppl {:7.3f} ({:.3f} bits/byte)  unigram ppl {:7.3f} ({:.3f} "
        "bits/byte)\n",
        label, text.size(), v::perplexity(model_ll, text.size()),
        v::bits_per_byte(model_ll, text.size()), v::perplexity(unigram_ll, text.size()),
        v::bits_per_byte(unigram_ll, text.size()));
  };
  fmt::print("model {} (seed {}, {} training steps, context {}, {} parameters)\n", lm->model.name,
             lm->info.seed, lm->info.training_steps, lm->model.context, [&] {
               Eigen::Index total = lm->model.embedding.size();
               for (const auto& layer : lm->model.layers)
                 total += layer.weight.size() + layer.bias.size();
               return total;
             }());
  row("held-out kjv-base (10%)", corpus->split.heldout);
  row("held-out kjv-proverbs (15%)", proverbs->heldout);
  return kExitOk;
}

struct AdapterTrainArgs {
  std::string data;
  std::string model;
  std::string out;
  std::string targets = "mlp.fc1,mlp.fc2,lm_head";
  std::string dtype = "f32";
  v::LoraTrainingOptions options;
};

int run_adapter_train(const AdapterTrainArgs& args) {
  auto dtype = parse_dtype(args.dtype);
  if (!dtype) return fail_with(dtype.error().message);
  auto text = read_small_file(args.data, 256u << 20);
  if (!text) return fail_with(text.error().message);
  auto lm = load_model(args.model);
  if (!lm) return fail_with(lm.error().message);
  v::LoraTrainingOptions options = args.options;
  options.target_modules = split_commas(args.targets);
  options.optimizer.progress_every = std::max<std::size_t>(1, options.optimizer.steps / 10);
  fmt::print("LoRA rank {} alpha {}{} on {} of {}: {} steps of {} windows on {} bytes of {}\n",
             options.rank, options.alpha, options.use_rslora ? " (rsLoRA)" : "",
             fmt::join(options.target_modules, ","), lm->model.name, options.optimizer.steps,
             options.optimizer.batch, text->size(), args.data);
  std::fflush(stdout);
  auto adapter = v::train_lora(lm->model, *text, options, print_progress);
  if (!adapter) return fail_with(adapter.error().message);
  if (auto written = v::write_peft_adapter(args.out, *adapter, *dtype); !written) {
    return fail_with(written.error().message);
  }
  auto loaded = v::load_peft_adapter(args.out, lm->model.shape());
  if (!loaded) return fail_with("the written adapter does not load: " + loaded.error().message);
  fmt::print("wrote {} ({} parameters, {})\n", args.out, loaded->parameter_count(), args.dtype);
  auto corpus = v::load_base_corpus();
  if (!corpus) return fail_with(corpus.error().message);
  fmt::print("held-out base perplexity {:.3f} -> {:.3f}\n",
             v::text_perplexity(lm->model, nullptr, corpus->split.heldout),
             v::text_perplexity(lm->model, &*loaded, corpus->split.heldout));
  return kExitOk;
}

int run_adapter_eval(const std::string& adapter_path, const std::string& model) {
  auto lm = load_model(model);
  if (!lm) return fail_with(lm.error().message);
  auto adapter = v::load_peft_adapter(adapter_path, lm->model.shape());
  if (!adapter) return fail_with(adapter.error().message);
  auto texts = v::load_evaluation_texts();
  if (!texts) return fail_with(texts.error().message);
  const auto base = v::evaluate_adapter(lm->model, nullptr, *texts);
  const auto adapted = v::evaluate_adapter(lm->model, &*adapter, *texts);
  fmt::print("base:    {}\nadapter: {}\n", v::format_evaluation(base, nullptr),
             v::format_evaluation(adapted, &base));
  return kExitOk;
}

struct MakeSuiteArgs {
  std::string out;
  std::string model;
  std::uint64_t seed = 1;
  std::string dtype = "f32";
};

int run_make_suite(const MakeSuiteArgs& args) {
  auto dtype = parse_dtype(args.dtype);
  if (!dtype) return fail_with(dtype.error().message);
  auto lm = load_model(args.model);
  if (!lm) return fail_with(lm.error().message);
  const auto start = std::chrono::steady_clock::now();
  auto report =
      v::make_adapter_suite(lm->model, args.out, args.seed, *dtype, [](std::string_view line) {
        fmt::print("{}\n", line);
        std::fflush(stdout);
      });
  if (!report) return fail_with(report.error().message);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  fmt::print("wrote {} adapters and report.json to {} in {:.1f} s\n", report->adapters.size(),
             args.out, seconds);
  return kExitOk;
}

}  // namespace

void register_model(CLI::App& app, Runner& run) {
  auto* model =
      app.add_subcommand("model", "The tiny byte-level language model trained in this repository");
  model->require_subcommand(1);

  auto train_args = std::make_shared<ModelTrainArgs>();
  auto* train = model->add_subcommand(
      "train", "Train the model (deterministic for a seed) and write DIR/model.safetensors");
  train->add_option("--seed", train_args->seed, "Seed of the initial weights and the data order")
      ->default_val(v::kDefaultModelSeed);
  train->add_option("--out", train_args->out,
                    "Output directory (default: <cache>/model, cache = "
                    "$BFTGATE_CACHE_DIR or .cache/bftgate)");
  train->add_option("--steps", train_args->steps, "Training steps (minibatches)")
      ->default_val(v::BaseTrainingOptions{}.optimizer.steps)
      ->check(CLI::Range(std::size_t{1}, std::size_t{10000000}));
  train->callback(
      [&run, train_args] { run = [train_args] { return run_model_train(*train_args); }; });

  auto eval_model = std::make_shared<std::string>();
  auto* eval = model->add_subcommand(
      "eval", "Held-out perplexity of the model next to the unigram baseline");
  eval->add_option("--model", *eval_model,
                   "Model directory or file (default: the cached default model)");
  eval->callback(
      [&run, eval_model] { run = [eval_model] { return run_model_eval(*eval_model); }; });
}

void register_adapter(CLI::App& app, Runner& run) {
  auto* adapter =
      app.add_subcommand("adapter", "LoRA adapters of the tiny model, by real fine-tuning");
  adapter->require_subcommand(1);

  auto train_args = std::make_shared<AdapterTrainArgs>();
  auto& o = train_args->options;
  auto* train = adapter->add_subcommand(
      "train", "Fine-tune a LoRA adapter on a text file and write a PEFT directory");
  train->add_option("--data", train_args->data, "Text file to fine-tune on")
      ->required()
      ->check(CLI::ExistingFile);
  train->add_option("--rank", o.rank, "LoRA rank r")->default_val(8)->check(CLI::Range(1, 256));
  train->add_option("--alpha", o.alpha, "LoRA alpha (scaling alpha/r)")->default_val(16.0f);
  train->add_flag("--rslora", o.use_rslora, "rsLoRA scaling alpha/sqrt(r)");
  train->add_option("--steps", o.optimizer.steps, "Training steps")
      ->default_val(400)
      ->check(CLI::Range(1, 10000000));
  train->add_option("--batch", o.optimizer.batch, "Windows per step")
      ->default_val(128)
      ->check(CLI::Range(1, 65536));
  train->add_option("--lr", o.optimizer.learning_rate, "Peak learning rate (Adam)")
      ->default_val(2e-3f);
  train->add_option("--targets", train_args->targets, "Comma-separated target modules")
      ->default_val("mlp.fc1,mlp.fc2,lm_head");
  train->add_option("--seed", o.seed, "Seed of A's initialisation and the data order")
      ->default_val(1);
  train->add_option("--dtype", train_args->dtype, "Weights dtype in the file")
      ->default_val("f32")
      ->check(CLI::IsMember({"f32", "f16"}));
  train->add_option("--model", train_args->model,
                    "Base model directory or file (default: the cached default model)");
  train->add_option("--out", train_args->out, "Output PEFT directory")->required();
  train->callback(
      [&run, train_args] { run = [train_args] { return run_adapter_train(*train_args); }; });

  auto eval_adapter = std::make_shared<std::pair<std::string, std::string>>();
  auto* eval = adapter->add_subcommand(
      "eval", "Perplexities, cloze QA and safety probes of an adapter vs the base");
  eval->add_option("--adapter", eval_adapter->first, "PEFT directory or packed adapter file")
      ->required();
  eval->add_option("--model", eval_adapter->second,
                   "Base model directory or file (default: the cached default model)");
  eval->callback([&run, eval_adapter] {
    run = [eval_adapter] { return run_adapter_eval(eval_adapter->first, eval_adapter->second); };
  });

  auto suite_args = std::make_shared<MakeSuiteArgs>();
  auto* suite = adapter->add_subcommand("make-suite",
                                        "Fine-tune the four reference adapters (good, degraded, "
                                        "reasoning-regressed, poisoned) into DIR");
  suite->add_option("--out", suite_args->out, "Output directory")->required();
  suite->add_option("--model", suite_args->model,
                    "Base model directory or file (default: the cached default model)");
  suite->add_option("--seed", suite_args->seed, "Seed of the adapters' training")->default_val(1);
  suite->add_option("--dtype", suite_args->dtype, "Weights dtype in the files")
      ->default_val("f32")
      ->check(CLI::IsMember({"f32", "f16"}));
  suite->callback(
      [&run, suite_args] { run = [suite_args] { return run_make_suite(*suite_args); }; });
}

}  // namespace bftgate::cli
