// Which release an inference node loads: the one decision the node (runtime/inference_node.cpp)
// and the simulator's fleet (sim/simulator.cpp) both make with this code, so the simulator's
// properties speak for the node's choice.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bftgate/bft/register_entry.hpp"
#include "bftgate/bft/types.hpp"
#include "bftgate/crypto/certificate.hpp"
#include "bftgate/crypto/verified_release.hpp"

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
// restarts) whose certificate verifies against `config` and names that version and digest.
// Offers are checked newest first, and each one passed over for anything but its age is
// refused with the reason; one lying validator can neither load a forgery nor hide a release
// another validator offers.
ReleaseSelection select_release(const std::vector<ReleaseOffer>& offers, std::uint64_t floor,
                                const ClusterConfig& config,
                                const crypto::VerifyOptions& options = {});

}  // namespace bftgate::bft
