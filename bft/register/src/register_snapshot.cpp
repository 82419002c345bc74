#include "bftgate/register/register_snapshot.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "bftgate/base/strict_json.hpp"
#include "snapshot_epochs.hpp"

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
  detail::encode_epochs(encoder, contents);
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
    detail::decode_epochs(decoder, contents);
    decoder.expect_end("snapshot");

    check_entries(config, contents);
    check_log(contents);
    detail::check_epochs(config, contents);
    return contents;
  } catch (const DecodeError& e) {
    return Error{fmt::format("register snapshot refused: {}", e.what())};
  }
}

}  // namespace bftgate::bft
