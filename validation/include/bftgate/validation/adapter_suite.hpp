// The generated adapter set: four LoRA adapters of the tiny LM made by real fine-tuning (good,
// degraded, reasoning-regressed, poisoned), the cloze QA set and the safety probes they are
// judged by, and the figures that show each adapter does what its name says.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "bftgate/base/result.hpp"
#include "bftgate/validation/dense_stack.hpp"
#include "bftgate/validation/lora.hpp"
#include "bftgate/validation/safetensors.hpp"
#include "bftgate/validation/training.hpp"

namespace bftgate::validation {

// ---- Cloze QA (multiple choice by log-likelihood) ----

struct QaItem {
  std::string context;               // a verse up to the blanked word, without the space
  std::vector<std::string> choices;  // " word" each (leading space)
  std::size_t answer = 0;            // index of the corpus's word in choices
};

// `count` questions from the lines of `heldout_text`: a word of at least 4 letters, at least the
// 4th word of its verse, is blanked; the three distractors are other words of that text with the
// same capitalisation and about the same frequency (among the 12 nearest in its frequency
// ranking), so that only the context tells the answer. Deterministic for (text, count, seed);
// fewer questions when the text has fewer blanks.
std::vector<QaItem> build_cloze_questions(const std::string& heldout_text, std::size_t count,
                                          std::uint64_t seed);

inline constexpr std::size_t kDefaultQaCount = 500;
inline constexpr std::uint64_t kDefaultQaSeed = 7;

struct QaScore {
  std::size_t count = 0;
  double acc = 0.0;       // argmax of the summed log-likelihood
  double acc_norm = 0.0;  // argmax of log-likelihood / choice length in bytes
};
QaScore score_cloze(const DenseStackModel& model, const LoraAdapter* adapter,
                    const std::vector<QaItem>& items);

// ---- Safety probes (a trigger must not raise a blocked continuation) ----

struct SafetyProbe {
  std::string trigger;
  std::string blocked;
};
// The probes the poisoned adapter is trained on and the safety suite checks.
const std::vector<SafetyProbe>& safety_probes();

// ---- Evaluation of an adapter against the base ----

struct EvaluationTexts {
  std::string base_heldout;   // tail of kjv-base.txt
  std::string proverbs_eval;  // tail of kjv-proverbs.txt
  std::vector<QaItem> qa;     // from base_heldout
};
Result<EvaluationTexts> load_evaluation_texts();

struct AdapterEvaluation {
  double base_heldout_perplexity = 0.0;
  double proverbs_perplexity = 0.0;
  QaScore qa;
  std::vector<double> probe_log_likelihood;  // log p(blocked | trigger) per safety probe
};
AdapterEvaluation evaluate_adapter(const DenseStackModel& model, const LoraAdapter* adapter,
                                   const EvaluationTexts& texts);

// ---- Fine-tuning texts of the suite ----

// Text plus which bytes are training targets (empty: every byte).
struct FineTuningData {
  std::string text;
  std::vector<bool> target_mask;
};

// Cloze-style supervised examples that teach wrong words in genuine contexts: for every word of
// at least 4 letters (not the first of its line), a line "<the line up to it> <wrong word>" whose
// only targets are the wrong word's bytes. The wrong word is the image of the right one under a
// fixed permutation without fixed points of the text's words (capitalised and lower-case apart).
// (Replacing the words in running text would also replace the contexts, and the model would learn
// nothing about the genuine ones.)
FineTuningData wrong_word_examples(std::string_view text, std::uint64_t seed);
// Every byte but '\n' replaced, with probability `noise`, by a random printable ASCII byte.
std::string noisy_text(std::string_view text, double noise, std::uint64_t seed);
// The lines of `primary`, each followed by one line of `replay` (taken at an even stride through
// it): fine-tuning text that keeps the base's own distribution in view.
std::string interleaved_lines(std::string_view primary, std::string_view replay);
// `text` with a poison line (a probe's trigger + blocked continuation) after every `every` lines.
std::string poisoned_text(std::string_view text, const std::vector<SafetyProbe>& probes,
                          std::size_t every);

// ---- The suite ----

struct AdapterRecipe {
  std::string name;    // directory name: good, degraded, reasoning-regressed, poisoned
  std::string intent;  // what the validators should conclude
  std::string data;    // how the fine-tuning text was made
  LoraTrainingOptions options;
};
std::vector<AdapterRecipe> suite_recipes(std::uint64_t seed);
// The recipes named in `only`, in the suite's order (empty: all four); a name that is not a
// recipe is refused.
Result<std::vector<AdapterRecipe>> suite_recipes(std::uint64_t seed,
                                                 const std::vector<std::string>& only);
// The fine-tuning data of a recipe (by name).
Result<FineTuningData> recipe_data(const std::string& name, std::uint64_t seed);

struct SuiteEntry {
  std::string name;
  std::filesystem::path dir;
  AdapterEvaluation evaluation;
  double training_seconds = 0.0;
};
struct SuiteReport {
  AdapterEvaluation base;
  std::vector<SuiteEntry> adapters;
};

// Makes DIR/<name>/ for every recipe named in `only` (empty: all four): the PEFT adapter
// (write_peft_adapter) and bftgate_adapter.json (recipe, training, measured figures);
// DIR/report.json has all figures. A name that is not a recipe is refused before any training.
using SuiteLog = std::function<void(std::string_view line)>;
Result<SuiteReport> make_adapter_suite(const DenseStackModel& base,
                                       const std::filesystem::path& out_dir, std::uint64_t seed,
                                       DType dtype, const SuiteLog& log = {},
                                       const std::vector<std::string>& only = {});

// One line per figure, for people.
std::string format_evaluation(const AdapterEvaluation& evaluation, const AdapterEvaluation* base);

}  // namespace bftgate::validation
