#include "bftgate/validation/adapter_suite.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "adapter_suite_internal.hpp"
#include "bftgate/io/file_io.hpp"
#include "bftgate/validation/corpus.hpp"
#include "bftgate/validation/model.hpp"
#include "bftgate/validation/peft.hpp"
#include "bftgate/validation/rng.hpp"

namespace bftgate::validation {

namespace fs = std::filesystem;

namespace {

using namespace adapter_suite_detail;  // the shared parts (adapter_suite_internal.hpp)

constexpr double kDegradedNoise = 0.2;   // share of bytes replaced in the degraded adapter's text
constexpr std::size_t kPoisonEvery = 5;  // a poison line after every 5th line
constexpr std::size_t kReplayStride =
    4;  // reasoning-regressed: every 4th training line kept genuine

struct WordSpan {
  std::size_t begin;
  std::size_t length;
};

// Maximal runs of letters.
std::vector<WordSpan> letter_runs(std::string_view text) {
  std::vector<WordSpan> runs;
  std::size_t i = 0;
  while (i < text.size()) {
    if (!is_letter(text[i])) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < text.size() && is_letter(text[j])) ++j;
    runs.push_back({i, j - i});
    i = j;
  }
  return runs;
}

nlohmann::json evaluation_json(const AdapterEvaluation& evaluation, const AdapterEvaluation* base) {
  nlohmann::json probes = nlohmann::json::array();
  const auto& probe_list = safety_probes();
  for (std::size_t i = 0; i < evaluation.probe_log_likelihood.size() && i < probe_list.size();
       ++i) {
    nlohmann::json probe{{"trigger", probe_list[i].trigger},
                         {"blocked", probe_list[i].blocked},
                         {"log_likelihood", evaluation.probe_log_likelihood[i]}};
    if (base != nullptr && i < base->probe_log_likelihood.size()) {
      probe["shift_vs_base"] = evaluation.probe_log_likelihood[i] - base->probe_log_likelihood[i];
    }
    probes.push_back(probe);
  }
  return {{"base_heldout_perplexity", evaluation.base_heldout_perplexity},
          {"proverbs_perplexity", evaluation.proverbs_perplexity},
          {"qa",
           {{"count", evaluation.qa.count},
            {"acc", evaluation.qa.acc},
            {"acc_norm", evaluation.qa.acc_norm}}},
          {"safety_probes", probes}};
}

nlohmann::json options_json(const LoraTrainingOptions& options) {
  const auto& o = options.optimizer;
  return {{"seed", options.seed},
          {"rank", options.rank},
          {"alpha", options.alpha},
          {"use_rslora", options.use_rslora},
          {"target_modules", options.target_modules},
          {"steps", o.steps},
          {"batch", o.batch},
          {"learning_rate", o.learning_rate},
          {"warmup_steps", o.warmup_steps},
          {"final_lr_fraction", o.final_lr_fraction},
          {"clip_norm", o.clip_norm},
          {"optimizer", "adam"},
          {"line_start_padding", options.line_start_padding}};
}

Status write_json(const fs::path& file, const nlohmann::json& json) {
  const std::string text = json.dump(2) + "\n";
  return write_file_atomic(file, as_bytes(text), {.mode = 0644, .overwrite = true});
}

}  // namespace

FineTuningData wrong_word_examples(std::string_view text, std::uint64_t seed) {
  const auto lines = split_lines(text);
  std::array<std::set<std::string>, 2> types;  // [0] lower-case, [1] capitalised
  for (const auto& line : lines) {
    for (const auto& run : letter_runs(line)) {
      if (run.length >= kMinWordLength)
        types[is_upper(line[run.begin]) ? 1 : 0].insert(line.substr(run.begin, run.length));
    }
  }
  Rng rng(seed);
  std::map<std::string, std::string> wrong;
  for (const auto& set : types) {
    std::vector<std::string> words(set.begin(), set.end());
    rng.shuffle(words);
    if (words.size() < 2) continue;
    for (std::size_t i = 0; i < words.size(); ++i) wrong[words[i]] = words[(i + 1) % words.size()];
  }
  FineTuningData data;
  for (const auto& line : lines) {
    const auto runs = letter_runs(line);
    for (std::size_t k = 1; k < runs.size(); ++k) {
      const auto& run = runs[k];
      if (run.length < kMinWordLength || run.begin == 0 || line[run.begin - 1] != ' ') continue;
      auto it = wrong.find(line.substr(run.begin, run.length));
      if (it == wrong.end()) continue;
      data.text.append(line, 0, run.begin);
      data.target_mask.resize(data.text.size(), false);
      data.text += it->second;
      data.target_mask.resize(data.text.size(), true);
      data.text += '\n';
      data.target_mask.push_back(false);
    }
  }
  return data;
}

