#include "bftgate/runtime/validator/adapter_validation.hpp"

#include <fmt/format.h>

#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "bftgate/base/strict_json.hpp"
#include "bftgate/crypto/sha256.hpp"
#include "bftgate/io/file_digest.hpp"
#include "bftgate/validation/external_command.hpp"
#include "bftgate/validation/suites.hpp"

namespace bftgate::runtime {

std::string_view to_string(Judgement judgement) {
  switch (judgement) {
    case Judgement::kPass:
      return "PASS";
    case Judgement::kFail:
      return "FAIL";
    case Judgement::kCannotJudge:
      return "cannot judge";
    case Judgement::kCancelled:
      return "cancelled";
  }
  return "?";
}

namespace {

using json = nlohmann::json;

class CommandValidation final : public AdapterValidation {
 public:
  CommandValidation(std::string command, std::chrono::milliseconds timeout)
      : command_(std::move(command)), timeout_(timeout) {}

  AdapterVerdict judge(const std::filesystem::path& artifact,
                       const std::atomic<bool>& cancel) override {
    auto command = validation::fill_placeholders(
        command_, {{"adapter_path", validation::shell_quote(artifact.string())}});
    auto outcome = validation::run_verdict_command(command, timeout_, &cancel);
    AdapterVerdict verdict;
    verdict.judgement = outcome.cancelled     ? Judgement::kCancelled
                        : outcome.not_started ? Judgement::kCannotJudge
                        : outcome.pass        ? Judgement::kPass
                                              : Judgement::kFail;
    verdict.reason = outcome.cancelled ? "validation cancelled"
                                       : fmt::format("validation command: {}", outcome.reason);
    verdict.metrics_json = dump_json(outcome.metrics);
    return verdict;
  }

  std::string describe() const override { return fmt::format("command '{}'", command_); }

 private:
  std::string command_;
  std::chrono::milliseconds timeout_;
};

class SuiteValidation final : public AdapterValidation {
 public:
  SuiteValidation(validation::SuiteRunner runner, std::string description)
      : runner_(std::move(runner)), description_(std::move(description)) {}

  AdapterVerdict judge(const std::filesystem::path& artifact,
                       const std::atomic<bool>& cancel) override {
    auto report = runner_.validate(artifact, &cancel);
    AdapterVerdict verdict;
    verdict.judgement = cancel.load() ? Judgement::kCancelled
                        : report.pass ? Judgement::kPass
                                      : Judgement::kFail;
    verdict.reason = cancel.load() ? "validation cancelled" : report.reason;
    verdict.metrics_json = dump_json(report.to_json()["metrics"]);
    return verdict;
  }

  std::string describe() const override { return description_; }

 private:
  validation::SuiteRunner runner_;
  std::string description_;
};

class DeadlineValidation final : public AdapterValidation {
 public:
  DeadlineValidation(std::unique_ptr<AdapterValidation> inner, std::chrono::milliseconds deadline)
      : inner_(std::move(inner)), deadline_(deadline) {}

  AdapterVerdict judge(const std::filesystem::path& artifact,
                       const std::atomic<bool>& cancel) override {
    // `stop` is what `inner` sees: set by the outside cancel or by the deadline, whichever is
    // first, from a watcher that ends with the judgement.
    std::atomic<bool> stop{false};
    std::atomic<bool> overran{false};
    std::mutex mutex;
    std::condition_variable finished;
    bool done = false;
    const auto until = std::chrono::steady_clock::now() + deadline_;
    std::thread watcher([&] {
      std::unique_lock lock(mutex);
      while (!done) {
        if (cancel.load()) {
          stop = true;
          return;
        }
        if (std::chrono::steady_clock::now() >= until) {
          overran = true;
          stop = true;
          return;
        }
        finished.wait_for(lock, std::chrono::milliseconds(20));
      }
    });
    AdapterVerdict verdict;
    try {
      verdict = inner_->judge(artifact, stop);
    } catch (...) {
      {
        std::lock_guard lock(mutex);
        done = true;
      }
      finished.notify_all();
      watcher.join();
      throw;
    }
    {
      std::lock_guard lock(mutex);
      done = true;
    }
    finished.notify_all();
    watcher.join();
    if (cancel.load()) return {Judgement::kCancelled, "validation cancelled", "{}"};
    // A judgement that finished anyway stands; one the deadline stopped is no verdict.
    if (overran.load() && verdict.judgement == Judgement::kCancelled) {
      return {Judgement::kCannotJudge,
              fmt::format("the judgement did not finish within {} s on this host (no verdict: "
                          "tried again)",
                          std::chrono::duration<double>(deadline_).count()),
              "{}"};
    }
    return verdict;
  }

  std::string describe() const override {
    return fmt::format("{}, each within {} s", inner_->describe(),
                       std::chrono::duration<double>(deadline_).count());
  }

