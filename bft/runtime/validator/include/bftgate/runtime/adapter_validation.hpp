// How a validator judges an adapter it has fetched and digest-checked: a pluggable interface
// with two implementations, the model-based suites (validation/suites.hpp: perplexity, QA,
// safety, optionally an external command) and a bare external command.
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include "bftgate/crypto/result.hpp"
#include "bftgate/crypto/sha256.hpp"
#include "bftgate/runtime/artifact_source.hpp"

namespace bftgate::runtime {

struct AdapterVerdict {
  bool pass = false;
  bool cancelled = false;    // stopped by shutdown: no vote
  std::string reason;        // why, for people
  std::string metrics_json;  // the metrics object (JSON), kept and digested into the vote
};

class AdapterValidation {
 public:
  virtual ~AdapterValidation() = default;
  // Runs on a worker thread; must return soon after `cancel` becomes true.
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

// The adapter a register entry proposes: what a validator fetches and judges.
struct ArtifactToJudge {
  std::uint64_t version = 0;
  std::string source;  // the entry's source (runtime/artifact_source.hpp)
  crypto::Digest digest;
};

struct ValidationResult {
  std::uint64_t version = 0;
  AdapterVerdict verdict;  // a fetch or digest failure is a FAIL with its reason
  double seconds = 0;      // fetch, digest check and suite (set by the caller, which times it)
};

// Fetches the artifact, hashes the fetched bytes once against the proposed digest (a wrong
// download is deleted from the cache, so it is fetched again) and judges them. It always ends in
// a verdict: an exception (a bug a crafted artifact reaches) is a FAIL with its reason; the
// reason is printable and the metrics are a JSON object.
ValidationResult fetch_and_judge(const ArtifactToJudge& artifact, const FetchOptions& fetch,
                                 AdapterValidation& validation, const std::atomic<bool>& cancel);

}  // namespace bftgate::runtime
