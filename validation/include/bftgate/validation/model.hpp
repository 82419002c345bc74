// The tiny byte-level language model trained in this repository (a Bengio-style MLP LM in the
// DenseStackModel form): its architecture, initialisation, file format, and the scoring API the
// validation suites use.
//
// File: model.safetensors with tensors `embedding` [256, E], `<module>.weight` [out, in] and
// `<module>.bias` [out] (F32), and __metadata__ with "format", "name", "architecture" (JSON),
// "seed", "corpus_sha256", "training_steps", "heldout_perplexity". Loading checks every shape
// against the architecture and refuses anything else, with the reason.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "bftgate/base/result.hpp"
#include "bftgate/validation/dense_stack.hpp"
#include "bftgate/validation/lora.hpp"
#include "bftgate/validation/safetensors.hpp"

namespace bftgate::validation {

inline constexpr const char* kTinyLmName = "bftgate-tiny-lm";
inline constexpr const char* kTinyLmFormat = "bftgate-tiny-lm/1";
inline constexpr const char* kModelFileName = "model.safetensors";
inline constexpr int kMaxContext = 4096;
inline constexpr int kMaxWidth = 1 << 16;

// Hidden layers are "mlp.fc1", "mlp.fc2", ... (tanh); the output layer is "lm_head" (256 logits).
struct TinyLmArchitecture {
  int context = 16;
  int embed_dim = 16;
  std::vector<int> hidden = {256, 256};
};

std::string hidden_module_name(std::size_t index);  // "mlp.fc<index + 1>"
inline constexpr const char* kOutputModule = "lm_head";

// Random initial weights: embedding N(0, 1); tanh layers uniform +-sqrt(6 / (in + out)); the
// output layer a tenth of that, so training starts near the uniform distribution. Biases zero.
DenseStackModel init_tiny_lm(const TinyLmArchitecture& architecture, std::uint64_t seed,
                             std::string name = kTinyLmName);

// Structural validity: vocab 256, embedding [256, E], context in [1, kMaxContext], a chain of
// layers whose first input is context x E and last output 256, bias sizes, unique module names,
// finite values.
Status check_model(const DenseStackModel& model);

struct TinyLmInfo {
  std::uint64_t seed = 0;
  std::string corpus_sha256;
  std::uint64_t training_steps = 0;
  double heldout_perplexity = 0.0;
};

struct TinyLm {
  DenseStackModel model;
  TinyLmInfo info;
};

std::string architecture_json(const DenseStackModel& model);
std::map<std::string, std::string> model_metadata(const TinyLm& lm);
std::vector<TensorToWrite> model_tensors(const DenseStackModel& model);
Status save_tiny_lm(const std::filesystem::path& file, const TinyLm& lm);
// The model a parsed safetensors file describes, or why it does not describe one.
Result<TinyLm> tiny_lm_from_safetensors(const SafetensorsFile& file);
Result<TinyLm> load_tiny_lm(const std::filesystem::path& file);

// ---- Scoring (natural log; windows before the start of the text are byte 0) ----

// Sum of log p(byte) over `continuation` given `context` (natural log), windows padded at the
// start with byte 0.
double log_likelihood(const DenseStackModel& m, const LoraAdapter* adapter,
                      std::string_view context, std::string_view continuation);
// lm-evaluation-harness loglikelihood_rolling: the log-likelihood of the whole text, each byte
// predicted from the C bytes before it (padding at the start).
double rolling_log_likelihood(const DenseStackModel& m, const LoraAdapter* adapter,
                              std::string_view text);
// log p of every byte of `continuation` (the terms log_likelihood sums).
std::vector<double> byte_log_probs(const DenseStackModel& m, const LoraAdapter* adapter,
                                   std::string_view context, std::string_view continuation);

// Perplexity per byte of a text under the model (rolling).
double text_perplexity(const DenseStackModel& m, const LoraAdapter* adapter, std::string_view text);

}  // namespace bftgate::validation
