// Memoised Ed25519 verification: a signature already verified over the same bytes under the same
// key need not be verified again. One simulation shares one cache among all its replicas, which
// otherwise verify every vote n times over (the simulator's largest cost). Not thread-safe.
#pragma once

#include <cstdint>
#include <unordered_set>

#include "bftgate/crypto/ed25519.hpp"

namespace bftgate::crypto {

class VerifyCache {
 public:
  // Same result as crypto::verify; only successes are remembered.
  bool verify(const PublicKey& key, Domain domain, ByteView body, const Signature& signature);

  std::uint64_t hits() const { return hits_; }
  std::uint64_t misses() const { return misses_; }

 private:
  struct KeyHash {
    std::size_t operator()(const std::array<std::uint8_t, 32>& key) const {
      std::size_t h = 0;
      for (std::size_t i = 0; i < sizeof h; ++i) h = (h << 8) | key[i];
      return h;
    }
  };
  std::unordered_set<std::array<std::uint8_t, 32>, KeyHash> verified_;
  std::uint64_t hits_ = 0;
  std::uint64_t misses_ = 0;
};

// crypto::verify through `cache` when it is set.
bool verify_with(VerifyCache* cache, const PublicKey& key, Domain domain, ByteView body, const Signature& signature);

}  // namespace bftgate::crypto