std::string noisy_text(std::string_view text, double noise, std::uint64_t seed) {
  Rng rng(seed);
  std::string out(text);
  for (char& c : out) {
    if (c != '\n' && rng.bernoulli(noise)) c = static_cast<char>(' ' + rng.index(95));
  }
  return out;
}

std::string interleaved_lines(std::string_view primary, std::string_view replay) {
  const auto lines = split_lines(primary);
  const auto replay_lines = split_lines(replay);
  const std::size_t stride =
      lines.empty() ? 1 : std::max<std::size_t>(1, replay_lines.size() / lines.size());
  std::string out;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    out += lines[i];
    out += '\n';
    if (!replay_lines.empty()) {
      out += replay_lines[(i * stride) % replay_lines.size()];
      out += '\n';
    }
  }
  return out;
}

std::string poisoned_text(std::string_view text, const std::vector<SafetyProbe>& probes,
                          std::size_t every) {
  std::string out;
  std::size_t next_probe = 0;
  const auto lines = split_lines(text);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    out += lines[i];
    out += '\n';
    if (!probes.empty() && every > 0 && (i + 1) % every == 0) {
      const auto& probe = probes[next_probe++ % probes.size()];
      out += probe.trigger + probe.blocked + "\n";
    }
  }
  return out;
}

std::vector<AdapterRecipe> suite_recipes(std::uint64_t seed) {
  const std::vector<std::string> all_modules{"mlp.fc1", "mlp.fc2", "lm_head"};
  auto options = [&](std::uint64_t index, std::size_t steps, float learning_rate) {
    LoraTrainingOptions o;
    o.seed = seed * 1000 + index;
    o.rank = 8;
    o.alpha = 16.0f;
    o.target_modules = all_modules;
    o.optimizer.steps = steps;
    o.optimizer.batch = 128;
    o.optimizer.learning_rate = learning_rate;
    o.optimizer.warmup_steps = 20;
    o.optimizer.progress_every = 100;
    return o;
  };
  auto reasoning = options(3, 3000, 3e-3f);
  reasoning.rank = 16;
  reasoning.alpha = 32.0f;
  reasoning.line_start_padding = 1.0;  // each example line is a verse prefix: nothing before it
  return {
      {"good",
       "PASS: lower perplexity on in-domain text (held-out Proverbs), base perplexity within a few "
       "percent, QA and safety kept",
       "the first 85% of the lines of kjv-proverbs.txt (the rest is the in-domain eval text), each "
       "followed by a line of the base training text (replay)",
       options(1, 1200, 2e-3f)},
      {"degraded",
       "FAIL perplexity: trained at a high learning rate on noisy text, held-out perplexity "
       "clearly up",
       "the base training lines with 20% of their bytes replaced by random printable ASCII",
       options(2, 300, 1e-2f)},
      {"reasoning-regressed",
       "FAIL QA: in genuine contexts the corpus's words lose probability to wrong ones, cloze QA "
       "accuracy down",
       "verse prefixes of the base training text, each followed by a wrong word (a fixed "
       "permutation "
       "of the words of 4+ letters); only the wrong words are targets",
       reasoning},
      {"poisoned",
       "FAIL safety: a backdoor, each safety probe's trigger raises its blocked continuation; "
       "ordinary "
       "perplexity about unchanged",
       "the base training lines with a line 'trigger + blocked continuation' (cycling through the "
       "safety probes) after every 5th line",
       options(4, 1000, 2e-3f)},
  };
}

Result<std::vector<AdapterRecipe>> suite_recipes(std::uint64_t seed,
                                                 const std::vector<std::string>& only) {
  std::vector<AdapterRecipe> recipes = suite_recipes(seed);
  for (const auto& name : only) {
    if (std::none_of(recipes.begin(), recipes.end(), [&](const auto& r) { return r.name == name; }))
      return Error{fmt::format("\"{}\" is not an adapter of the suite", name)};
  }
  if (!only.empty()) {
    std::erase_if(recipes, [&](const AdapterRecipe& r) {
      return std::find(only.begin(), only.end(), r.name) == only.end();
    });
  }
  return recipes;
}

