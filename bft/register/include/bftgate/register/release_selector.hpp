// Which release an inference node loads: the one decision the node (runtime/inference_node.cpp)
// and the simulator's fleet (sim/simulator.cpp) both make with this code, so the simulator's
// properties speak for the node's choice.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "bftgate/core/types.hpp"
#include "bftgate/crypto/certificate.hpp"
#include "bftgate/crypto/epoch_chain.hpp"
#include "bftgate/crypto/validator_set.hpp"
#include "bftgate/crypto/verified_release.hpp"
#include "bftgate/register/register_entry.hpp"

namespace bftgate::bft {

// What one validator offered when asked for its latest release (decoded and bounded by the
// caller); no certificate means it offered none or an unreadable one.
struct ReleaseOffer {
  ReplicaId from = 0;
  std::uint64_t version = 0;
  crypto::Digest artifact_digest;
  std::uint64_t size = 0;
  std::string source;
  std::optional<crypto::ReleaseCertificate> certificate;

  static ReleaseOffer of(ReplicaId from, const RegisterEntry& entry);
};

struct ReleaseRefusal {
  ReplicaId from = 0;
  std::uint64_t version = 0;
  std::string kind;    // "no-certificate", "certificate-mismatch", or the verifier's error kind
  std::string detail;  // printable
};

struct ReleaseSelection {
  std::optional<ReleaseOffer> chosen;
  // The chosen offer's certificate, verified: whoever loads the release checks only its bytes.
  std::optional<crypto::VerifiedRelease> release;
  std::vector<ReleaseRefusal> refused;
  // Answers that could be used: an offer at or below the floor (nothing newer there) or the
  // chosen one. Refused offers and validators that did not answer do not count.
  std::size_t usable_answers = 0;

  // Asked validators whose answers leave the choice open (fewer than f+1 usable, nothing
  // chosen) are not enough: ask the others too.
  bool needs_wider_poll(std::uint32_t f) const {
    return !chosen && usable_answers < std::size_t{f} + 1;
  }
};

// The highest offered version above `floor` (what is served, or was ever served across
// restarts) whose certificate verifies against `validators` and names that version and digest.
// Offers are checked newest first, and each one passed over for anything but its age is
// refused with the reason; one lying validator can neither load a forgery nor hide a release
// another validator offers.
ReleaseSelection select_release(const std::vector<ReleaseOffer>& offers, std::uint64_t floor,
                                const ValidatorSet& validators,
                                const crypto::VerifyOptions& options = {});
// The same against the chain a node holds: each certificate against its own epoch's set, and a
// superseded epoch's only for a version it released before the switch.
ReleaseSelection select_release(const std::vector<ReleaseOffer>& offers, std::uint64_t floor,
                                const crypto::EpochChain& chain,
                                const crypto::VerifyOptions& options = {});

// The floor a node polls above: never below what it serves, nor below what it served before a
// restart (`persisted`, the highest version it ever loaded; that one may be loaded again, e.g.
// when its cached copy is gone).
std::uint64_t release_floor(std::uint64_t serving, std::uint64_t persisted);

// Appends the offers of those of `ids` that answer (a validator that does not answer adds none).
using AskForReleases =
    std::function<void(std::span<const ReplicaId> ids, std::vector<ReleaseOffer>& offers)>;

// A node's poll: asks the first f+1 validators of `order` (they include an honest one), and the
// rest only when those answers leave the choice open (one did not answer, or offered something
// that does not verify); then selects as select_release does. The inference node and the
// simulator's fleet poll with it; each picks its own order.
ReleaseSelection poll_release(std::span<const ReplicaId> order, std::uint64_t floor,
                              const ValidatorSet& validators, const AskForReleases& ask,
                              const crypto::VerifyOptions& options = {});
// The same against a chain: the newest set's f decides how many are asked first.
ReleaseSelection poll_release(std::span<const ReplicaId> order, std::uint64_t floor,
                              const crypto::EpochChain& chain, const AskForReleases& ask,
                              const crypto::VerifyOptions& options = {});

}  // namespace bftgate::bft
