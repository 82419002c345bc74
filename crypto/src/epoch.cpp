#include "bftgate/crypto/epoch.hpp"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "bftgate/base/json_reader.hpp"
#include "bftgate/base/strict_json.hpp"

namespace bftgate::crypto {

namespace {

constexpr std::string_view kEpochFormat = "bftgate-epoch-certificate/v1";
// A certificate is its statement and at most kMaxValidatorId+1 signatures.
constexpr std::size_t kMaxCertificateBytes = 1024 + (kMaxValidatorId + 1) * (kSignatureSize + 1);

CertVerdict epoch_refusal(CertError error, std::string reason) {
  return {error, std::move(reason)};
}

}  // namespace

Bytes EpochStatement::encode() const {
  Encoder encoder;
  encoder.str(cluster_id)
      .u64(epoch)
      .fixed(previous_set.bytes)
      .fixed(next_set.bytes)
      .u64(switch_seq)
      .fixed(state_digest.bytes)
      .u64(last_release);
  return encoder.take();
}

EpochStatement EpochStatement::decode(Decoder& decoder) {
  EpochStatement statement;
  statement.cluster_id = decoder.str(kMaxClusterIdSize, "cluster_id");
  if (!is_valid_cluster_id(statement.cluster_id))
    throw DecodeError("cluster_id must be 1 to 256 characters from A-Z a-z 0-9 . _ -");
  statement.epoch = decoder.u64("epoch");
  if (statement.epoch == 0) throw DecodeError("epoch 0 has no set before it to approve it");
  statement.previous_set.bytes = decoder.fixed_array<kDigestSize>("previous_set");
  statement.next_set.bytes = decoder.fixed_array<kDigestSize>("next_set");
  statement.switch_seq = decoder.u64("switch_seq");
  statement.state_digest.bytes = decoder.fixed_array<kDigestSize>("state_digest");
  statement.last_release = decoder.u64("last_release");
  return statement;
}

Bytes EpochCertificate::encode() const {
  Encoder encoder;
  encoder.u8(kFormatVersion).fixed(statement.encode());
  approvals.encode_to(encoder);
  return encoder.take();
}

Result<EpochCertificate, CertVerdict> EpochCertificate::decode(ByteView bytes) {
  try {
    Decoder decoder(bytes);
    auto version = decoder.u8("format_version");
    if (version != kFormatVersion) {
      return epoch_refusal(CertError::kMalformed,
                           fmt::format("unsupported epoch certificate format version {}", version));
    }
    EpochCertificate certificate;
    certificate.statement = EpochStatement::decode(decoder);
    certificate.approvals = QuorumSignatures::decode_from(decoder);
    decoder.expect_end("epoch certificate");
    return certificate;
  } catch (const DecodeError& e) {
    return epoch_refusal(CertError::kMalformed, e.what());
  }
}

nlohmann::json EpochCertificate::to_json() const {
  return {
      {"format", kEpochFormat},
      {"cluster_id", statement.cluster_id},
      {"epoch", statement.epoch},
      {"previous_set", statement.previous_set.hex()},
      {"next_set", statement.next_set.hex()},
      {"switch_seq", statement.switch_seq},
      {"state_digest", statement.state_digest.hex()},
      {"last_release", statement.last_release},
      {"signatures", approvals.to_json()},
  };
}

Result<EpochCertificate, CertVerdict> EpochCertificate::from_json(const nlohmann::json& root) {
  JsonObjectReader fields(root, "epoch certificate",
                          {"format", "cluster_id", "epoch", "previous_set", "next_set",
                           "switch_seq", "state_digest", "last_release", "signatures"});
  if (fields.ok() && fields.string_or("format", "") != kEpochFormat)
    fields.fail("format", fmt::format("must be \"{}\"", kEpochFormat));
  EpochCertificate certificate;
  auto& statement = certificate.statement;
  statement.cluster_id = fields.string("cluster_id");
  if (fields.ok() && !is_valid_cluster_id(statement.cluster_id))
    fields.fail("cluster_id", "must be 1 to 256 characters from A-Z a-z 0-9 . _ -");
  statement.epoch = fields.unsigned_int("epoch");
  if (fields.ok() && statement.epoch == 0)
    fields.fail("epoch", "must be at least 1 (epoch 0 has no set before it)");
  const auto digest = [&](std::string_view key) {
    auto text = fields.string(key);
    if (!fields.ok()) return Digest{};
    auto value = Digest::from_hex(text);
    if (!value) fields.fail(key, fmt::format("must be {} hex digits", 2 * kDigestSize));
    return value ? *value : Digest{};
  };
  statement.previous_set = digest("previous_set");
  statement.next_set = digest("next_set");
  statement.switch_seq = fields.unsigned_int("switch_seq");
  statement.state_digest = digest("state_digest");
  statement.last_release = fields.unsigned_int("last_release");
  const auto& signatures = fields.array("signatures");
  if (!fields.ok()) return epoch_refusal(CertError::kMalformed, fields.error());
  auto approvals = QuorumSignatures::from_json(signatures, "signatures");
  if (!approvals) return approvals.error();
  certificate.approvals = std::move(approvals.value());
  return certificate;
}

Signature sign_epoch(const SecretKey& key, const EpochStatement& statement) {
  return key.sign(Domain::kEpochApproval, statement.encode());
}

CertVerdict verify_epoch_link(const EpochCertificate& certificate, const ValidatorSet& previous,
                              const ValidatorSet& next, const QuorumCheck& check) {
  const auto& statement = certificate.statement;
  if (statement.cluster_id != previous.cluster_id || next.cluster_id != previous.cluster_id) {
    return epoch_refusal(
        CertError::kWrongCluster,
        // Printable: a set built in memory has had no decoder check its cluster id.
        fmt::format("the certificate is for cluster '{}', the sets for '{}' and '{}'",
                    printable(statement.cluster_id, 64), printable(previous.cluster_id, 64),
                    printable(next.cluster_id, 64)));
  }
  if (next.epoch != previous.epoch + 1 || statement.epoch != next.epoch) {
    return epoch_refusal(
        CertError::kWrongEpoch,
        fmt::format("epoch {} does not follow epoch {} (the certificate is for epoch "
                    "{}): a chain has no gaps",
                    next.epoch, previous.epoch, statement.epoch));
  }
  if (statement.previous_set != previous.digest()) {
    return epoch_refusal(
        CertError::kWrongSet,
        fmt::format("the certificate was made by another set of epoch {} than this "
                    "one ({} against {})",
                    previous.epoch, statement.previous_set.hex().substr(0, 16),
                    previous.digest().hex().substr(0, 16)));
  }
  if (statement.next_set != next.digest()) {
    return epoch_refusal(
        CertError::kWrongSet,
        fmt::format("the certificate approves another set of epoch {} than this one "
                    "({} against {})",
                    next.epoch, statement.next_set.hex().substr(0, 16),
                    next.digest().hex().substr(0, 16)));
  }
  if (auto shape = next.check(); !shape) {
    return epoch_refusal(CertError::kMalformed, fmt::format("the set of epoch {} cannot sign: {}",
                                                            next.epoch, shape.error().message));
  }
  return verify_quorum(certificate.approvals, previous, Domain::kEpochApproval, statement.encode(),
                       check);
}

Bytes EpochLink::encode() const {
  Encoder encoder;
  encoder.bytes(certificate.encode()).fixed(set.encode());
  return encoder.take();
}

Result<EpochLink, CertVerdict> EpochLink::decode(ByteView bytes) {
  try {
    Decoder decoder(bytes);
    auto certificate = EpochCertificate::decode(decoder.bytes(kMaxCertificateBytes, "certificate"));
    if (!certificate) return certificate.error();
    EpochLink link{std::move(certificate.value()), ValidatorSet::decode(decoder)};
    decoder.expect_end("epoch link");
    return link;
  } catch (const DecodeError& e) {
    return epoch_refusal(CertError::kMalformed, e.what());
  }
}

Result<ValidatorSet, CertVerdict> walk_epoch_chain(const ValidatorSet& trusted,
                                                   const std::vector<EpochLink>& links,
                                                   const QuorumCheck& check) {
  ValidatorSet current = trusted;
  for (const auto& link : links) {
    if (link.set.epoch <= current.epoch && link.set.cluster_id == current.cluster_id) continue;
    auto verdict = verify_epoch_link(link.certificate, current, link.set, check);
    if (!verdict.ok()) {
      return epoch_refusal(verdict.error, fmt::format("epoch {} -> {}: {}", current.epoch,
                                                      link.set.epoch, verdict.reason));
    }
    current = link.set;
  }
  return current;
}

}  // namespace bftgate::crypto
