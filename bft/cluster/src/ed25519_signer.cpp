#include "bftgate/cluster/ed25519_signer.hpp"

namespace bftgate::bft {

Ed25519Verifier::Ed25519Verifier(const ClusterConfig& config,
                                 std::shared_ptr<crypto::VerifyCache> cache)
    : cache_(std::move(cache)) {
  for (const auto& v : config.validators) {
    keys_[v.id] = v.public_key;
    keys_[kValidatorClientBase + v.id] = v.public_key;
  }
  keys_[kOperatorPrincipal] = config.operator_public_key;
}

bool Ed25519Verifier::verify(PrincipalId signer, crypto::Domain domain, ByteView body,
                             const crypto::Signature& signature) const {
  auto it = keys_.find(signer);
  return it != keys_.end() &&
         crypto::verify_with(cache_.get(), it->second, domain, body, signature);
}

}  // namespace bftgate::bft