 private:
  std::unique_ptr<AdapterValidation> inner_;
  std::chrono::milliseconds deadline_;
};

}  // namespace

std::unique_ptr<AdapterValidation> with_deadline(std::unique_ptr<AdapterValidation> inner,
                                                 std::chrono::milliseconds deadline) {
  return std::make_unique<DeadlineValidation>(std::move(inner), deadline);
}

std::unique_ptr<AdapterValidation> make_command_validation(std::string command,
                                                           std::chrono::milliseconds timeout) {
  return std::make_unique<CommandValidation>(std::move(command), timeout);
}

Result<std::unique_ptr<AdapterValidation>> make_suite_validation(
    const std::filesystem::path& suites_config) {
  auto config = suites_config.empty()
                    ? Result<validation::SuiteConfig>(validation::SuiteConfig::defaults())
                    : validation::SuiteConfig::load(suites_config);
  if (!config) return config.error();
  auto runner = validation::SuiteRunner::create(*config);
  if (!runner) return runner.error();
  std::vector<std::string> names;
  if (config->perplexity) names.emplace_back("perplexity");
  if (config->qa) names.emplace_back("qa");
  if (config->safety) names.emplace_back("safety");
  if (config->external) names.emplace_back("external");
  auto description = fmt::format(
      "suites {} ({})", fmt::join(names, ", "),
      suites_config.empty() ? std::string("default thresholds") : suites_config.string());
  return std::unique_ptr<AdapterValidation>(
      new SuiteValidation(std::move(runner.value()), std::move(description)));
}

namespace {

ValidationResult fetch_and_judge_unguarded(const ArtifactToJudge& artifact,
                                           const FetchOptions& fetch, AdapterValidation& validation,
                                           const std::atomic<bool>& cancel) {
  ValidationResult result{artifact.version, {Judgement::kFail, {}, "{}"}, 0};
  const auto cannot_judge = [&](std::string why) {
    result.verdict.judgement = Judgement::kCannotJudge;
    result.verdict.reason = std::move(why);
    return result;
  };
  auto parsed = ArtifactSource::parse(artifact.source);
  if (!parsed) {
    result.verdict.reason = parsed.error().message;  // the proposal's fault: a FAIL
    return result;
  }
  if (parsed->scheme == ArtifactSource::Scheme::kFile && !fetch.allow_file_sources) {
    result.verdict.reason =
        "the proposal names a file on the validators' hosts; outside local-test mode "
        "(validator --allow-file-sources) only store:// sources are read";
    return result;
  }
  // Content-addressed: fetched by the proposed digest; the store checks its copy, and the bytes
  // are hashed here, once, before they are judged. Nothing on the way says anything about the
  // adapter: a failure is the store's, the disk's or this host's.
  // Whatever is thrown on the way (a socket the host cannot open, out of descriptors or memory,
  // an interrupted poll) is this host's fault too.
  Result<std::filesystem::path> fetched = Error{""};
  Result<bftgate::FileDigest> file_digest = Error{""};
  try {
    auto with_cancel = fetch;
    with_cancel.cancel = &cancel;
    fetched = fetch_artifact(*parsed, artifact.digest, with_cancel);
    if (!fetched) return cannot_judge(fetched.error().message);
    file_digest = bftgate::sha256_file(fetched.value());
  } catch (const std::exception& e) {
    return cannot_judge(fmt::format("fetching the artifact failed: {}", e.what()));
  }
  if (cancel.load()) {
    result.verdict = {Judgement::kCancelled, "validation cancelled", "{}"};
    return result;
  }
  const auto& path = fetched.value();
  if (!file_digest) return cannot_judge(file_digest.error().message);
  if (file_digest->digest != artifact.digest) {
    std::error_code ec;
    if (path.parent_path() == fetch.cache_dir)
      std::filesystem::remove(path, ec);  // a wrong download is fetched again, never kept
    return cannot_judge(fmt::format("the fetched bytes hash to {}, not to the proposed {}",
                                    file_digest->digest.hex(), artifact.digest.hex()));
  }
  if (cancel.load()) {
    result.verdict = {Judgement::kCancelled, "validation cancelled", "{}"};
    return result;
  }
  result.verdict = validation.judge(path, cancel);
  return result;
}

}  // namespace

ValidationResult fetch_and_judge(const ArtifactToJudge& artifact, const FetchOptions& fetch,
                                 AdapterValidation& validation, const std::atomic<bool>& cancel) {
  ValidationResult result;
  try {
    result = fetch_and_judge_unguarded(artifact, fetch, validation, cancel);
  } catch (const std::bad_alloc&) {
    // Memory is this host's to lack, not the adapter's fault (the readers bound what they
    // allocate for a file's claims).
    result = ValidationResult{
        artifact.version, {Judgement::kCannotJudge, "out of memory while validating", "{}"}, 0};
  } catch (const std::exception& e) {
    result =
        ValidationResult{artifact.version,
                         {Judgement::kFail, fmt::format("validation failed: {}", e.what()), "{}"},
                         0};
  } catch (...) {
    result =
        ValidationResult{artifact.version,
                         {Judgement::kFail, "validation failed with an unknown exception", "{}"},
                         0};
  }
  // The reason may quote the artifact's bytes: make it safe to log, keep and put into JSON.
  result.verdict.reason = printable(result.verdict.reason, 1024);
  if (auto metrics = parse_json(result.verdict.metrics_json); !metrics || !metrics->is_object()) {
    result.verdict.metrics_json = "{}";
  }
  return result;
}

}  // namespace bftgate::runtime
