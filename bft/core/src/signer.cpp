// Epoch binding of protocol signatures (signer.hpp).
#include "bftgate/core/signer.hpp"

#include <stdexcept>

namespace bftgate::bft {

namespace {

// "u64 epoch | body" in a buffer each thread reuses: signing and verifying are the core's
// hottest calls, and with the simulator's MACs an allocation each would cost a fifth of them.
ByteView with_epoch(std::uint64_t epoch, ByteView body) {
  thread_local Bytes buffer;
  buffer.clear();
  for (int i = 0; i < 8; ++i) buffer.push_back(static_cast<std::uint8_t>(epoch >> (8 * i)));
  buffer.insert(buffer.end(), body.begin(), body.end());
  return buffer;
}

}  // namespace

std::shared_ptr<const Signer> bind_epoch(std::shared_ptr<const Signer> signer,
                                         std::uint64_t epoch) {
  if (const auto* bound = dynamic_cast<const EpochSigner*>(signer.get())) {
    if (bound->epoch() != epoch) throw std::invalid_argument("a signer bound to another epoch");
    return signer;
  }
  return std::make_shared<EpochSigner>(std::move(signer), epoch);
}

std::shared_ptr<const Verifier> bind_epoch(std::shared_ptr<const Verifier> verifier,
                                           std::uint64_t epoch) {
  if (const auto* bound = dynamic_cast<const EpochVerifier*>(verifier.get())) {
    if (bound->epoch() != epoch) throw std::invalid_argument("a verifier bound to another epoch");
    return verifier;
  }
  return std::make_shared<EpochVerifier>(std::move(verifier), epoch);
}

bool binds_epoch(crypto::Domain domain) {
  return domain == crypto::Domain::kProtocolMessage || domain == crypto::Domain::kCheckpoint;
}

crypto::Signature EpochSigner::sign(crypto::Domain domain, ByteView body) const {
  return binds_epoch(domain) ? inner_->sign(domain, with_epoch(epoch_, body))
                             : inner_->sign(domain, body);
}

bool EpochVerifier::verify(PrincipalId signer, crypto::Domain domain, ByteView body,
                           const crypto::Signature& signature) const {
  return binds_epoch(domain) ? inner_->verify(signer, domain, with_epoch(epoch_, body), signature)
                             : inner_->verify(signer, domain, body, signature);
}

}  // namespace bftgate::bft
