// The bundled public-domain corpus (validation/data, see its README): locating it, the held-out
// splits, and the unigram byte model every perplexity is compared with.
#pragma once

#include <array>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "bftgate/base/result.hpp"

namespace bftgate::validation {

inline constexpr const char* kBaseCorpusFile = "kjv-base.txt";          // Genesis + Exodus
inline constexpr const char* kProverbsCorpusFile = "kjv-proverbs.txt";  // Proverbs
inline constexpr double kBaseHeldoutFraction = 0.10;
inline constexpr double kProverbsEvalFraction = 0.15;

// The data directory: $BFTGATE_DATA_DIR if set, else validation/data of the source tree this
// library was built from, else the first validation/data found upward from the current
// directory or the executable.
Result<std::filesystem::path> find_data_dir();
Result<std::string> read_data_file(const std::string& name);

// Lines of a text without their '\n' (a last line without '\n' counts too).
std::vector<std::string> split_lines(std::string_view text);

struct TextSplit {
  std::string train;    // leading lines, each ending in '\n'
  std::string heldout;  // the last ceil(fraction x lines) lines, each ending in '\n'
};
TextSplit split_tail_lines(std::string_view text, double heldout_fraction);

struct BaseCorpus {
  std::string sha256_hex;  // of the whole file: recorded in the model, checked by the cache
  TextSplit split;
};
Result<BaseCorpus> load_base_corpus();
// Proverbs: the head is fine-tuning text, the tail (kProverbsEvalFraction) in-domain eval text.
Result<TextSplit> load_proverbs();

// Byte frequencies of a training text with add-one smoothing: the baseline a language model has
// to beat.
class UnigramModel {
 public:
  explicit UnigramModel(std::string_view training_text);
  double log_prob(std::uint8_t byte) const { return log_prob_[byte]; }
  double log_likelihood(std::string_view text) const;

 private:
  std::array<double, 256> log_prob_{};
};

// exp(-log_likelihood / bytes) and the same in bits per byte.
double perplexity(double log_likelihood, std::size_t bytes);
double bits_per_byte(double log_likelihood, std::size_t bytes);

}  // namespace bftgate::validation
