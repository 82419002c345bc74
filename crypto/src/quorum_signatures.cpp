#include "bftgate/crypto/quorum_signatures.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <thread>

#include "bftgate/base/json_reader.hpp"

namespace bftgate::crypto {

namespace {

constexpr std::size_t kMaxBitmapSize = (kMaxValidatorId + 8) / 8;

CertVerdict quorum_refusal(CertError error, std::string reason) {
  return {error, std::move(reason)};
}

// Index of the first signature in [begin, end) that fails, or end.
std::size_t first_bad_signature(const QuorumSignatures& approvals, const ValidatorSet& set,
                                const std::vector<std::uint32_t>& ids, const Bytes& message,
                                std::size_t begin, std::size_t end) {
  for (std::size_t i = begin; i < end; ++i) {
    const auto* key = set.find_key(ids[i]);
    if (!verify_raw(*key, message, approvals.signatures()[i])) return i;
  }
  return end;
}

std::size_t first_bad_signature_cached(const QuorumSignatures& approvals, const ValidatorSet& set,
                                       const std::vector<std::uint32_t>& ids, Domain domain,
                                       const Bytes& body, VerifyCache& cache) {
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const auto* key = set.find_key(ids[i]);
    if (!cache.verify(*key, domain, body, approvals.signatures()[i])) return i;
  }
  return ids.size();
}

}  // namespace

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
    case CertError::kWrongSet:
      return "wrong-set";
    case CertError::kStaleEpoch:
      return "stale-epoch";
  }
  return "unknown";
}

bool QuorumSignatures::add(std::uint32_t id, const Signature& signature) {
  if (!signers_.insert(id)) return false;
  auto position = signers_.rank(id);
  signatures_.insert(signatures_.begin() + static_cast<std::ptrdiff_t>(position), signature);
  return true;
}

void QuorumSignatures::encode_to(Encoder& encoder) const {
  encoder.bytes(signers_.to_bytes());
  for (const auto& signature : signatures_) encoder.fixed(signature.bytes);
}

QuorumSignatures QuorumSignatures::decode_from(Decoder& decoder) {
  QuorumSignatures approvals;
  auto bitmap =
      SignerSet::from_bytes(decoder.bytes(kMaxBitmapSize, "signer_bitmap"), kMaxValidatorId);
  if (!bitmap) throw DecodeError(bitmap.error().message);
  approvals.signers_ = std::move(bitmap.value());
  for (std::size_t i = 0; i < approvals.signers_.count(); ++i) {
    approvals.signatures_.push_back(Signature{decoder.fixed_array<kSignatureSize>("signature")});
  }
  return approvals;
}

nlohmann::json QuorumSignatures::to_json() const {
  auto signatures = nlohmann::json::array();
  auto ids = signers_.ids();
  for (std::size_t i = 0; i < ids.size(); ++i) {
    signatures.push_back({{"validator", ids[i]}, {"signature", signatures_[i].hex()}});
  }
  return signatures;
}

Result<QuorumSignatures, CertVerdict> QuorumSignatures::from_json(const nlohmann::json& array,
                                                                  std::string_view what) {
  if (!array.is_array())
    return quorum_refusal(CertError::kMalformed, fmt::format("{}: not an array", what));
  QuorumSignatures approvals;
  for (std::size_t i = 0; i < array.size(); ++i) {
    JsonObjectReader entry(array[i], fmt::format("{}[{}]", what, i), {"validator", "signature"});
    auto id = entry.unsigned_int("validator", kMaxValidatorId);
    auto text = entry.string("signature");
    std::optional<Signature> signature;
    if (entry.ok()) {
      signature = Signature::from_hex(text);
      if (!signature)
        entry.fail("signature", fmt::format("must be {} hex digits", 2 * kSignatureSize));
    }
    if (!entry.ok()) return quorum_refusal(CertError::kMalformed, entry.error());
    if (!approvals.add(static_cast<std::uint32_t>(id), *signature)) {
      return quorum_refusal(
          CertError::kDuplicateSigner,
          fmt::format("validator {} signs more than once ({}[{}]); each signer counts "
                      "once",
                      id, what, i));
    }
  }
  return approvals;
}

CertVerdict verify_quorum(const QuorumSignatures& approvals, const ValidatorSet& set, Domain domain,
                          const Bytes& body, const QuorumCheck& check) {
  auto ids = approvals.signers().ids();
  if (ids.size() != approvals.signatures().size()) {
    return quorum_refusal(
        CertError::kMalformed,
        fmt::format("{} signers but {} signatures", ids.size(), approvals.signatures().size()));
  }
  for (auto id : ids) {
    if (set.find_key(id) == nullptr) {
      return quorum_refusal(
          CertError::kUnknownSigner,
          fmt::format("validator {} is not in the validator set of cluster '{}' epoch {}", id,
                      set.cluster_id, set.epoch));
    }
  }
  if (ids.size() < set.quorum()) {
    return quorum_refusal(
        CertError::kBelowThreshold,
        fmt::format("{} distinct signers, {} needed ({} of n={}, f={})", ids.size(), set.quorum(),
                    set.fault_model == FaultModel::kBft ? "BFT quorum" : "CFT majority", set.n(),
                    set.f));
  }
  // Every signature is over the same message: build it once.
  auto message = signing_message(domain, body);
  unsigned threads =
      check.threads == 0 ? std::max(1u, std::thread::hardware_concurrency()) : check.threads;
  // A thread costs tens of microseconds to start: only worth it with several signatures each.
  constexpr std::size_t kMinSignaturesPerThread = 8;
  threads = static_cast<unsigned>(
      std::clamp<std::size_t>(ids.size() / kMinSignaturesPerThread, 1, threads));
  std::size_t bad = ids.size();
  if (check.cache != nullptr) {
    bad = first_bad_signature_cached(approvals, set, ids, domain, body, *check.cache);
  } else if (threads <= 1) {
    bad = first_bad_signature(approvals, set, ids, message, 0, ids.size());
  } else {
    std::vector<std::size_t> first_bad(threads);
    std::vector<std::jthread> workers;
    auto chunk_begin = [&](unsigned t) { return ids.size() * t / threads; };
    for (unsigned t = 1; t < threads; ++t) {
      workers.emplace_back([&, t] {
        first_bad[t] =
            first_bad_signature(approvals, set, ids, message, chunk_begin(t), chunk_begin(t + 1));
      });
    }
    first_bad[0] = first_bad_signature(approvals, set, ids, message, 0, chunk_begin(1));
    workers.clear();  // joins
    for (unsigned t = 0; t < threads; ++t) {
      if (first_bad[t] != chunk_begin(t + 1)) {
        bad = first_bad[t];
        break;
      }
    }
  }
  if (bad != ids.size()) {
    return quorum_refusal(
        CertError::kBadSignature,
        fmt::format("signature of validator {} does not verify over this statement", ids[bad]));
  }
  return CertVerdict::success();
}

}  // namespace bftgate::crypto
