// How a validator judges an adapter it has fetched and digest-checked: a pluggable interface
// with two implementations, the model-based suites (validation/suites.hpp: perplexity, QA,
// safety, optionally an external command) and a bare external command.
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include "bftgate/base/result.hpp"
#include "bftgate/crypto/sha256.hpp"
#include "bftgate/runtime/store/artifact_source.hpp"

namespace bftgate::runtime {

// Only a judgement of the adapter's bytes is a vote. A fault of the infrastructure (the store
// down or stalled, a full disk, no file descriptors left, a wrong download) says nothing about
// the adapter: the validator retries and abstains meanwhile (kCannotJudge), and a validation
// stopped by shutdown or by a newer candidate (kCancelled) ends in no vote at all.
enum class Judgement { kPass, kFail, kCannotJudge, kCancelled };
std::string_view to_string(Judgement judgement);

struct AdapterVerdict {
  Judgement judgement = Judgement::kFail;
  std::string reason;        // why, for people
  std::string metrics_json;  // the metrics object (JSON), kept and digested into the vote

  bool pass() const { return judgement == Judgement::kPass; }
  // A PASS or a FAIL: what a vote may say.
  bool is_verdict() const { return judgement == Judgement::kPass || judgement == Judgement::kFail; }
};

class AdapterValidation {
 public:
  virtual ~AdapterValidation() = default;
  // Runs on a worker thread; must return soon after `cancel` becomes true (kCancelled).
  virtual AdapterVerdict judge(const std::filesystem::path& artifact,
                               const std::atomic<bool>& cancel) = 0;
  virtual std::string describe() const = 0;
};

// /bin/sh -c COMMAND with {adapter_path}; it prints {"pass": bool, "metrics": {...}}.
std::unique_ptr<AdapterValidation> make_command_validation(std::string command,
                                                           std::chrono::milliseconds timeout);

// The suites of a JSON config file (empty path: every suite with default thresholds on the cached
// default model, trained on first use). Loads the model and computes its reference figures now.
Result<std::unique_ptr<AdapterValidation>> make_suite_validation(
    const std::filesystem::path& suites_config);

// `inner`, given at most `deadline` for each judgement: past it `inner` is cancelled and the
// judgement is kCannotJudge, saying so (the time a judgement takes on this host is not a verdict
// on the adapter; it is tried again). A cancellation from outside stays kCancelled.
std::unique_ptr<AdapterValidation> with_deadline(std::unique_ptr<AdapterValidation> inner,
                                                 std::chrono::milliseconds deadline);

// The adapter a register entry proposes: what a validator fetches and judges.
struct ArtifactToJudge {
  std::uint64_t version = 0;
  std::string source;  // the entry's source (runtime/artifact_source.hpp)
  crypto::Digest digest;
};

struct ValidationResult {
  std::uint64_t version = 0;
  AdapterVerdict verdict;  // a fetch or digest failure is kCannotJudge with its reason
  double seconds = 0;      // fetch, digest check and suite (set by the caller, which times it)
};

// Fetches the artifact, hashes the fetched bytes once against the proposed digest (a wrong
// download is deleted from the cache, so it is fetched again) and judges them. Whatever stops
// the validator from reading the proposed bytes (a fetch that fails, a download that hashes to
// another digest, a file it cannot hash) is kCannotJudge; a source it may not read
// (FetchOptions::allow_file_sources) is a FAIL of the proposal. An exception from the suites (a
// bug a crafted artifact reaches) is a FAIL with its reason. The reason is printable and the
// metrics are a JSON object.
ValidationResult fetch_and_judge(const ArtifactToJudge& artifact, const FetchOptions& fetch,
                                 AdapterValidation& validation, const std::atomic<bool>& cancel);

}  // namespace bftgate::runtime
