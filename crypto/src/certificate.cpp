#include "bftgate/crypto/certificate.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <thread>

namespace bftgate::crypto {

namespace {
constexpr std::size_t kMaxBitmapSize = (kMaxValidatorId + 8) / 8;

CertVerdict refuse(CertError error, std::string reason) {
  return {error, std::move(reason)};
}

// Index of the first signature in [begin, end) that fails, or end.
std::size_t first_bad_signature(const ReleaseCertificate& certificate, const ValidatorSet& config,
                                const std::vector<std::uint32_t>& ids, const Bytes& message,
                                std::size_t begin, std::size_t end) {
  for (std::size_t i = begin; i < end; ++i) {
    const auto* key = config.find_key(ids[i]);
    if (!verify_raw(*key, message, certificate.signatures()[i])) return i;
  }
  return end;
}

std::size_t first_bad_signature_cached(const ReleaseCertificate& certificate,
                                       const ValidatorSet& config,
                                       const std::vector<std::uint32_t>& ids, VerifyCache& cache) {
  auto body = certificate.statement.encode();
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const auto* key = config.find_key(ids[i]);
    if (!cache.verify(*key, Domain::kReleaseApproval, body, certificate.signatures()[i])) return i;
  }
  return ids.size();
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

std::string_view to_string(CertError error) {
  switch (error) {
    case CertError::kOk:
      return "ok";
    case CertError::kMalformed:
      return "malformed";
    case CertError::kWrongCluster:
      return "wrong-cluster";
    case CertError::kWrongEpoch:
      return "wrong-epoch";
    case CertError::kUnknownSigner:
      return "unknown-signer";
    case CertError::kDuplicateSigner:
      return "duplicate-signer";
    case CertError::kBelowThreshold:
      return "below-threshold";
    case CertError::kBadSignature:
      return "bad-signature";
    case CertError::kDigestMismatch:
      return "digest-mismatch";
    case CertError::kArtifactUnreadable:
      return "artifact-unreadable";
  }
  return "unknown";
}

bool ReleaseCertificate::add_signature(std::uint32_t id, const Signature& signature) {
  if (!signers_.insert(id)) return false;
  auto position = signers_.rank(id);
  signatures_.insert(signatures_.begin() + static_cast<std::ptrdiff_t>(position), signature);
  return true;
}

Bytes ReleaseCertificate::encode() const {
  Encoder encoder;
  encoder.u8(kFormatVersion).fixed(statement.encode()).bytes(signers_.to_bytes());
  for (const auto& signature : signatures_) encoder.fixed(signature.bytes);
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
    auto bitmap =
        SignerSet::from_bytes(decoder.bytes(kMaxBitmapSize, "signer_bitmap"), kMaxValidatorId);
    if (!bitmap) return refuse(CertError::kMalformed, bitmap.error().message);
    certificate.signers_ = std::move(bitmap.value());
    for (std::size_t i = 0; i < certificate.signers_.count(); ++i) {
      certificate.signatures_.push_back(
          Signature{decoder.fixed_array<kSignatureSize>("signature")});
    }
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
  auto ids = certificate.signers().ids();
  if (ids.size() != certificate.signatures().size()) {
    return refuse(CertError::kMalformed, fmt::format("{} signers but {} signatures", ids.size(),
                                                     certificate.signatures().size()));
  }
  for (auto id : ids) {
    if (config.find_key(id) == nullptr) {
      return refuse(CertError::kUnknownSigner,
                    fmt::format("validator {} is not in the validator set of cluster '{}' epoch {}",
                                id, config.cluster_id, config.epoch));
    }
  }
  if (ids.size() < config.quorum()) {
    return refuse(
        CertError::kBelowThreshold,
        fmt::format("{} distinct signers, {} needed ({} of n={}, f={})", ids.size(),
                    config.quorum(),
                    config.fault_model == FaultModel::kBft ? "BFT quorum" : "CFT majority",
                    config.n(), config.f));
  }

  // Every signature is over the same message: build it once.
  auto message = signing_message(Domain::kReleaseApproval, statement.encode());
  unsigned threads =
      options.threads == 0 ? std::max(1u, std::thread::hardware_concurrency()) : options.threads;
  // A thread costs tens of microseconds to start: only worth it with several signatures each.
  constexpr std::size_t kMinSignaturesPerThread = 8;
  threads = static_cast<unsigned>(
      std::clamp<std::size_t>(ids.size() / kMinSignaturesPerThread, 1, threads));
  std::size_t bad = ids.size();
  if (options.cache != nullptr) {
    bad = first_bad_signature_cached(certificate, config, ids, *options.cache);
  } else if (threads <= 1) {
    bad = first_bad_signature(certificate, config, ids, message, 0, ids.size());
  } else {
    std::vector<std::size_t> first_bad(threads);
    std::vector<std::jthread> workers;
    auto chunk_begin = [&](unsigned t) { return ids.size() * t / threads; };
    for (unsigned t = 1; t < threads; ++t) {
      workers.emplace_back([&, t] {
        first_bad[t] = first_bad_signature(certificate, config, ids, message, chunk_begin(t),
                                           chunk_begin(t + 1));
      });
    }
    first_bad[0] = first_bad_signature(certificate, config, ids, message, 0, chunk_begin(1));
    workers.clear();  // joins
    for (unsigned t = 0; t < threads; ++t) {
      if (first_bad[t] != chunk_begin(t + 1)) {
        bad = first_bad[t];
        break;
      }
    }
  }
  if (bad != ids.size()) {
    return refuse(
        CertError::kBadSignature,
        fmt::format("signature of validator {} does not verify over this statement", ids[bad]));
  }

  if (options.artifact_digest && *options.artifact_digest != statement.artifact_digest) {
    return refuse(CertError::kDigestMismatch,
                  fmt::format("artifact digest {} does not match the certified digest {}",
                              options.artifact_digest->hex(), statement.artifact_digest.hex()));
  }
  return CertVerdict::success();
}

}  // namespace bftgate::crypto
