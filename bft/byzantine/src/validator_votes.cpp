#include "bftgate/byzantine/validator_votes.hpp"

namespace bftgate::bft {

std::optional<ValidationJob> ValidatorVotes::next_validation(const AdapterRegister& reg) {
  const auto* beta = reg.current_beta();
  if (beta == nullptr || started_.contains(beta->version) || beta->has_voted(id_))
    return std::nullopt;
  started_.insert(beta->version);
  return ValidationJob{beta->version, beta->artifact_digest, beta->previous_entry_hash,
                       beta->source};
}

std::vector<Bytes> ValidatorVotes::votes_for(const AdapterRegister& reg, const ValidationJob& job,
                                             bool pass, const crypto::Digest& metrics_digest) {
  const auto* entry = reg.entry(job.version);
  if (entry == nullptr || entry->state != EntryState::kBetaTesting ||
      entry->artifact_digest != job.artifact_digest) {
    return {};
  }
  std::optional<Verdict> verdict = pass ? Verdict::kPass : Verdict::kFail;
  std::vector<Bytes> operations;
  if (strategy_) {
    verdict = strategy_->vote(*verdict, job.version);
    operations = strategy_->extra_vote_operations(reg);
  }
  if (verdict) {
    const auto& config = reg.config();
    operations.insert(
        operations.begin(),
        make_vote(vote_key_, config.cluster_id, config.epoch, id_, job.version, job.artifact_digest,
                  job.previous_entry_hash, *verdict, metrics_digest));
    if (strategy_) {
      strategy_->on_vote_cast(operations.front());
      for (std::size_t i = 1; i < strategy_->vote_copies(job.version); ++i)
        operations.push_back(operations.front());
    }
  }
  return operations;
}

std::optional<Bytes> ValidatorVotes::approval_for(const AdapterRegister& reg) {
  const auto* handover = reg.handover();
  if (handover == nullptr || reg.config().find_validator(id_) == nullptr ||
      handover->approvals.signers().contains(id_) || reg.epoch_certificate() ||
      approved_.contains(handover->statement.epoch)) {
    return std::nullopt;
  }
  if (strategy_ && !strategy_->approves_epochs()) return std::nullopt;
  approved_.insert(handover->statement.epoch);
  return make_epoch_approval(vote_key_, id_, handover->statement);
}

}  // namespace bftgate::bft
