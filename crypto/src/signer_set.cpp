#include "bftgate/crypto/signer_set.hpp"

#include <bit>
#include <fmt/format.h>

namespace bftgate::crypto {

bool SignerSet::insert(std::uint32_t id) {
  std::size_t byte = id / 8;
  auto mask = static_cast<std::uint8_t>(1u << (id % 8));
  if (byte >= bits_.size()) bits_.resize(byte + 1, 0);
  if ((bits_[byte] & mask) != 0) return false;
  bits_[byte] = static_cast<std::uint8_t>(bits_[byte] | mask);
  return true;
}

bool SignerSet::contains(std::uint32_t id) const {
  std::size_t byte = id / 8;
  return byte < bits_.size() && (bits_[byte] & (1u << (id % 8))) != 0;
}

std::size_t SignerSet::count() const {
  std::size_t total = 0;
  for (auto byte : bits_) total += static_cast<std::size_t>(std::popcount(byte));
  return total;
}

std::vector<std::uint32_t> SignerSet::ids() const {
  std::vector<std::uint32_t> out;
  for (std::size_t byte = 0; byte < bits_.size(); ++byte) {
    for (unsigned bit = 0; bit < 8; ++bit) {
      if ((bits_[byte] & (1u << bit)) != 0) out.push_back(static_cast<std::uint32_t>(byte * 8 + bit));
    }
  }
  return out;
}

std::size_t SignerSet::rank(std::uint32_t id) const {
  std::size_t byte = id / 8;
  std::size_t total = 0;
  for (std::size_t i = 0; i < byte && i < bits_.size(); ++i) {
    total += static_cast<std::size_t>(std::popcount(bits_[i]));
  }
  if (byte < bits_.size()) {
    auto below = static_cast<std::uint8_t>(bits_[byte] & ((1u << (id % 8)) - 1));
    total += static_cast<std::size_t>(std::popcount(below));
  }
  return total;
}

Bytes SignerSet::to_bytes() const { return bits_; }

Result<SignerSet> SignerSet::from_bytes(ByteView bytes, std::uint32_t max_id) {
  if (!bytes.empty() && bytes.back() == 0) {
    return Error{"signer bitmap is not canonical (ends in a zero byte)"};
  }
  SignerSet set;
  set.bits_.assign(bytes.begin(), bytes.end());
  if (!set.bits_.empty()) {
    auto highest = static_cast<std::uint32_t>((set.bits_.size() - 1) * 8) +
                   static_cast<std::uint32_t>(std::bit_width(set.bits_.back())) - 1;
    if (highest > max_id) {
      return Error{fmt::format("signer bitmap names validator id {} above the maximum {}", highest, max_id)};
    }
  }
  return set;
}

}  // namespace bftgate::crypto
