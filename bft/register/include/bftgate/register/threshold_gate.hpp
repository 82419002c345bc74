// The consensus-free threshold gate: the baseline that shows what agreement buys. The operator
// numbers the versions itself; each validator that finds an adapter good signs (version, digest)
// and signs at most one digest per version, remembered across restarts; a node loads version v
// with digest d once a quorum (2f+1 of 3f+1) of distinct validators of its set signed (v, d).
// There is no agreement protocol: no order between versions, no REJECTED state, and nothing but
// the quorum intersection (f+1 validators, one of them honest and signing once) keeps two digests
// of one version from both reaching a quorum. The simulator's gate mode and its tests decide with
// this code.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "bftgate/core/types.hpp"
#include "bftgate/crypto/certificate.hpp"
#include "bftgate/register/release_selector.hpp"

namespace bftgate::bft {

// One validator's approval. The statement is a release certificate's (cluster, epoch, version,
// digest) with no previous entry (there is no history), signed in its own domain
// (Domain::kGateApproval), so that no gate approval can pass as a register certificate's.
struct GateApproval {
  ReplicaId signer = 0;
  crypto::ReleaseStatement statement;
  crypto::Signature signature;

  static GateApproval sign(ReplicaId signer, const crypto::SecretKey& key,
                           crypto::ReleaseStatement statement);
};

// A quorum's approvals of one (version, digest): what a node loads with.
struct GateRelease {
  crypto::ReleaseStatement statement;
  crypto::QuorumSignatures approvals;
};

// Whether `release` is a gate quorum of `set`: its cluster and epoch, a quorum of distinct
// members, every signature good in the gate's domain. The first failure, with why.
crypto::CertVerdict verify_gate_release(const GateRelease& release, const ValidatorSet& set,
                                        const crypto::QuorumCheck& check = {});

// What a validator has signed: at most one digest per version. A validator persists it before an
// approval leaves, and a restart reloads it; without that, a restarted honest validator could
// sign a second digest of a version.
class GateLedger {
 public:
  // True when it signed nothing for this version, or this same digest.
  bool may_sign(std::uint64_t version, const crypto::Digest& digest) const;
  // Records an approval it signs; false (and no change) when may_sign() is false.
  bool record(const GateApproval& approval);
  // Its approvals of versions above `floor`, ascending: what it answers a node's poll with.
  std::vector<GateApproval> above(std::uint64_t floor) const;
  std::size_t size() const { return signed_.size(); }

 private:
  std::map<std::uint64_t, GateApproval> signed_;
};

struct GateSelection {
  std::optional<GateRelease> chosen;
  // Approvals that could not count: another cluster or epoch, a signer outside the set, a bad
  // signature. Each costs only itself.
  std::vector<ReleaseRefusal> refused;
  // Versions above the floor whose two digests both reached a quorum (only with more than f
  // validators signing twice): never chosen.
  std::vector<std::uint64_t> contested;
};

// The highest version above `floor` that a quorum of distinct members of `set` approved with one
// digest; each approval is verified alone, and a signer counts once per (version, digest).
GateSelection select_gate_release(std::span<const GateApproval> approvals, std::uint64_t floor,
                                  const ValidatorSet& set,
                                  const crypto::VerifyOptions& options = {});

}  // namespace bftgate::bft
