// Memoised Ed25519 verification: a signature already verified over the same bytes under the same
// key need not be verified again. One simulation shares one cache among all its replicas, which
// otherwise verify every vote n times over (the simulator's largest cost); a validator process
// verifies each client request on arrival and again inside the primary's batch. With a capacity,
// memory stays bounded: two generations of at most capacity/2 names each, the older dropped
// whole when the newer fills. Statements of at most kVerbatimBytes are remembered verbatim,
// found by their signature (a hit compares bytes instead of hashing them), in two generations of
// their own. Not thread-safe.
#pragma once

#include <cstdint>
#include <unordered_map>
#include <unordered_set>

#include "bftgate/crypto/ed25519.hpp"

namespace bftgate::crypto {

class VerifyCache {
 public:
  explicit VerifyCache(std::size_t capacity = 0) : capacity_(capacity) {}  // 0: unbounded

  // Same result as crypto::verify; only successes are remembered.
  bool verify(const PublicKey& key, Domain domain, ByteView body, const Signature& signature);

  std::uint64_t hits() const { return hits_; }
  std::uint64_t misses() const { return misses_; }

  static constexpr std::size_t kVerbatimBytes = 256;

 private:
  struct Statement {
    PublicKey key;
    Domain domain;
    Bytes body;
  };
  struct SignatureHash {
    std::size_t operator()(const std::array<std::uint8_t, kSignatureSize>& s) const {
      std::size_t h = 0;
      for (std::size_t i = 0; i < sizeof h; ++i) h = (h << 8) | s[i];
      return h;
    }
  };
  using Statements =
      std::unordered_multimap<std::array<std::uint8_t, kSignatureSize>, Statement, SignatureHash>;
  bool verify_small(const PublicKey& key, Domain domain, ByteView body, const Signature& signature);
  static bool holds(const Statements& statements, const PublicKey& key, Domain domain,
                    ByteView body, const Signature& signature);

  struct KeyHash {
    std::size_t operator()(const std::array<std::uint8_t, 32>& key) const {
      std::size_t h = 0;
      for (std::size_t i = 0; i < sizeof h; ++i) h = (h << 8) | key[i];
      return h;
    }
  };
  using NameSet = std::unordered_set<std::array<std::uint8_t, 32>, KeyHash>;
  std::size_t capacity_;
  NameSet verified_;
  NameSet older_;  // the previous generation (bounded caches only)
  Statements small_;
  Statements older_small_;
  std::uint64_t hits_ = 0;
  std::uint64_t misses_ = 0;
};

// crypto::verify through `cache` when it is set.
bool verify_with(VerifyCache* cache, const PublicKey& key, Domain domain, ByteView body,
                 const Signature& signature);

}  // namespace bftgate::crypto
