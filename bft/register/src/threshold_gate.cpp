#include "bftgate/register/threshold_gate.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <tuple>

namespace bftgate::bft {

namespace {

bool good_signature(const crypto::PublicKey& key, const GateApproval& approval,
                    const crypto::VerifyOptions& options) {
  const auto body = approval.statement.encode();
  return options.cache != nullptr
             ? options.cache->verify(key, crypto::Domain::kGateApproval, body, approval.signature)
             : crypto::verify(key, crypto::Domain::kGateApproval, body, approval.signature);
}

}  // namespace

GateApproval GateApproval::sign(ReplicaId signer, const crypto::SecretKey& key,
                                crypto::ReleaseStatement statement) {
  statement.previous_entry_hash = {};
  auto signature = key.sign(crypto::Domain::kGateApproval, statement.encode());
  return {signer, std::move(statement), signature};
}

crypto::CertVerdict verify_gate_release(const GateRelease& release, const ValidatorSet& set,
                                        const crypto::QuorumCheck& check) {
  if (release.statement.cluster_id != set.cluster_id) {
    return {crypto::CertError::kWrongCluster,
            fmt::format("approvals for cluster '{}', not '{}'", release.statement.cluster_id,
                        set.cluster_id)};
  }
  if (release.statement.epoch != set.epoch) {
    return {crypto::CertError::kWrongEpoch,
            fmt::format("approvals for epoch {}, not {}", release.statement.epoch, set.epoch)};
  }
  return crypto::verify_quorum(release.approvals, set, crypto::Domain::kGateApproval,
                               release.statement.encode(), check);
}

bool GateLedger::may_sign(std::uint64_t version, const crypto::Digest& digest) const {
  auto it = signed_.find(version);
  return it == signed_.end() || it->second.statement.artifact_digest == digest;
}

bool GateLedger::record(const GateApproval& approval) {
  const auto version = approval.statement.adapter_version;
  if (!may_sign(version, approval.statement.artifact_digest)) return false;
  signed_.insert_or_assign(version, approval);
  return true;
}

std::vector<GateApproval> GateLedger::above(std::uint64_t floor) const {
  std::vector<GateApproval> out;
  for (auto it = signed_.upper_bound(floor); it != signed_.end(); ++it) out.push_back(it->second);
  return out;
}

GateSelection select_gate_release(std::span<const GateApproval> approvals, std::uint64_t floor,
                                  const ValidatorSet& set, const crypto::VerifyOptions& options) {
  GateSelection selection;
  // (version, digest) -> the approvals that count, one per signer.
  std::map<std::tuple<std::uint64_t, crypto::Digest>, GateRelease> tallies;
  for (const auto& approval : approvals) {
    const auto& statement = approval.statement;
    if (statement.adapter_version <= floor) continue;  // never backwards
    auto refuse = [&](std::string kind, std::string detail) {
      selection.refused.push_back(
          {approval.signer, statement.adapter_version, std::move(kind), std::move(detail)});
    };
    const auto* key = set.find_key(approval.signer);
    if (key == nullptr) {
      refuse("unknown-signer",
             fmt::format("validator {} is not in the set of epoch {}", approval.signer, set.epoch));
      continue;
    }
    if (statement.cluster_id != set.cluster_id || statement.epoch != set.epoch ||
        statement.previous_entry_hash != crypto::Digest{}) {
      refuse("wrong-statement",
             fmt::format("validator {}, version {}: another cluster, epoch or a history",
                         approval.signer, statement.adapter_version));
      continue;
    }
    if (!good_signature(*key, approval, options)) {
      refuse("bad-signature", fmt::format("validator {}, version {}: the signature does not verify",
                                          approval.signer, statement.adapter_version));
      continue;
    }
    auto& tally = tallies[{statement.adapter_version, statement.artifact_digest}];
    tally.statement = statement;
    tally.approvals.add(approval.signer, approval.signature);  // a second copy counts once
  }
  // Newest version first; a version with two quorate digests is contested and skipped.
  for (auto it = tallies.rbegin(); it != tallies.rend();) {
    const auto version = std::get<0>(it->first);
    std::vector<const GateRelease*> quorate;
    for (; it != tallies.rend() && std::get<0>(it->first) == version; ++it) {
      if (it->second.approvals.signers().count() >= set.quorum()) quorate.push_back(&it->second);
    }
    if (quorate.size() > 1) {
      selection.contested.push_back(version);
      continue;
    }
    if (quorate.size() == 1) {
      selection.chosen = *quorate.front();
      break;
    }
  }
  return selection;
}

}  // namespace bftgate::bft
