// Epochs in the register (register_epoch.hpp): the Reconfigure and EpochApproval operations,
// the handover they make, and the register of the next epoch.
#include "bftgate/register/register_epoch.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "bftgate/base/seeded_bug.hpp"
#include "bftgate/base/strict_json.hpp"
#include "bftgate/config/card.hpp"
#include "bftgate/core/messages.hpp"
#include "bftgate/crypto/epoch_chain.hpp"
#include "bftgate/register/register.hpp"
#include "snapshot_epochs.hpp"

namespace bftgate::bft {

ClusterConfig config_for_epoch(const ClusterConfig& config, std::uint64_t epoch,
                               const EpochMembers& members) {
  ClusterConfig out = config;
  out.epoch = epoch;
  out.f = members.f;
  out.validators = members.validators;
  return out;
}

EpochMembers members_of(const ClusterConfig& config) {
  EpochMembers members{.f = config.f, .validators = config.validators};
  std::sort(members.validators.begin(), members.validators.end(),
            [](const ValidatorInfo& a, const ValidatorInfo& b) { return a.id < b.id; });
  return members;
}

Result<EpochMembers> proposed_members(const ClusterConfig& config, const ReconfigureOp& op) {
  if (op.next_epoch != config.epoch + 1) {
    return Error{fmt::format("the next epoch of epoch {} is {}, not {}", config.epoch,
                             config.epoch + 1, op.next_epoch)};
  }
  EpochMembers next{.f = op.f, .validators = {}};
  for (const auto& [member, proof] : op.validators) {
    // Every replica must decide alike: a relative ipc:// path would be read against each host's
    // own working directory when endpoints are compared.
    if (member.endpoint.starts_with("ipc://") && !member.endpoint.starts_with("ipc:///")) {
      return Error{
          fmt::format("validator {}: an ipc:// endpoint in a proposed set must be an "
                      "absolute path",
                      member.id)};
    }
    const auto* current = config.find_validator(member.id);
    const bool known_key = current != nullptr && current->public_key == member.public_key;
    if (!known_key) {
      // A new member or a new key: only its holder can have made the card.
      if (!proof) {
        return Error{fmt::format("validator {}: a new {} needs its card's proof of possession",
                                 member.id, current == nullptr ? "member" : "key")};
      }
      MemberCard card{.role = crypto::KeyRole::kValidator,
                      .id = member.id,
                      .endpoint = member.endpoint,
                      .metrics_port = member.metrics_port,
                      .public_key = member.public_key,
                      .proof = *proof};
      if (auto checked = card.check(); !checked) return checked.error();
    }
    next.validators.push_back(member);
  }
  std::sort(next.validators.begin(), next.validators.end(),
            [](const ValidatorInfo& a, const ValidatorInfo& b) { return a.id < b.id; });
  // Sizes against f, distinct ids, keys and endpoints, endpoints well-formed: the config's rules.
  auto next_config = config_for_epoch(config, op.next_epoch, next);
  if (auto valid = next_config.validate(); !valid) {
    return Error{
        fmt::format("the proposed set of epoch {}: {}", op.next_epoch, valid.error().message)};
  }
  if (auto signable = next_config.validator_set().check(); !signable) {
    return Error{
        fmt::format("the proposed set of epoch {}: {}", op.next_epoch, signable.error().message)};
  }
  return next;
}

std::size_t AdapterRegister::approval_quorum() const {
  if constexpr (seeded_bug("epoch-below-quorum")) return std::size_t{config_.f} + 1;
  return config_.quorum();
}

AdapterRegister::Outcome AdapterRegister::apply_reconfigure(const ReconfigureOp& op) {
  auto body = reconfigure_signing_body(config_.cluster_id, config_.epoch, op);
  if (!crypto::verify_with(cache_.get(), config_.operator_public_key,
                           crypto::Domain::kReconfiguration, body, op.operator_signature)) {
    return {false, "operator signature does not verify against the cluster's operator key"};
  }
  if (const auto* beta = current_beta()) {
    // The switch hands over decided entries only: a vote under way would be split between sets.
    return {false, fmt::format("version {} is being voted on; reconfigure once it is decided",
                               beta->version)};
  }
  auto next = proposed_members(config_, op);
  if (!next) return {false, next.error().message};
  pending_handover_ = std::move(next.value());
  return {true, fmt::format("epoch {} ends here; its validators approve epoch {} ({} validators, "
                            "f={})",
                            config_.epoch, op.next_epoch, pending_handover_->validators.size(),
                            pending_handover_->f)};
}

void AdapterRegister::begin_handover() {
  // The statement binds the contents as they are now, the Reconfigure's own record included.
  Handover handover;
  handover.next = std::move(*pending_handover_);
  pending_handover_.reset();
  auto next_config = config_for_epoch(config_, config_.epoch + 1, handover.next);
  handover.statement = crypto::EpochStatement{
      .cluster_id = config_.cluster_id,
      .epoch = next_config.epoch,
      .previous_set = config_.validator_set().digest(),
      .next_set = next_config.validator_set().digest(),
      .switch_seq = state_.log.back().index,
      .state_digest = digest_of_encoded(encode_snapshot(config_, state_)),
      .last_release = latest_release() != nullptr ? latest_release()->version : 0,
  };
  state_.handover = std::move(handover);
}

AdapterRegister::Outcome AdapterRegister::apply_epoch_approval(const EpochApprovalOp& op) {
  if (!state_.handover)
    return {false, fmt::format("no reconfiguration of epoch {} is under way", config_.epoch)};
  auto& handover = *state_.handover;
  if (op.next_epoch != handover.statement.epoch) {
    return {false, fmt::format("the approval is for epoch {}; epoch {} is being approved",
                               op.next_epoch, handover.statement.epoch)};
  }
  const auto* validator = config_.find_validator(op.validator);
  if (validator == nullptr) {
    return {false, fmt::format("validator {} is not in the validator set of epoch {}", op.validator,
                               config_.epoch)};
  }
  const auto quorum = approval_quorum();
  if (handover.approvals.signers().count() >= quorum) {
    return {false, fmt::format("epoch {} is already certified", handover.statement.epoch)};
  }
  if (handover.approvals.signers().contains(op.validator)) {
    return {false, fmt::format("validator {} already approved epoch {}", op.validator,
                               handover.statement.epoch)};
  }
  if (!crypto::verify_with(cache_.get(), validator->public_key, crypto::Domain::kEpochApproval,
                           handover.statement.encode(), op.approval)) {
    return {false, fmt::format("the approval of validator {} does not verify over the statement "
                               "of epoch {}",
                               op.validator, handover.statement.epoch)};
  }
  handover.approvals.add(op.validator, op.approval);
  auto count = handover.approvals.signers().count();
  if (count >= quorum) {
    return {true, fmt::format("approval of validator {} recorded; epoch {} certified ({} of {})",
                              op.validator, handover.statement.epoch, count, quorum)};
  }
  return {true,
          fmt::format("approval of validator {} recorded ({} of {})", op.validator, count, quorum)};
}

std::optional<crypto::EpochCertificate> AdapterRegister::epoch_certificate() const {
  if (!state_.handover || state_.handover->approvals.signers().count() < approval_quorum())
    return std::nullopt;
  return crypto::EpochCertificate{.statement = state_.handover->statement,
                                  .approvals = state_.handover->approvals};
}

std::unique_ptr<AdapterRegister> AdapterRegister::next_epoch() const {
  auto certificate = epoch_certificate();
  if (!certificate) return nullptr;
  const auto& handover = *state_.handover;
  auto next = std::make_unique<AdapterRegister>(
      config_for_epoch(config_, handover.statement.epoch, handover.next), cache_);
  next->state_ = state_;
  next->state_.handover.reset();
  next->state_.epochs.push_back(EpochRecord{.previous = members_of(config_),
                                            .certificate = std::move(*certificate),
                                            .next = handover.next,
                                            .last_version = state_.entries.back().version});
  return next;
}

namespace {
constexpr std::string_view kHandoffMagic = "BGEH";
constexpr std::uint8_t kHandoffFormat = 1;
}  // namespace

Bytes encode_handoff(const EpochHandoff& handoff) {
  crypto::Encoder encoder;
  encoder.fixed(as_bytes(kHandoffMagic)).u8(kHandoffFormat).u64(handoff.epoch);
  detail::encode_members(encoder, handoff.members);
  encoder.bytes(handoff.frozen_snapshot);
  return encoder.take();
}

Result<EpochHandoff> decode_handoff(ByteView bytes) {
  try {
    crypto::Decoder decoder(bytes);
    auto magic = decoder.fixed(kHandoffMagic.size(), "magic");
    if (!std::equal(magic.begin(), magic.end(), kHandoffMagic.begin()))
      return Error{"not an epoch handoff (no BGEH magic)"};
    if (auto format = decoder.u8("format"); format != kHandoffFormat)
      return Error{
          fmt::format("epoch handoff format {} (this build reads {})", format, kHandoffFormat)};
    EpochHandoff handoff;
    handoff.epoch = decoder.u64("epoch");
    handoff.members = detail::decode_members(decoder);
    handoff.frozen_snapshot = decoder.bytes(kMaxSnapshotBytes, "frozen snapshot");
    decoder.expect_end("epoch handoff");
    return handoff;
  } catch (const crypto::DecodeError& e) {
    return Error{fmt::format("epoch handoff: {}", e.what())};
  }
}

std::vector<crypto::EpochLink> AdapterRegister::epoch_links() const {
  std::vector<crypto::EpochLink> links;
  for (const auto& record : state_.epochs) {
    const auto epoch = record.certificate.statement.epoch;
    links.push_back(
        {record.certificate, config_for_epoch(config_, epoch, record.next).validator_set()});
  }
  if (auto certificate = epoch_certificate()) {
    const auto epoch = certificate->statement.epoch;
    links.push_back({std::move(*certificate),
                     config_for_epoch(config_, epoch, state_.handover->next).validator_set()});
  }
  return links;
}

std::optional<EpochHandoff> AdapterRegister::handoff() const {
  if (!epoch_certificate()) return std::nullopt;
  return EpochHandoff{
      .epoch = config_.epoch, .members = members_of(config_), .frozen_snapshot = snapshot()};
}

Result<std::unique_ptr<AdapterRegister>> join_next_epoch(
    const ClusterConfig& genesis, const EpochHandoff& handoff,
    std::shared_ptr<crypto::VerifyCache> cache) {
  if (handoff.epoch < genesis.epoch)
    return Error{fmt::format("the handoff is of epoch {}, before genesis epoch {}", handoff.epoch,
                             genesis.epoch)};
  auto config = config_for_epoch(genesis, handoff.epoch, handoff.members);
  if (auto valid = config.validate(); !valid)
    return Error{
        fmt::format("the handoff's set of epoch {}: {}", handoff.epoch, valid.error().message)};
  auto old = std::make_unique<AdapterRegister>(config, cache);
  if (auto restored = old->restore(handoff.frozen_snapshot); !restored)
    return Error{fmt::format("the handoff's register of epoch {}: {}", handoff.epoch,
                             restored.error().message)};
  // The snapshot's own checks tie its chain to this set; the chain must also start at the set
  // the joiner trusts, and every link must carry a quorum's valid signatures.
  if (old->epochs().empty()
          ? !(members_of(genesis) == handoff.members) || handoff.epoch != genesis.epoch
          : !(old->epochs().front().previous == members_of(genesis)))
    return Error{"the handoff's chain does not start at this cluster's genesis set"};
  if (!old->epoch_certificate())
    return Error{fmt::format("the handoff's register of epoch {} holds no epoch certificate",
                             handoff.epoch)};
  crypto::EpochChain chain(genesis.validator_set());
  crypto::QuorumCheck check;
  check.cache = cache.get();
  if (auto verdict = chain.extend(old->epoch_links(), check); !verdict.ok())
    return Error{fmt::format("the handoff's chain: {}", verdict.reason)};
  if (chain.newest().epoch != handoff.epoch + 1)
    return Error{fmt::format("the handoff's chain reaches epoch {}, not {}", chain.newest().epoch,
                             handoff.epoch + 1)};
  return old->next_epoch();
}

}  // namespace bftgate::bft
