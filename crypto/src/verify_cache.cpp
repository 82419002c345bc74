#include "bftgate/crypto/verify_cache.hpp"

#include <algorithm>
#include <utility>

#include "bftgate/crypto/sha256.hpp"

namespace bftgate::crypto {

namespace {
// Adds to the newer generation, first dropping the older one whole when the newer is full.
template <class Set, class... Args>
void remember(Set& newer, Set& older, std::size_t capacity, Args&&... args) {
  if (capacity > 0 && newer.size() >= std::max<std::size_t>(1, capacity / 2)) {
    older = std::move(newer);
    newer = Set{};
  }
  newer.emplace(std::forward<Args>(args)...);
}
}  // namespace

bool VerifyCache::holds(const Statements& statements, const PublicKey& key, Domain domain,
                        ByteView body, const Signature& signature) {
  auto [begin, end] = statements.equal_range(signature.bytes);
  for (auto it = begin; it != end; ++it) {
    const auto& s = it->second;
    if (s.key == key && s.domain == domain &&
        std::equal(s.body.begin(), s.body.end(), body.begin(), body.end())) {
      return true;
    }
  }
  return false;
}

bool VerifyCache::verify_small(const PublicKey& key, Domain domain, ByteView body,
                               const Signature& signature) {
  if (holds(small_, key, domain, body, signature) ||
      holds(older_small_, key, domain, body, signature)) {
    ++hits_;
    return true;
  }
  ++misses_;
  if (!crypto::verify(key, domain, body, signature)) return false;
  remember(small_, older_small_, capacity_, signature.bytes,
           Statement{key, domain, Bytes(body.begin(), body.end())});
  return true;
}

bool VerifyCache::verify(const PublicKey& key, Domain domain, ByteView body,
                         const Signature& signature) {
  if (body.size() <= kVerbatimBytes) return verify_small(key, domain, body, signature);
  // SHA-256 of (key, domain, body, signature) names the verified statement; collisions would
  // need a SHA-256 collision.
  Sha256 hasher;
  auto domain_tag = static_cast<std::uint16_t>(domain);
  std::array<std::uint8_t, 2> tag = {static_cast<std::uint8_t>(domain_tag),
                                     static_cast<std::uint8_t>(domain_tag >> 8)};
  hasher.update(key.bytes).update(tag).update(signature.bytes).update(body);
  auto name = hasher.finish().bytes;
  if (verified_.contains(name) || older_.contains(name)) {
    ++hits_;
    return true;
  }
  ++misses_;
  if (!crypto::verify(key, domain, body, signature)) return false;
  remember(verified_, older_, capacity_, name);
  return true;
}

bool verify_with(VerifyCache* cache, const PublicKey& key, Domain domain, ByteView body,
                 const Signature& signature) {
  return cache != nullptr ? cache->verify(key, domain, body, signature)
                          : crypto::verify(key, domain, body, signature);
}

}  // namespace bftgate::crypto
