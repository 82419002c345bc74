// The validator's judging and voting, beside consensus: which candidate to validate when the
// register changes (a worker thread validates it), the vote once it is judged, the metrics kept
// for it (validations.json, which the vote names by digest), and, when a fault of the
// infrastructure stops a validation, no vote: it says so and tries again later.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bftgate/byzantine/validator_votes.hpp"
#include "bftgate/config/cluster_config.hpp"
#include "bftgate/runtime/net/register_json.hpp"
#include "bftgate/runtime/validator/adapter_validation.hpp"
#include "bftgate/runtime/validator/request_ids.hpp"
#include "bftgate/runtime/validator/validation_worker.hpp"
#include "bftgate/runtime/validator/validator_daemon.hpp"

namespace bftgate::runtime {

class ValidatorVoting {
 public:
  // Submits this validator's vote operations under the request ids reserved for them.
  using Submit =
      std::function<void(std::vector<Bytes> operations, const std::vector<std::uint64_t>& ids)>;
  // The highest request id of this validator's own requests that the replicated state executed.
  using ExecutedRequestId = std::function<std::uint64_t()>;

  // `app` is the replicated register; `vote_key` and `strategy` (optional) outlive this.
  // Artifacts are fetched from the store over a link secured by `security`.
  ValidatorVoting(boost::asio::io_context& io, const ValidatorOptions& options,
                  const ClusterConfig& config, const LinkSecurity& security,
                  const bft::AdapterRegister& app, const crypto::SecretKey& vote_key,
                  bft::ByzantineStrategy* strategy, std::unique_ptr<AdapterValidation> validation,
                  RequestIdReservation request_ids, ExecutedRequestId executed, Submit submit);
  ~ValidatorVoting();

  // After each commit: a candidate that left beta is judged no further, a new one is started.
  void after_commit();
  // Shutdown: the running validation is cancelled, then the worker is given `grace` to stop.
  void cancel();
  bool stop(std::chrono::milliseconds grace);
  std::optional<std::uint64_t> validating() const { return worker_->current(); }

  const std::optional<JudgingReport>& judging() const { return judging_; }
  const KeptValidations& validations() const { return validations_; }
  std::uint64_t cannot_judge_total() const { return cannot_judge_total_; }

 private:
  bool still_to_vote(std::uint64_t version) const;
  void approve_epoch();
  void on_validated(const ValidationResult& result);
  void cannot_judge(const bft::ValidationJob& job, const std::string& reason);
  void vote(const ValidationResult& result, const bft::ValidationJob& job);
  void prune_artifact_cache();
  std::filesystem::path validations_path() const;
  void load_validations();
  Status save_validations(const KeptValidations& validations);

  boost::asio::io_context& io_;
  const ValidatorOptions& options_;
  const bft::AdapterRegister& app_;
  std::unique_ptr<AdapterValidation> validation_;
  RequestIdReservation request_ids_;  // ids of this validator's own requests (its votes)
  ExecutedRequestId executed_;
  Submit submit_;
  bft::ValidatorVotes votes_;  // which candidate to validate, what to vote
  std::unique_ptr<ValidationWorker> worker_;
  std::optional<JudgingReport> judging_;   // the candidate judged and not voted on yet
  bft::ValidationJob judging_job_;         // its job, while judging_ is set
  boost::asio::steady_timer retry_timer_;  // the next attempt after a cannot-judge
  std::uint64_t cannot_judge_total_ = 0;
  KeptValidations validations_;
  bool stopping_ = false;
};

}  // namespace bftgate::runtime
