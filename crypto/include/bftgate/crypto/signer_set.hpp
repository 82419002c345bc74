// A set of validator ids as a bitmap (libhotstuff's quorum-certificate pattern): a signer is
// a bit, so it can be present once and only once.
#pragma once

#include <cstdint>
#include <vector>

#include "bftgate/base/bytes.hpp"
#include "bftgate/base/result.hpp"

namespace bftgate::crypto {

class SignerSet {
 public:
  // Adds an id; false if it was already present.
  bool insert(std::uint32_t id);
  bool contains(std::uint32_t id) const;
  std::size_t count() const;
  bool empty() const { return count() == 0; }
  // Ids in ascending order.
  std::vector<std::uint32_t> ids() const;
  // Index of `id` among the set's ids in ascending order (its rank); id must be present.
  std::size_t rank(std::uint32_t id) const;

  // Canonical bytes: bit i of byte i/8 is id i; no trailing zero bytes.
  Bytes to_bytes() const;
  // Refuses a non-canonical form (trailing zero byte) or ids above max_id.
  static Result<SignerSet> from_bytes(ByteView bytes, std::uint32_t max_id);

  bool operator==(const SignerSet&) const = default;

 private:
  std::vector<std::uint8_t> bits_;  // never ends in a zero byte
};

}  // namespace bftgate::crypto
