#include "bftgate/validation/corpus.hpp"

#include <fmt/format.h>

#include <cmath>
#include <cstdlib>
#include <system_error>

#include "bftgate/crypto/sha256.hpp"
#include "bftgate/io/file_io.hpp"

namespace bftgate::validation {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t kMaxCorpusFile = 64u << 20;

bool has_corpus(const fs::path& dir) {
  std::error_code ec;
  return fs::is_regular_file(dir / kBaseCorpusFile, ec);
}

// Walks up from `start` looking for validation/data.
std::optional<fs::path> search_upward(fs::path start) {
  std::error_code ec;
  start = fs::weakly_canonical(start, ec);
  if (ec) return std::nullopt;
  for (fs::path dir = start; !dir.empty(); dir = dir.parent_path()) {
    if (has_corpus(dir / "validation" / "data")) return dir / "validation" / "data";
    if (dir == dir.parent_path()) break;
  }
  return std::nullopt;
}

}  // namespace

Result<fs::path> find_data_dir() {
  if (const char* env = std::getenv("BFTGATE_DATA_DIR"); env != nullptr && *env != '\0') {
    if (!has_corpus(env)) {
      return Error{fmt::format("BFTGATE_DATA_DIR={} does not contain {}", env, kBaseCorpusFile)};
    }
    return fs::path(env);
  }
  // This file is compiled from <source>/validation/src, so its data sits beside it.
  const fs::path source_data = fs::path(__FILE__).parent_path().parent_path() / "data";
  if (has_corpus(source_data)) return source_data;
  std::error_code ec;
  if (auto found = search_upward(fs::current_path(ec))) return *found;
  if (auto exe = fs::read_symlink("/proc/self/exe", ec); !ec) {
    if (auto found = search_upward(exe.parent_path())) return *found;
  }
  return Error{fmt::format(
      "cannot find the bundled corpus ({}): set BFTGATE_DATA_DIR to the validation/data directory",
      kBaseCorpusFile)};
}

Result<std::string> read_data_file(const std::string& name) {
  auto dir = find_data_dir();
  if (!dir) return dir.error();
  return read_small_file(*dir / name, kMaxCorpusFile);
}

std::vector<std::string> split_lines(std::string_view text) {
  std::vector<std::string> lines;
  std::size_t begin = 0;
  while (begin < text.size()) {
    auto end = text.find('\n', begin);
    if (end == std::string_view::npos) end = text.size();
    lines.emplace_back(text.substr(begin, end - begin));
    begin = end + 1;
  }
  return lines;
}

TextSplit split_tail_lines(std::string_view text, double heldout_fraction) {
  const auto lines = split_lines(text);
  const auto heldout_lines =
      static_cast<std::size_t>(std::ceil(heldout_fraction * static_cast<double>(lines.size())));
  const std::size_t first_heldout = lines.size() - std::min(heldout_lines, lines.size());
  TextSplit split;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    auto& target = i < first_heldout ? split.train : split.heldout;
    target += lines[i];
    target += '\n';
  }
  return split;
}

Result<BaseCorpus> load_base_corpus() {
  auto text = read_data_file(kBaseCorpusFile);
  if (!text) return text.error();
  BaseCorpus corpus;
  corpus.sha256_hex = crypto::sha256(as_bytes(*text)).hex();
  corpus.split = split_tail_lines(*text, kBaseHeldoutFraction);
  return corpus;
}

Result<TextSplit> load_proverbs() {
  auto text = read_data_file(kProverbsCorpusFile);
  if (!text) return text.error();
  return split_tail_lines(*text, kProverbsEvalFraction);
}

UnigramModel::UnigramModel(std::string_view training_text) {
  std::array<double, 256> counts{};
  counts.fill(1.0);
  for (char c : training_text) counts[static_cast<std::uint8_t>(c)] += 1.0;
  const double total = static_cast<double>(training_text.size()) + 256.0;
  for (std::size_t i = 0; i < counts.size(); ++i) log_prob_[i] = std::log(counts[i] / total);
}

double UnigramModel::log_likelihood(std::string_view text) const {
  double total = 0.0;
  for (char c : text) total += log_prob_[static_cast<std::uint8_t>(c)];
  return total;
}

double perplexity(double log_likelihood, std::size_t bytes) {
  return bytes == 0 ? 1.0 : std::exp(-log_likelihood / static_cast<double>(bytes));
}

double bits_per_byte(double log_likelihood, std::size_t bytes) {
  return bytes == 0 ? 0.0 : -log_likelihood / static_cast<double>(bytes) / std::log(2.0);
}

}  // namespace bftgate::validation
