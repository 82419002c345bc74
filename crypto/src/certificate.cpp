#include "bftgate/crypto/certificate.hpp"

#include <fmt/format.h>

namespace bftgate::crypto {

namespace {
CertVerdict refuse(CertError error, std::string reason) {
  return {error, std::move(reason)};
}
}  // namespace

Bytes ReleaseStatement::encode() const {
  Encoder encoder;
  encoder.str(cluster_id)
      .u64(epoch)
      .u64(adapter_version)
      .fixed(artifact_digest.bytes)
      .fixed(previous_entry_hash.bytes);
  return encoder.take();
}

ReleaseStatement ReleaseStatement::decode(Decoder& decoder) {
  ReleaseStatement statement;
  statement.cluster_id = decoder.str(kMaxClusterIdSize, "cluster_id");
  if (!is_valid_cluster_id(statement.cluster_id)) {
    throw DecodeError("cluster_id must be 1 to 256 characters from A-Z a-z 0-9 . _ -");
  }
  statement.epoch = decoder.u64("epoch");
  statement.adapter_version = decoder.u64("adapter_version");
  statement.artifact_digest.bytes = decoder.fixed_array<kDigestSize>("artifact_digest");
  statement.previous_entry_hash.bytes = decoder.fixed_array<kDigestSize>("previous_entry_hash");
  return statement;
}

Signature sign_release(const SecretKey& key, const ReleaseStatement& statement) {
  return key.sign(Domain::kReleaseApproval, statement.encode());
}

bool verify_release_signature(const PublicKey& key, const ReleaseStatement& statement,
                              const Signature& signature) {
  return verify(key, Domain::kReleaseApproval, statement.encode(), signature);
}

Bytes ReleaseCertificate::encode() const {
  Encoder encoder;
  encoder.u8(kFormatVersion).fixed(statement.encode());
  approvals_.encode_to(encoder);
  return encoder.take();
}

Result<ReleaseCertificate, CertVerdict> ReleaseCertificate::decode(ByteView bytes) {
  try {
    Decoder decoder(bytes);
    auto version = decoder.u8("format_version");
    if (version != kFormatVersion) {
      return refuse(CertError::kMalformed,
                    fmt::format("unsupported certificate format version {}", version));
    }
    ReleaseCertificate certificate;
    certificate.statement = ReleaseStatement::decode(decoder);
    certificate.approvals_ = QuorumSignatures::decode_from(decoder);
    decoder.expect_end("certificate");
    return certificate;
  } catch (const DecodeError& e) {
    return refuse(CertError::kMalformed, e.what());
  }
}

CertVerdict verify(const ReleaseCertificate& certificate, const ValidatorSet& config,
                   const VerifyOptions& options) {
  const auto& statement = certificate.statement;
  if (statement.cluster_id != config.cluster_id) {
    return refuse(CertError::kWrongCluster,
                  fmt::format("certificate is for cluster '{}', the config is for cluster '{}'",
                              statement.cluster_id, config.cluster_id));
  }
  if (statement.epoch != config.epoch) {
    return refuse(CertError::kWrongEpoch,
                  fmt::format("certificate is for validator-set epoch {}, the config is epoch {}",
                              statement.epoch, config.epoch));
  }
  auto quorum =
      verify_quorum(certificate.approvals(), config, Domain::kReleaseApproval, statement.encode(),
                    {.threads = options.threads, .cache = options.cache});
  if (!quorum.ok()) return quorum;
  if (options.artifact_digest && *options.artifact_digest != statement.artifact_digest) {
    return refuse(CertError::kDigestMismatch,
                  fmt::format("artifact digest {} does not match the certified digest {}",
                              options.artifact_digest->hex(), statement.artifact_digest.hex()));
  }
  return CertVerdict::success();
}

}  // namespace bftgate::crypto
