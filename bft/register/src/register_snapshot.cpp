#include "bftgate/register/register_snapshot.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "bftgate/base/strict_json.hpp"

namespace bftgate::bft {

using crypto::DecodeError;
using crypto::Decoder;
using crypto::Digest;
using crypto::Encoder;
using crypto::Signature;

namespace {

constexpr std::array<std::uint8_t, 4> kSnapshotMagic = {'B', 'G', 'R', 'S'};
// Format version, statement, bitmap and one signature per possible validator id.
constexpr std::size_t kMaxCertificateSize =
    1 + 4 + kMaxClusterIdSize + 8 + 8 + 32 + 32 + 4 + (kMaxValidatorId + 8) / 8 +
    (std::size_t{kMaxValidatorId} + 1) * crypto::kSignatureSize;

void encode_vote(Encoder& encoder, const RecordedVote& vote) {
  encoder.u32(vote.validator)
      .u8(static_cast<std::uint8_t>(vote.verdict))
      .fixed(vote.metrics_digest.bytes)
      .fixed(vote.signature.bytes)
      .boolean(vote.release_approval.has_value());
  if (vote.release_approval) encoder.fixed(vote.release_approval->bytes);
}

void encode_entry(Encoder& encoder, const RegisterEntry& entry) {
  encoder.u64(entry.version)
      .fixed(entry.artifact_digest.bytes)
      .u64(entry.size)
      .str(entry.source)
      .fixed(entry.operator_signature.bytes)
      .u8(static_cast<std::uint8_t>(entry.state))
      .fixed(entry.previous_entry_hash.bytes)
      .fixed(entry.entry_hash.bytes)
      .str(entry.reason)
      .u64(entry.votes.size());
  for (const auto& vote : entry.votes) encode_vote(encoder, vote);
  encoder.boolean(entry.certificate.has_value());
  if (entry.certificate) encoder.bytes(entry.certificate->encode());
}

void encode_record(Encoder& encoder, const LogRecord& record) {
  encoder.u64(record.index)
      .u32(record.client)
      .u8(static_cast<std::uint8_t>(record.kind))
      .boolean(record.valid)
      .str(record.reason)
      .fixed(record.operation_digest.bytes)
      .fixed(record.previous_hash.bytes)
      .fixed(record.record_hash.bytes);
}

void encode_members(Encoder& encoder, const EpochMembers& members) {
  encoder.u32(members.f).u32(static_cast<std::uint32_t>(members.validators.size()));
  for (const auto& validator : members.validators) encode_validator(encoder, validator);
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

Digest read_digest(Decoder& decoder, std::string_view field) {
  return Digest{decoder.fixed_array<crypto::kDigestSize>(field)};
}

Signature read_signature(Decoder& decoder, std::string_view field) {
  return Signature{decoder.fixed_array<crypto::kSignatureSize>(field)};
}

RecordedVote decode_recorded_vote(Decoder& decoder) {
  RecordedVote vote;
  vote.validator = decoder.u32("vote.validator");
  auto verdict = decoder.u8("vote.verdict");
  if (verdict > static_cast<std::uint8_t>(Verdict::kPass)) {
    throw DecodeError(fmt::format("vote.verdict: unknown verdict {}", verdict));
  }
  vote.verdict = static_cast<Verdict>(verdict);
  vote.metrics_digest = read_digest(decoder, "vote.metrics_digest");
  vote.signature = read_signature(decoder, "vote.signature");
  if (decoder.boolean("vote.has_release_approval")) {
    vote.release_approval = read_signature(decoder, "vote.release_approval");
  }
  return vote;
}

RegisterEntry decode_entry(Decoder& decoder) {
  RegisterEntry entry;
  entry.version = decoder.u64("entry.version");
  entry.artifact_digest = read_digest(decoder, "entry.artifact_digest");
  entry.size = decoder.u64("entry.size");
  entry.source = decoder.str(kMaxSourceSize, "entry.source");
  entry.operator_signature = read_signature(decoder, "entry.operator_signature");
  auto state = decoder.u8("entry.state");
  if (state > static_cast<std::uint8_t>(EntryState::kRejected)) {
    throw DecodeError(fmt::format("entry.state: unknown state {}", state));
  }
  entry.state = static_cast<EntryState>(state);
  entry.previous_entry_hash = read_digest(decoder, "entry.previous_entry_hash");
  entry.entry_hash = read_digest(decoder, "entry.entry_hash");
  entry.reason = decoder.str(kMaxReasonSize, "entry.reason");
  auto votes = decoder.u64("entry.vote_count");
  // Each vote takes at least 101 bytes: a garbled count runs out of input, it never allocates.
  for (std::uint64_t i = 0; i < votes; ++i) entry.votes.push_back(decode_recorded_vote(decoder));
  if (decoder.boolean("entry.has_certificate")) {
    auto decoded =
        crypto::ReleaseCertificate::decode(decoder.bytes(kMaxCertificateSize, "entry.certificate"));
    if (!decoded) throw DecodeError(fmt::format("entry.certificate: {}", decoded.error().reason));
    entry.certificate = std::move(decoded.value());
  }
  return entry;
}

LogRecord decode_record(Decoder& decoder) {
  LogRecord record;
  record.index = decoder.u64("record.index");
  record.client = decoder.u32("record.client");
  auto kind = decoder.u8("record.kind");
  if (kind > static_cast<std::uint8_t>(OpKind::kEpochApproval)) {
    throw DecodeError(fmt::format("record.kind: unknown operation kind {}", kind));
  }
  record.kind = static_cast<OpKind>(kind);
  record.valid = decoder.boolean("record.valid");
  record.reason = decoder.str(kMaxReasonSize, "record.reason");
  record.operation_digest = read_digest(decoder, "record.operation_digest");
  record.previous_hash = read_digest(decoder, "record.previous_hash");
  record.record_hash = read_digest(decoder, "record.record_hash");
  return record;
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

// An epoch certificate's binary form: format version, statement, bitmap, signatures.
constexpr std::size_t kMaxEpochCertificateSize =
    1 + 4 + kMaxClusterIdSize + 8 + 32 + 32 + 8 + 32 + 4 + (kMaxValidatorId + 8) / 8 +
    (std::size_t{kMaxValidatorId} + 1) * crypto::kSignatureSize;

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

// Throws DecodeError naming the first entry that the register could not have produced.
// Entries decided in an earlier epoch are checked against that epoch's set (its config).
void check_entries(const ClusterConfig& current, const RegisterContents& contents) {
  const auto& entries = contents.entries;
  if (entries.empty() || entries.front() != genesis_entry()) {
    throw DecodeError("the first entry is not the genesis entry");
  }
  std::vector<std::pair<std::uint64_t, ClusterConfig>> eras;  // (last version, its config)
  for (const auto& record : contents.epochs) {
    eras.emplace_back(
        record.last_version,
        config_for_epoch(current, record.certificate.statement.epoch - 1, record.previous));
  }
  for (std::size_t i = 1; i < entries.size(); ++i) {
    const auto& entry = entries[i];
    const auto* era = &current;
    for (const auto& [last_version, config] : eras) {
      if (entry.version <= last_version) {
        era = &config;
        break;
      }
    }
    const auto& config = *era;
    auto quorum = config.quorum();
    auto max_fail = config.n() >= quorum ? config.n() - quorum : 0;
    const auto& previous = entries[i - 1];
    auto where = fmt::format("entry {} (version {})", i, entry.version);
    if (entry.version <= previous.version)
      throw DecodeError(where + ": versions do not strictly increase");
    if (entry.size == 0) throw DecodeError(where + ": size is zero");
    if (entry.previous_entry_hash != previous.entry_hash) {
      throw DecodeError(where + ": previous_entry_hash does not link to the entry before");
    }
    if (entry.entry_hash != compute_entry_hash(entry))
      throw DecodeError(where + ": entry_hash is wrong");
    if (entry.state == EntryState::kStable) throw DecodeError(where + ": only genesis is STABLE");
    if (entry.state == EntryState::kBetaTesting && i + 1 != entries.size()) {
      throw DecodeError(where + ": only the newest entry can be BETA_TESTING");
    }
    std::vector<std::uint32_t> voters;
    for (const auto& vote : entry.votes) {
      if (config.find_validator(vote.validator) == nullptr) {
        throw DecodeError(fmt::format("{}: vote from unknown validator {}", where, vote.validator));
      }
      if (std::find(voters.begin(), voters.end(), vote.validator) != voters.end()) {
        throw DecodeError(fmt::format("{}: validator {} voted twice", where, vote.validator));
      }
      voters.push_back(vote.validator);
      if ((vote.verdict == Verdict::kPass) != vote.release_approval.has_value()) {
        throw DecodeError(
            fmt::format("{}: vote of validator {}: a release approval must come with PASS "
                        "and only with PASS",
                        where, vote.validator));
      }
    }
    // The vote that decides an entry is its last: the counts pin down the state.
    auto passes = entry.pass_votes();
    auto fails = entry.fail_votes();
    bool counts_fit = false;
    switch (entry.state) {
      case EntryState::kBetaTesting:
        counts_fit = passes < quorum && fails <= max_fail;
        break;
      case EntryState::kReleaseCommit:
        counts_fit = passes == quorum && fails <= max_fail;
        break;
      // Rejected by votes (max_fail + 1 FAILs) or superseded, which needs a newer entry.
      case EntryState::kRejected:
        counts_fit = passes < quorum &&
                     (fails == max_fail + 1 || (fails <= max_fail && i + 1 < entries.size()));
        break;
      case EntryState::kStable:
        break;
    }
    if (!counts_fit) {
      throw DecodeError(fmt::format("{}: {} PASS and {} FAIL votes contradict state {}", where,
                                    passes, fails, to_string(entry.state)));
    }
    if (entry.state == EntryState::kReleaseCommit) {
      crypto::ReleaseCertificate expected;
      expected.statement = release_statement(config, entry);
      for (const auto& vote : entry.votes) {
        if (vote.verdict == Verdict::kPass)
          expected.add_signature(vote.validator, *vote.release_approval);
      }
      if (!entry.certificate || *entry.certificate != expected) {
        throw DecodeError(where + ": the certificate is not the one its PASS votes make");
      }
    } else if (entry.certificate) {
      throw DecodeError(
          fmt::format("{}: a {} entry has a certificate", where, to_string(entry.state)));
    }
  }
}

void check_log(const RegisterContents& contents) {
  const auto& base = contents.log_base;
  if (base.records !=
      base.valid_proposals + base.valid_votes + base.invalid + base.valid_reconfigurations) {
    throw DecodeError("the log base's counts do not add up to its pruned records");
  }
  if ((base.records == 0) != (base.last_hash == Digest{})) {
    throw DecodeError("the log base's hash and its record count disagree");
  }
  Digest previous = base.last_hash;
  auto valid_proposals = base.valid_proposals;
  auto valid_votes = base.valid_votes;
  auto valid_reconfigurations = base.valid_reconfigurations;
  for (std::size_t i = 0; i < contents.log.size(); ++i) {
    const auto& record = contents.log[i];
    auto expected_index = base.records + i;
    auto where = fmt::format("log record {}", expected_index);
    if (record.index != expected_index)
      throw DecodeError(fmt::format("{}: index is {}", where, record.index));
    if (record.previous_hash != previous)
      throw DecodeError(where + ": previous_hash does not link");
    if (record.record_hash != compute_record_hash(record))
      throw DecodeError(where + ": record_hash is wrong");
    if (record.valid && record.kind == OpKind::kPropose) ++valid_proposals;
    if (record.valid && record.kind == OpKind::kVote) ++valid_votes;
    if (record.valid && record.kind == OpKind::kReconfigure) ++valid_reconfigurations;
    if (record.valid && (record.kind == OpKind::kUnknown || record.kind == OpKind::kEpochApproval))
      throw DecodeError(
          fmt::format("{}: a valid {} is never logged", where, to_string(record.kind)));
    previous = record.record_hash;
  }
  std::size_t votes = 0;
  for (const auto& entry : contents.entries) votes += entry.votes.size();
  if (valid_proposals + 1 != contents.entries.size() || valid_votes != votes) {
    throw DecodeError(
        fmt::format("the log's {} valid proposals and {} valid votes do not match {} entries "
                    "and {} votes",
                    valid_proposals, valid_votes, contents.entries.size() - 1, votes));
  }
  if (valid_reconfigurations != contents.epochs.size() + (contents.handover ? 1 : 0)) {
    throw DecodeError(fmt::format(
        "the log's {} reconfigurations do not match {} epochs and {} handover under way",
        valid_reconfigurations, contents.epochs.size(), contents.handover ? 1 : 0));
  }
}

// The newest released version at or below `version` (0: none).
std::uint64_t last_release_up_to(const RegisterContents& contents, std::uint64_t version) {
  std::uint64_t released = 0;
  for (const auto& entry : contents.entries) {
    if (entry.version <= version && entry.state == EntryState::kReleaseCommit)
      released = entry.version;
  }
  return released;
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

}  // namespace

Bytes encode_snapshot(const ClusterConfig& config, const RegisterContents& contents) {
  Encoder encoder;
  encoder.fixed(kSnapshotMagic).u8(kSnapshotFormatVersion).str(config.cluster_id).u64(config.epoch);
  encoder.u64(contents.entries.size());
  for (const auto& entry : contents.entries) encode_entry(encoder, entry);
  encoder.u64(contents.log_base.records)
      .fixed(contents.log_base.last_hash.bytes)
      .u64(contents.log_base.valid_proposals)
      .u64(contents.log_base.valid_votes)
      .u64(contents.log_base.invalid);
  encoder.u64(contents.log_base.valid_reconfigurations);
  encoder.u64(contents.log.size());
  for (const auto& record : contents.log) encode_record(encoder, record);
  encode_epochs(encoder, contents);
  auto checksum = crypto::sha256(encoder.data());
  encoder.fixed(checksum.bytes);
  return encoder.take();
}

namespace {
constexpr std::array<std::uint8_t, 8> kSnapshotDigestTag = {'b', 'f', 't', 'g', 'r', 'e', 'g', 's'};
constexpr std::array<std::uint8_t, 8> kBadSnapshotDigestTag = {'b', 'f', 't', 'g',
                                                               'r', 'e', 'g', '!'};
}  // namespace

crypto::Digest digest_of_encoded(ByteView encoded_snapshot) {
  crypto::Sha256 hasher;
  hasher.update(kSnapshotDigestTag).update(encoded_snapshot.last(crypto::kDigestSize));
  return hasher.finish();
}

crypto::Digest snapshot_digest(ByteView snapshot) {
  if (snapshot.size() >= crypto::kDigestSize) {
    auto body = snapshot.first(snapshot.size() - crypto::kDigestSize);
    auto checksum = snapshot.last(crypto::kDigestSize);
    if (std::equal(checksum.begin(), checksum.end(), crypto::sha256(body).bytes.begin())) {
      return digest_of_encoded(snapshot);
    }
  }
  crypto::Sha256 hasher;
  hasher.update(kBadSnapshotDigestTag).update(snapshot);
  return hasher.finish();
}

Result<RegisterContents> decode_snapshot(const ClusterConfig& config, ByteView snapshot) {
  try {
    if (snapshot.size() < crypto::kDigestSize) throw DecodeError("shorter than its checksum");
    auto body = snapshot.first(snapshot.size() - crypto::kDigestSize);
    auto checksum = snapshot.last(crypto::kDigestSize);
    if (!std::equal(checksum.begin(), checksum.end(), crypto::sha256(body).bytes.begin())) {
      throw DecodeError("checksum mismatch (truncated or corrupted)");
    }

    Decoder decoder(body);
    auto magic = decoder.fixed(kSnapshotMagic.size(), "magic");
    if (!std::equal(magic.begin(), magic.end(), kSnapshotMagic.begin())) {
      throw DecodeError("not a register snapshot (bad magic)");
    }
    auto format = decoder.u8("format_version");
    if (format != kSnapshotFormatVersion) {
      throw DecodeError(fmt::format("unsupported format version {}", format));
    }
    auto cluster_id = decoder.str(kMaxClusterIdSize, "cluster_id");
    auto epoch = decoder.u64("epoch");
    if (cluster_id != config.cluster_id || epoch != config.epoch) {
      throw DecodeError(
          fmt::format("it is for cluster '{}' epoch {}, this register is cluster '{}' epoch {}",
                      printable(cluster_id), epoch, config.cluster_id, config.epoch));
    }

    RegisterContents contents;
    auto entries = decoder.u64("entry_count");
    for (std::uint64_t i = 0; i < entries; ++i) contents.entries.push_back(decode_entry(decoder));
    contents.log_base.records = decoder.u64("log_base.records");
    auto last_hash = decoder.fixed(crypto::kDigestSize, "log_base.last_hash");
    std::copy(last_hash.begin(), last_hash.end(), contents.log_base.last_hash.bytes.begin());
    contents.log_base.valid_proposals = decoder.u64("log_base.valid_proposals");
    contents.log_base.valid_votes = decoder.u64("log_base.valid_votes");
    contents.log_base.invalid = decoder.u64("log_base.invalid");
    contents.log_base.valid_reconfigurations = decoder.u64("log_base.valid_reconfigurations");
    auto records = decoder.u64("log_count");
    for (std::uint64_t i = 0; i < records; ++i) contents.log.push_back(decode_record(decoder));
    decode_epochs(decoder, contents);
    decoder.expect_end("snapshot");

    check_entries(config, contents);
    check_log(contents);
    check_epochs(config, contents);
    return contents;
  } catch (const DecodeError& e) {
    return Error{fmt::format("register snapshot refused: {}", e.what())};
  }
}

}  // namespace bftgate::bft
