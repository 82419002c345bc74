// The epoch parts of a register snapshot (register_snapshot.hpp): the chain and the handover,
// encoded, decoded and checked.
#include "snapshot_epochs.hpp"

#include <fmt/format.h>

#include "bftgate/register/register_entry.hpp"

namespace bftgate::bft::detail {

using crypto::DecodeError;
using crypto::Decoder;
using crypto::Encoder;

namespace {

// An epoch certificate's binary form: format version, statement, bitmap, signatures.
constexpr std::size_t kMaxEpochCertificateSize =
    1 + 4 + kMaxClusterIdSize + 8 + 32 + 32 + 8 + 32 + 4 + (kMaxValidatorId + 8) / 8 +
    (std::size_t{kMaxValidatorId} + 1) * crypto::kSignatureSize;

// The newest released version at or below `version` (0: none).
std::uint64_t last_release_up_to(const RegisterContents& contents, std::uint64_t version) {
  std::uint64_t released = 0;
  for (const auto& entry : contents.entries) {
    if (entry.version <= version && entry.state == EntryState::kReleaseCommit)
      released = entry.version;
  }
  return released;
}

}  // namespace

void encode_members(Encoder& encoder, const EpochMembers& members) {
  encoder.u32(members.f).u32(static_cast<std::uint32_t>(members.validators.size()));
  for (const auto& validator : members.validators) encode_validator(encoder, validator);
}

EpochMembers decode_members(Decoder& decoder) {
  EpochMembers members;
  members.f = decoder.u32("members.f");
  auto count = decoder.u32("members.count");
  if (count > kMaxValidators) {
    throw DecodeError(fmt::format("members.count: {} is above {}", count, kMaxValidators));
  }
  for (std::uint32_t i = 0; i < count; ++i) members.validators.push_back(decode_validator(decoder));
  return members;
}

void encode_epochs(Encoder& encoder, const RegisterContents& contents) {
  encoder.u32(static_cast<std::uint32_t>(contents.epochs.size()));
  for (const auto& record : contents.epochs) {
    encode_members(encoder, record.previous);
    encoder.bytes(record.certificate.encode());
    encode_members(encoder, record.next);
    encoder.u64(record.last_version);
  }
  encoder.boolean(contents.handover.has_value());
  if (contents.handover) {
    encode_members(encoder, contents.handover->next);
    encoder.fixed(contents.handover->statement.encode());
    contents.handover->approvals.encode_to(encoder);
  }
}

void decode_epochs(Decoder& decoder, RegisterContents& contents) {
  auto records = decoder.u32("epoch_count");
  // Each record takes well over a hundred bytes: a garbled count runs out of input first.
  for (std::uint32_t i = 0; i < records; ++i) {
    EpochRecord record;
    record.previous = decode_members(decoder);
    auto certificate = crypto::EpochCertificate::decode(
        decoder.bytes(kMaxEpochCertificateSize, "epoch.certificate"));
    if (!certificate)
      throw DecodeError(fmt::format("epoch.certificate: {}", certificate.error().reason));
    record.certificate = std::move(certificate.value());
    record.next = decode_members(decoder);
    record.last_version = decoder.u64("epoch.last_version");
    contents.epochs.push_back(std::move(record));
  }
  if (decoder.boolean("has_handover")) {
    Handover handover;
    handover.next = decode_members(decoder);
    handover.statement = crypto::EpochStatement::decode(decoder);
    handover.approvals = crypto::QuorumSignatures::decode_from(decoder);
    contents.handover = std::move(handover);
  }
}

// The chain leads to this epoch, link by link, each link naming the sets it joins and approved
// by a quorum of the earlier one (signatures are not re-verified here; see the header); a
// handover binds this set, the last log record (the Reconfigure) and the contents before it.
void check_epochs(const ClusterConfig& config, const RegisterContents& contents) {
  const EpochMembers* linked = nullptr;
  std::uint64_t previous_last_version = 0;
  for (std::size_t i = 0; i < contents.epochs.size(); ++i) {
    const auto& record = contents.epochs[i];
    const auto& statement = record.certificate.statement;
    auto where = fmt::format("epoch record {} (epoch {})", i, statement.epoch);
    const bool last = i + 1 == contents.epochs.size();
    if (statement.cluster_id != config.cluster_id)
      throw DecodeError(where + ": for another cluster");
    if (last && statement.epoch != config.epoch)
      throw DecodeError(where + ": the chain does not end at this epoch");
    if (i > 0 && statement.epoch != contents.epochs[i - 1].certificate.statement.epoch + 1)
      throw DecodeError(where + ": the chain has a gap");
    if (statement.epoch == 0) throw DecodeError(where + ": epoch 0 has no set before it");
    if (linked != nullptr && !(*linked == record.previous))
      throw DecodeError(where + ": its approving set is not the set the link before approved");
    auto previous = config_for_epoch(config, statement.epoch - 1, record.previous);
    auto next = config_for_epoch(config, statement.epoch, record.next);
    if (statement.previous_set != previous.validator_set().digest() ||
        statement.next_set != next.validator_set().digest())
      throw DecodeError(where + ": the certificate names other sets");
    if (last && !(record.next == members_of(config)))
      throw DecodeError(where + ": its set is not this epoch's");
    const auto& signers = record.certificate.approvals.signers();
    if (signers.count() != previous.quorum())
      throw DecodeError(where + ": the certificate does not hold exactly a quorum");
    for (auto id : signers.ids()) {
      if (previous.find_validator(id) == nullptr)
        throw DecodeError(fmt::format("{}: approved by {}, not of the set before", where, id));
    }
    if (record.last_version < previous_last_version ||
        record.last_version > contents.entries.back().version)
      throw DecodeError(where + ": its last version is out of order");
    if (statement.last_release != last_release_up_to(contents, record.last_version))
      throw DecodeError(where + ": its last release is not the newest release before it");
    previous_last_version = record.last_version;
    linked = &record.next;
  }
  if (!contents.handover) return;
  const auto& handover = *contents.handover;
  const auto& statement = handover.statement;
  if (statement.cluster_id != config.cluster_id || statement.epoch != config.epoch + 1)
    throw DecodeError("the handover is not to this cluster's next epoch");
  auto next = config_for_epoch(config, statement.epoch, handover.next);
  if (auto valid = next.validate(); !valid)
    throw DecodeError(fmt::format("the handover's set: {}", valid.error().message));
  if (statement.previous_set != config.validator_set().digest() ||
      statement.next_set != next.validator_set().digest())
    throw DecodeError("the handover names other sets");
  if (contents.log.empty() || contents.log.back().kind != OpKind::kReconfigure ||
      !contents.log.back().valid || statement.switch_seq != contents.log.back().index)
    throw DecodeError("the handover does not switch at the last log record, a Reconfigure");
  if (contents.entries.back().state == EntryState::kBetaTesting)
    throw DecodeError("the handover froze a vote under way");
  const auto& signers = handover.approvals.signers();
  if (signers.count() > config.quorum())
    throw DecodeError("the handover holds more approvals than a quorum");
  for (auto id : signers.ids()) {
    if (config.find_validator(id) == nullptr)
      throw DecodeError(fmt::format("the handover holds an approval of {}, not of this set", id));
  }
  if (statement.last_release != last_release_up_to(contents, contents.entries.back().version))
    throw DecodeError("the handover's last release is not the register's");
  RegisterContents frozen = contents;
  frozen.handover.reset();
  if (statement.state_digest != digest_of_encoded(encode_snapshot(config, frozen)))
    throw DecodeError("the handover's state digest is not that of the contents");
}

}  // namespace bftgate::bft::detail
