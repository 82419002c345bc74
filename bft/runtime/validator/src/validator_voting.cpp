#include "validator_voting.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/post.hpp>

#include "bftgate/base/strict_json.hpp"
#include "bftgate/io/file_io.hpp"

namespace bftgate::runtime {

namespace {
ArtifactToJudge to_judge(const bft::ValidationJob& job) {
  return {job.version, job.source, job.artifact_digest};
}
}  // namespace

ValidatorVoting::ValidatorVoting(boost::asio::io_context& io, const ValidatorOptions& options,
                                 const ClusterConfig& config, const LinkSecurity& security,
                                 const bft::AdapterRegister& app, const crypto::SecretKey& vote_key,
                                 bft::ByzantineStrategy* strategy,
                                 std::unique_ptr<AdapterValidation> validation,
                                 RequestIdReservation request_ids, ExecutedRequestId executed,
                                 Submit submit)
    : io_(io),
      options_(options),
      app_(app),
      validation_(std::move(validation)),
      request_ids_(std::move(request_ids)),
      executed_(std::move(executed)),
      submit_(std::move(submit)),
      votes_(options.id, vote_key, strategy),
      retry_timer_(io) {
  worker_ = std::make_unique<ValidationWorker>(
      *validation_,
      FetchOptions{.store = StoreLink::of(config, security),
                   .cache_dir = options_.data_dir / "artifacts",
                   .copy_files = false,
                   .timeout = options_.fetch_timeout,
                   .max_bytes = config.max_artifact_bytes,
                   .allow_file_sources = options_.allow_file_sources},
      [this](const ValidationResult& result, const ArtifactToJudge&) {
        boost::asio::post(io_, [this, result] { on_validated(result); });
      });
  load_validations();
  // Above every id this validator's requests executed with, by the recovered state too.
  request_ids_.raise_to(executed_() + 1);
}

ValidatorVoting::~ValidatorVoting() = default;

void ValidatorVoting::cancel() {
  stopping_ = true;
  if (auto version = worker_->current()) {
    spdlog::info("validator {}: validation of version {} cancelled by shutdown", options_.id,
                 *version);
  }
  worker_->cancel();  // a running suite or command is stopped, not waited for
}

bool ValidatorVoting::stop(std::chrono::milliseconds grace) {
  return worker_->stop(grace);
}

void ValidatorVoting::after_commit() {
  approve_epoch();
  // A candidate that left beta (decided without this validator, or superseded) is not judged
  // any further.
  if (judging_ && !still_to_vote(judging_->version)) {
    worker_->cancel(judging_->version);
    retry_timer_.cancel();
    judging_.reset();
  }
  auto job = votes_.next_validation(app_);
  if (!job) return;
  // Validation runs beside consensus: the worker validates, the event loop votes. A newer
  // candidate cancels the older one's validation.
  spdlog::info("validator {}: validating adapter version {} from {}", options_.id, job->version,
               printable(job->source, 200));
  retry_timer_.cancel();
  judging_ =
      JudgingReport{.version = job->version, .cannot_judge = false, .reason = {}, .attempts = 0};
  judging_job_ = *job;
  worker_->start(to_judge(*job));
}

// The register froze for a reconfiguration: this validator approves the handover (once), as the
// simulator's validators do (bft::ValidatorVotes). Submitted from the event loop, not from inside
// the commit that froze it.
void ValidatorVoting::approve_epoch() {
  auto approval = votes_.approval_for(app_);
  if (!approval) return;
  request_ids_.raise_to(executed_() + 1);
  auto id = request_ids_.next();
  if (!id) {
    spdlog::error("validator {}: cannot approve epoch {}: {}", options_.id,
                  app_.handover()->statement.epoch, id.error().message);
    return;
  }
  spdlog::info("validator {}: approving epoch {} ({} validators, f={})", options_.id,
               app_.handover()->statement.epoch, app_.handover()->next.validators.size(),
               app_.handover()->next.f);
  boost::asio::post(io_, [this, operation = std::move(*approval), id = *id]() mutable {
    std::vector<Bytes> operations;
    operations.push_back(std::move(operation));
    submit_(std::move(operations), {id});
    crash_at(options_.crash_at, SwitchStep::kApproved, options_.id);
  });
}

// Whether `version` is the candidate in beta that this validator has not voted on.
bool ValidatorVoting::still_to_vote(std::uint64_t version) const {
  const auto* beta = app_.current_beta();
  return beta != nullptr && beta->version == version && !beta->has_voted(options_.id);
}

// On the event loop, for each validation the worker finished.
void ValidatorVoting::on_validated(const ValidationResult& result) {
  if (!judging_ || judging_->version != result.version || !still_to_vote(result.version)) return;
  const auto& job = judging_job_;
  if (result.verdict.judgement == Judgement::kCannotJudge) {
    cannot_judge(job, result.verdict.reason);
    return;
  }
  vote(result, job);
}

// A fault of the infrastructure stopped this attempt: no vote. Says so (log, status, metrics)
// and tries again later, for as long as the candidate is in beta.
void ValidatorVoting::cannot_judge(const bft::ValidationJob& job, const std::string& reason) {
  judging_->cannot_judge = true;
  judging_->reason = reason;
  ++judging_->attempts;
  ++cannot_judge_total_;
  auto wait = options_.retry_initial;
  for (std::uint64_t i = 1; i < judging_->attempts && wait < options_.retry_max; ++i) wait *= 2;
  wait = std::min(wait, options_.retry_max);
  spdlog::warn(
      "validator {}: cannot judge adapter version {} (attempt {}): {}; no vote, trying again "
      "in {} ms",
      options_.id, job.version, judging_->attempts, reason, wait.count());
  retry_timer_.expires_after(wait);
  retry_timer_.async_wait([this, job](const boost::system::error_code& ec) {
    if (ec || stopping_ || !judging_ || judging_->version != job.version ||
        !still_to_vote(job.version))
      return;
    spdlog::info("validator {}: judging adapter version {} again", options_.id, job.version);
    worker_->start(to_judge(job));
  });
}

void ValidatorVoting::vote(const ValidationResult& result, const bft::ValidationJob& job) {
  KeptValidation kept{
      .pass = result.verdict.pass(),
      .reason = result.verdict.reason,
      .metrics = parse_json(result.verdict.metrics_json).value(),  // checked by fetch_and_judge
      .validation_s = result.seconds};
  auto metrics_digest = kept.digest();
  auto operations = votes_.votes_for(app_, job, result.verdict.pass(), metrics_digest);
  // Every id first (a reservation is a durable write): no id, no vote, and the validator says
  // so and tries again, as for any fault of this host. Ids stay above what the replicated state
  // says this validator used (a state transfer may have brought newer ones).
  request_ids_.raise_to(executed_() + 1);
  std::vector<std::uint64_t> ids;
  for (std::size_t i = 0; i < operations.size(); ++i) {
    auto id = request_ids_.next();
    if (!id) {
      cannot_judge(job, id.error().message);
      return;
    }
    ids.push_back(*id);
  }
  auto validations = validations_;
  validations[result.version] = std::move(kept);
  // The vote names the metrics by digest: without them kept, no vote (a full disk stops this
  // validator voting until space returns).
  if (auto s = save_validations(validations); !s) {
    cannot_judge(job, fmt::format("cannot keep the validation metrics: {}", s.error().message));
    return;
  }
  validations_ = std::move(validations);
  judging_.reset();
  spdlog::info("validator {}: version {} {}: {}", options_.id, result.version,
               to_string(result.verdict.judgement), result.verdict.reason);
  submit_(std::move(operations), ids);
  prune_artifact_cache();
}

// A judged artifact is not needed again (a restarted validator does not judge what it voted
// on): the cache keeps none but the candidate being judged, so it never grows with versions.
void ValidatorVoting::prune_artifact_cache() {
  std::error_code ec;
  const auto dir = options_.data_dir / "artifacts";
  const auto* beta = app_.current_beta();
  for (auto it = std::filesystem::directory_iterator(dir, ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    if (beta != nullptr && !beta->has_voted(options_.id) &&
        it->path().filename().string().starts_with(beta->artifact_digest.hex()))
      continue;
    std::error_code ignored;
    std::filesystem::remove(it->path(), ignored);
  }
}

// The kept metrics outlive a restart: status checks them against the digests in the votes.
std::filesystem::path ValidatorVoting::validations_path() const {
  return options_.data_dir / "validations.json";
}

void ValidatorVoting::load_validations() {
  auto text = read_small_file(validations_path(), 64 << 20);
  if (!text) return;  // none kept yet
  auto kept =
      parse_json(*text, JsonLimits{.max_bytes = 64 << 20, .max_depth = 16, .max_values = 1 << 22});
  if (!kept || !kept->is_object()) {
    spdlog::warn("validator {}: ignoring {}: {}", options_.id, validations_path().string(),
                 kept ? "not a JSON object" : kept.error().message);
    return;
  }
  auto validations = kept_validations_from_json(*kept);
  if (!validations) {
    spdlog::warn("validator {}: ignoring {}: {}", options_.id, validations_path().string(),
                 validations.error().message);
    return;
  }
  validations_ = std::move(validations.value());
}

Status ValidatorVoting::save_validations(const KeptValidations& validations) {
  auto text = dump_json(to_json(validations));
  return write_file_atomic(validations_path(), as_bytes(text),
                           WriteOptions{.mode = 0644, .overwrite = true});
}

}  // namespace bftgate::runtime
