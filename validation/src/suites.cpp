#include "bftgate/validation/suites.hpp"

#include <fmt/format.h>

#include <cmath>
#include <set>

#include "bftgate/base/json_reader.hpp"
#include "bftgate/base/strict_json.hpp"
#include "bftgate/io/file_io.hpp"
#include "bftgate/validation/corpus.hpp"
#include "bftgate/validation/external_command.hpp"
#include "bftgate/validation/model.hpp"
#include "bftgate/validation/training.hpp"

namespace bftgate::validation {

using json = nlohmann::json;

namespace {

constexpr std::size_t kMaxSuitesConfigSize = 1 << 20;
constexpr std::size_t kMaxQuestionsSize = 64u << 20;

// Strict reading of one JSON object: every key must be known, every value of the right type.
std::filesystem::path resolve(const std::string& path, const std::filesystem::path& base_dir) {
  std::filesystem::path p(path);
  return p.is_relative() ? base_dir / p : p;
}

Result<std::vector<QaItem>> load_questions(const std::filesystem::path& file) {
  auto text = read_small_file(file, kMaxQuestionsSize);
  if (!text) return text.error();
  auto j = parse_json(
      *text, JsonLimits{.max_bytes = kMaxQuestionsSize, .max_depth = 8, .max_values = 1 << 20});
  if (!j) return Error{fmt::format("{}: {}", file.string(), j.error().message)};
  if (!j->is_array())
    return Error{fmt::format("{}: expected an array of questions", file.string())};
  std::vector<QaItem> items;
  for (std::size_t i = 0; i < j->size(); ++i) {
    JsonObjectReader q((*j)[i], fmt::format("{}[{}]", file.string(), i),
                       {"context", "choices", "answer"});
    QaItem item;
    item.context = q.string("context");
    for (const auto& c : q.array("choices")) {
      if (!c.is_string() || c.get<std::string>().empty()) {
        q.fail("choices", "must be non-empty strings");
        break;
      }
      item.choices.push_back(c.get<std::string>());
    }
    item.answer = static_cast<std::size_t>(q.unsigned_int("answer"));
    if (q.ok() && (item.choices.size() < 2 || item.answer >= item.choices.size()))
      q.fail_object("needs at least two choices and an answer index among them");
    if (!q.ok()) return q.status().error();
    items.push_back(std::move(item));
  }
  if (items.empty()) return Error{fmt::format("{}: no questions", file.string())};
  return items;
}

json qa_json(const QaScore& score) {
  return {{"count", score.count}, {"acc", score.acc}, {"acc_norm", score.acc_norm}};
}

json rolling_json(const RollingMetrics& m) {
  return {{"word_perplexity", m.word_perplexity},
          {"byte_perplexity", m.byte_perplexity},
          {"bits_per_byte", m.bits_per_byte},
          {"words", m.words},
          {"bytes", m.bytes}};
}

}  // namespace

RollingMetrics rolling_metrics(const DenseStackModel& model, const LoraAdapter* adapter,
                               std::string_view text) {
  RollingMetrics m;
  m.log_likelihood = rolling_log_likelihood(model, adapter, text);
  m.bytes = text.size();
  bool in_word = false;
  for (char c : text) {
    bool space = std::isspace(static_cast<unsigned char>(c)) != 0;
    if (!space && !in_word) ++m.words;
    in_word = !space;
  }
  auto per = [&m](std::size_t units) {
    return units == 0 ? 0.0 : std::exp(-m.log_likelihood / static_cast<double>(units));
  };
  m.word_perplexity = per(m.words);
  m.byte_perplexity = per(m.bytes);
  m.bits_per_byte =
      m.bytes == 0 ? 0.0 : -m.log_likelihood / (static_cast<double>(m.bytes) * std::log(2.0));
  return m;
}

SuiteConfig SuiteConfig::defaults() {
  SuiteConfig config;
  config.perplexity = PerplexitySuiteConfig{};
  config.qa = QaSuiteConfig{};
  config.safety = SafetySuiteConfig{};
  return config;
}

Result<SuiteConfig> SuiteConfig::from_json(const json& j, const std::filesystem::path& base_dir) {
  SuiteConfig config;
  JsonObjectReader top(j, "suites",
                       {"model", "max_rank", "perplexity", "qa", "safety", "external"});
  if (top.has("model")) config.model = resolve(top.string("model"), base_dir);
  if (top.has("max_rank")) {
    auto rank = top.unsigned_int("max_rank", 4096);
    if (top.ok() && rank < 1) top.fail("max_rank", "must be in [1, 4096]");
    config.limits.max_rank = static_cast<int>(rank);
  }
  if (const auto* p = top.optional_object("perplexity")) {
    JsonObjectReader r(*p, "suites.perplexity", {"text", "max_ratio"});
    PerplexitySuiteConfig c;
    if (r.has("text")) c.text = resolve(r.string("text"), base_dir);
    c.max_ratio = r.non_negative_or("max_ratio", c.max_ratio);
    if (!r.ok()) return r.status().error();
    config.perplexity = c;
  }
  if (const auto* q = top.optional_object("qa")) {
    JsonObjectReader r(*q, "suites.qa", {"questions", "max_drop"});
    QaSuiteConfig c;
    if (r.has("questions")) c.questions = resolve(r.string("questions"), base_dir);
    c.max_drop = r.non_negative_or("max_drop", c.max_drop);
    if (!r.ok()) return r.status().error();
    config.qa = c;
  }
  if (const auto* s = top.optional_object("safety")) {
    JsonObjectReader r(*s, "suites.safety", {"margin_nats"});
    SafetySuiteConfig c;
    c.margin_nats = r.non_negative_or("margin_nats", c.margin_nats);
    if (!r.ok()) return r.status().error();
    config.safety = c;
  }
  if (const auto* e = top.optional_object("external")) {
    JsonObjectReader r(*e, "suites.external", {"command", "timeout_s"});
    ExternalSuiteConfig c;
    c.command = r.string("command");
    if (r.ok() && c.command.empty()) r.fail("command", "required, a non-empty string");
    if (r.has("timeout_s")) {
      auto t = r.number("timeout_s");
      if (r.ok() && (t <= 0 || t > 86'400)) r.fail("timeout_s", "must be in (0, 86400]");
      c.timeout = std::chrono::milliseconds(static_cast<std::int64_t>(t * 1000));
    }
    if (!r.ok()) return r.status().error();
    config.external = c;
  }
  if (!top.ok()) return top.status().error();
  if (!config.perplexity && !config.qa && !config.safety && !config.external) {
    return Error{"suites: no suite is configured (perplexity, qa, safety, external)"};
  }
  return config;
}

Result<SuiteConfig> SuiteConfig::load(const std::filesystem::path& file) {
  auto text = read_small_file(file, kMaxSuitesConfigSize);
  if (!text) return text.error();
  auto j = parse_json(*text, JsonLimits{.max_bytes = kMaxSuitesConfigSize});
  if (!j) return Error{fmt::format("{}: not JSON: {}", file.string(), j.error().message)};
  auto config = from_json(*j, file.parent_path());
  if (!config) return Error{fmt::format("{}: {}", file.string(), config.error().message)};
  return config;
}

json SuiteConfig::to_json() const {
  json j = {{"model", model.string()}, {"max_rank", limits.max_rank}};
  j["perplexity"] =
      perplexity ? json{{"text", perplexity->text.string()}, {"max_ratio", perplexity->max_ratio}}
                 : json(nullptr);
  j["qa"] =
      qa ? json{{"questions", qa->questions.string()}, {"max_drop", qa->max_drop}} : json(nullptr);
  j["safety"] = safety ? json{{"margin_nats", safety->margin_nats}} : json(nullptr);
  j["external"] = external
                      ? json{{"command", external->command},
                             {"timeout_s", static_cast<double>(external->timeout.count()) / 1000.0}}
                      : json(nullptr);
  return j;
}

json ValidationReport::to_json() const {
  json metrics = json::object();
  for (const auto& s : suites) {
    auto m = s.metrics;
    m["pass"] = s.pass;
    m["reason"] = s.reason;
    metrics[s.suite] = m;
  }
  return {{"pass", pass}, {"reason", reason}, {"metrics", metrics}};
}

Result<SuiteRunner> SuiteRunner::create(const SuiteConfig& config) {
  SuiteRunner runner;
  runner.config_ = config;
  if (config.model.empty()) {
    auto model = load_or_train_default_model(default_cache_dir());
    if (!model) return model.error();
    runner.model_ = std::move(model.value());
  } else {
    auto lm = load_tiny_lm(config.model);
    if (!lm)
      return Error{fmt::format("base model {}: {}", config.model.string(), lm.error().message)};
    runner.model_ = std::move(lm->model);
  }
  runner.base_metrics_ = json::object();
  if (config.perplexity) {
    if (config.perplexity->text.empty()) {
      auto corpus = load_base_corpus();
      if (!corpus) return corpus.error();
      runner.perplexity_text_ = corpus->split.heldout;
    } else {
      auto text = read_small_file(config.perplexity->text, 64u << 20);
      if (!text) return text.error();
      runner.perplexity_text_ = std::move(text.value());
    }
    if (runner.perplexity_text_.empty()) return Error{"the perplexity suite's text is empty"};
    auto base = rolling_metrics(runner.model_, nullptr, runner.perplexity_text_);
    runner.base_word_perplexity_ = base.word_perplexity;
    runner.base_byte_perplexity_ = base.byte_perplexity;
    runner.base_metrics_["perplexity"] = rolling_json(base);
  }
  if (config.qa) {
    if (config.qa->questions.empty()) {
      auto corpus = load_base_corpus();
      if (!corpus) return corpus.error();
      runner.questions_ =
          build_cloze_questions(corpus->split.heldout, kDefaultQaCount, kDefaultQaSeed);
    } else {
      auto questions = load_questions(config.qa->questions);
      if (!questions) return questions.error();
      runner.questions_ = std::move(questions.value());
    }
    if (runner.questions_.empty()) return Error{"the QA suite has no questions"};
    runner.base_qa_ = score_cloze(runner.model_, nullptr, runner.questions_);
    runner.base_metrics_["qa"] = qa_json(runner.base_qa_);
  }
  if (config.safety) {
    json probes = json::array();
    for (const auto& probe : safety_probes()) {
      runner.base_probe_ll_.push_back(
          log_likelihood(runner.model_, nullptr, probe.trigger, probe.blocked));
      probes.push_back(
          {{"trigger", probe.trigger}, {"log_likelihood", runner.base_probe_ll_.back()}});
    }
    runner.base_metrics_["safety"] = {{"probes", probes}};
  }
  return runner;
}

SuiteResult SuiteRunner::run_perplexity(const LoraAdapter& adapter) const {
  SuiteResult result{"perplexity", false, {}, {}};
  auto m = rolling_metrics(model_, &adapter, perplexity_text_);
  double ratio = m.byte_perplexity / base_byte_perplexity_;
  result.metrics = rolling_json(m);
  result.metrics["base_word_perplexity"] = base_word_perplexity_;
  result.metrics["base_byte_perplexity"] = base_byte_perplexity_;
  result.metrics["ratio"] = ratio;
  result.metrics["max_ratio"] = config_.perplexity->max_ratio;
  result.pass = std::isfinite(ratio) && ratio <= config_.perplexity->max_ratio;
  result.reason =
      fmt::format("byte perplexity {:.4f} is {:.4f}x the base's {:.4f} (at most {:.3f}x allowed)",
                  m.byte_perplexity, ratio, base_byte_perplexity_, config_.perplexity->max_ratio);
  return result;
}

SuiteResult SuiteRunner::run_qa(const LoraAdapter& adapter) const {
  SuiteResult result{"qa", false, {}, {}};
  auto score = score_cloze(model_, &adapter, questions_);
  result.metrics = qa_json(score);
  result.metrics["base_acc"] = base_qa_.acc;
  result.metrics["base_acc_norm"] = base_qa_.acc_norm;
  result.metrics["max_drop"] = config_.qa->max_drop;
  double floor = base_qa_.acc - config_.qa->max_drop;
  result.pass = score.acc >= floor - 1e-12;
  result.reason =
      fmt::format("accuracy {:.3f} on {} questions vs the base's {:.3f} (at least {:.3f} required)",
                  score.acc, score.count, base_qa_.acc, floor);
  return result;
}

SuiteResult SuiteRunner::run_safety(const LoraAdapter& adapter) const {
  SuiteResult result{"safety", true, {}, {}};
  json probes = json::array();
  double worst_rise = -INFINITY;
  std::string worst_trigger;
  for (std::size_t i = 0; i < safety_probes().size(); ++i) {
    const auto& probe = safety_probes()[i];
    double ll = log_likelihood(model_, &adapter, probe.trigger, probe.blocked);
    double rise = ll - base_probe_ll_[i];
    probes.push_back({{"trigger", probe.trigger},
                      {"log_likelihood", ll},
                      {"base_log_likelihood", base_probe_ll_[i]},
                      {"rise_nats", rise}});
    if (rise > worst_rise) {
      worst_rise = rise;
      worst_trigger = probe.trigger;
    }
    if (!(rise <= config_.safety->margin_nats)) result.pass = false;
  }
  result.metrics = {{"probes", probes},
                    {"max_rise_nats", worst_rise},
                    {"margin_nats", config_.safety->margin_nats}};
  result.reason = fmt::format(
      "largest rise of a blocked continuation's log-likelihood: {:+.2f} nats (after '{}'; "
      "at most {:.2f} allowed)",
      worst_rise, worst_trigger, config_.safety->margin_nats);
  return result;
}

SuiteResult SuiteRunner::run_external(const std::filesystem::path& adapter,
                                      const std::atomic<bool>* cancel) const {
  SuiteResult result{"external", false, {}, {}};
  std::filesystem::path dir = adapter;
  std::filesystem::path unpacked;
  if (!std::filesystem::is_directory(adapter)) {
    unpacked = std::filesystem::temp_directory_path() /
               fmt::format("bftgate-adapter-{}-{}", ::getpid(),
                           std::hash<std::string>{}(adapter.string()));
    if (auto s = unpack_adapter(adapter, unpacked); !s) {
      result.reason = s.error().message;
      return result;
    }
    dir = unpacked;
  }
  auto command = fill_placeholders(config_.external->command,
                                   {{"adapter_dir", shell_quote(dir.string())},
                                    {"base_model", shell_quote(config_.model.string())}});
  auto verdict = run_verdict_command(command, config_.external->timeout, cancel);
  if (!unpacked.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(unpacked, ec);
  }
  result.pass = verdict.pass;
  result.reason = verdict.reason;
  result.metrics = verdict.metrics;
  return result;
}

ValidationReport SuiteRunner::validate(const std::filesystem::path& adapter_path,
                                       const std::atomic<bool>* cancel) const {
  auto started = std::chrono::steady_clock::now();
  ValidationReport report;
  auto finish = [&report, started](bool pass, std::string reason) {
    report.pass = pass;
    report.reason = std::move(reason);
    report.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return report;
  };
  auto adapter = load_peft_adapter(adapter_path, model_.shape(), config_.limits);
  if (!adapter) {
    report.suites.push_back({"format", false, adapter.error().message, json::object()});
    return finish(false, fmt::format("adapter refused: {}", adapter.error().message));
  }
  report.suites.push_back({"format",
                           true,
                           "a well-formed LoRA adapter of the base model",
                           {{"rank", adapter->config.rank},
                            {"alpha", adapter->config.alpha},
                            {"use_rslora", adapter->config.use_rslora},
                            {"parameters", adapter->parameter_count()}}});
  auto cancelled = [cancel] { return cancel != nullptr && cancel->load(); };
  if (config_.perplexity && !cancelled()) report.suites.push_back(run_perplexity(*adapter));
  if (config_.qa && !cancelled()) report.suites.push_back(run_qa(*adapter));
  if (config_.safety && !cancelled()) report.suites.push_back(run_safety(*adapter));
  if (config_.external && !cancelled()) report.suites.push_back(run_external(adapter_path, cancel));
  if (cancelled()) return finish(false, "cancelled");
  for (const auto& s : report.suites) {
    if (!s.pass) return finish(false, fmt::format("{} suite failed: {}", s.suite, s.reason));
  }
  return finish(true, "every suite passed");
}

Status unpack_adapter(const std::filesystem::path& packed_file, const std::filesystem::path& dir) {
  auto file = read_safetensors_file(packed_file, 4ull << 30);
  if (!file) return Error{fmt::format("{}: {}", packed_file.string(), file.error().message)};
  auto config = file->metadata.find(kPackedConfigKey);
  if (config == file->metadata.end()) {
    return Error{fmt::format("{}: not a packed adapter (no {} in its metadata)",
                             packed_file.string(), kPackedConfigKey)};
  }
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Error{fmt::format("cannot create {}: {}", dir.string(), ec.message())};
  auto bytes = read_small_file(packed_file, 4ull << 30);
  if (!bytes) return bytes.error();
  if (auto s = write_file_atomic(dir / "adapter_model.safetensors", as_bytes(*bytes)); !s) return s;
  return write_file_atomic(dir / "adapter_config.json", as_bytes(config->second));
}

}  // namespace bftgate::validation
