// The validators whose approvals a release certificate needs: the cluster and validator-set
// epoch they sign for, the fault model and f that set the quorum, and each member's public key.
// Certificates are verified against this alone; the cluster config (bftgate/config) says where
// the validators are and makes one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bftgate/base/encoding.hpp"
#include "bftgate/base/result.hpp"
#include "bftgate/crypto/ed25519.hpp"
#include "bftgate/crypto/sha256.hpp"

namespace bftgate {

enum class FaultModel { kBft, kCft };
std::string_view to_string(FaultModel model);
std::optional<FaultModel> parse_fault_model(std::string_view text);

// Cluster ids: 1 to 256 characters from [A-Za-z0-9._-]. They appear in every certificate, in
// logs and on terminals, so no byte sequence that could be mistaken for anything else.
inline constexpr std::size_t kMaxClusterIdSize = 256;
bool is_valid_cluster_id(std::string_view id);

// Validator ids index the signer bitmap of a certificate, so they are bounded.
inline constexpr std::uint32_t kMaxValidatorId = 1023;
// Validators per set: every client and validator process holds one ZeroMQ socket (and a file
// descriptor or more) per validator, and one ZeroMQ context holds at most 1,023 sockets by
// default; 256 leaves room for the rest under the usual limit of 1,024 open files.
inline constexpr std::size_t kMaxValidators = 256;

// Approvals a release needs from n validators. BFT: the smallest quorum any two of which
// intersect in at least f+1 validators, ceil((n+f+1)/2), which is 2f+1 when n = 3f+1.
// CFT: a majority, floor(n/2)+1.
std::size_t quorum_size(FaultModel model, std::size_t n, std::uint32_t f);

struct ValidatorKey {
  std::uint32_t id = 0;
  crypto::PublicKey public_key;
  bool operator==(const ValidatorKey&) const = default;
};

struct ValidatorSet {
  std::string cluster_id;
  std::uint64_t epoch = 0;
  FaultModel fault_model = FaultModel::kBft;
  std::uint32_t f = 0;
  std::vector<ValidatorKey> validators;

  std::size_t n() const { return validators.size(); }
  std::size_t quorum() const { return quorum_size(fault_model, n(), f); }
  // Validator `id`'s key, or none when `id` is not in the set.
  const crypto::PublicKey* find_key(std::uint32_t id) const;

  // A set that can sign anything: a valid cluster id, 1 to kMaxValidators validators with
  // distinct ids (at most kMaxValidatorId) and distinct keys, and n >= 3f+1 (BFT) or 2f+1 (CFT).
  // The first problem, with why.
  Status check() const;
  // Canonical bytes (validators in ascending id order, whatever order they are held in) and
  // their SHA-256: what epoch certificates name a set by.
  Bytes encode() const;
  static ValidatorSet decode(crypto::Decoder& decoder);  // throws DecodeError; check() is separate
  crypto::Digest digest() const;
  bool operator==(const ValidatorSet&) const = default;
};

}  // namespace bftgate