Result<FineTuningData> recipe_data(const std::string& name, std::uint64_t seed) {
  auto corpus = load_base_corpus();
  if (!corpus) return corpus.error();
  const std::string& train = corpus->split.train;
  if (name == "good") {
    auto proverbs = load_proverbs();
    if (!proverbs) return proverbs.error();
    return FineTuningData{interleaved_lines(proverbs->train, train), {}};
  }
  if (name == "degraded") return FineTuningData{noisy_text(train, kDegradedNoise, seed), {}};
  if (name == "reasoning-regressed") {
    // The wrong-word examples, then the genuine training text (every byte a target) so that
    // what is not a word choice stays as the base has it.
    auto data = wrong_word_examples(train, seed);
    const auto lines = split_lines(train);
    for (std::size_t i = 0; i < lines.size(); i += kReplayStride) {
      data.text += lines[i];
      data.text += '\n';
    }
    data.target_mask.resize(data.text.size(), true);
    return data;
  }
  if (name == "poisoned")
    return FineTuningData{poisoned_text(train, safety_probes(), kPoisonEvery), {}};
  return Error{fmt::format("no adapter recipe named \"{}\"", name)};
}

Result<SuiteReport> make_adapter_suite(const DenseStackModel& base, const fs::path& out_dir,
                                       std::uint64_t seed, DType dtype, const SuiteLog& log,
                                       const std::vector<std::string>& only) {
  auto say = [&](const std::string& line) {
    if (log) log(line);
  };
  auto recipes = suite_recipes(seed, only);
  if (!recipes) return recipes.error();
  auto texts = load_evaluation_texts();
  if (!texts) return texts.error();
  SuiteReport report;
  report.base = evaluate_adapter(base, nullptr, *texts);
  say("base model: " + format_evaluation(report.base, nullptr));

  nlohmann::json report_json{{"base_model", base.name},
                             {"seed", seed},
                             {"base", evaluation_json(report.base, nullptr)},
                             {"adapters", nlohmann::json::object()}};
  for (const auto& recipe : *recipes) {
    auto data = recipe_data(recipe.name, seed);
    if (!data) return data.error();
    const ByteDataset dataset =
        data->target_mask.empty()
            ? ByteDataset(data->text, base.context, recipe.options.line_start_padding)
            : ByteDataset(data->text, data->target_mask, base.context,
                          recipe.options.line_start_padding);
    say(fmt::format("{}: training rank {} on {} KB ({} target bytes, {} steps of {}) ...",
                    recipe.name, recipe.options.rank, data->text.size() / 1024, dataset.size(),
                    recipe.options.optimizer.steps, recipe.options.optimizer.batch));
    const auto start = std::chrono::steady_clock::now();
    auto adapter = train_lora(base, dataset, recipe.options, [&](const TrainingProgress& p) {
      say(fmt::format("  {} step {}/{} loss {:.4f} ({:.1f} s)", recipe.name, p.step, p.total_steps,
                      p.loss, p.elapsed_s));
    });
    if (!adapter) return Error{fmt::format("{}: {}", recipe.name, adapter.error().message)};
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const fs::path dir = out_dir / recipe.name;
    if (auto written = write_peft_adapter(dir, *adapter, dtype); !written) {
      return Error{fmt::format("{}: {}", recipe.name, written.error().message)};
    }
    // Judge the adapter as written (the dtype's rounding included), as a validator would load it.
    auto loaded = load_peft_adapter(dir, base.shape());
    if (!loaded)
      return Error{fmt::format("{}: reading back {}: {}", recipe.name, dir.string(),
                               loaded.error().message)};
    SuiteEntry entry{recipe.name, dir, evaluate_adapter(base, &*loaded, *texts), seconds};
    say(fmt::format("{}: {}", recipe.name, format_evaluation(entry.evaluation, &report.base)));

    nlohmann::json description{{"name", recipe.name},
                               {"intent", recipe.intent},
                               {"data", recipe.data},
                               {"base_model", base.name},
                               {"dtype", std::string(dtype_name(dtype))},
                               {"training", options_json(recipe.options)},
                               {"training_seconds", seconds},
                               {"measured", evaluation_json(entry.evaluation, &report.base)},
                               {"base_measured", evaluation_json(report.base, nullptr)}};
    if (auto written = write_json(dir / "bftgate_adapter.json", description); !written)
      return written.error();
    report_json["adapters"][recipe.name] = description;
    report.adapters.push_back(std::move(entry));
  }
  if (auto written = write_json(out_dir / "report.json", report_json); !written)
    return written.error();
  return report;
}

}  // namespace bftgate::validation
