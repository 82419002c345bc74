#include "bftgate/sim/invariants.hpp"

#include <fmt/format.h>

#include <optional>

#include "bftgate/sim/simulator.hpp"

namespace bftgate::sim {

void InvariantChecker::violation(std::string text) {
  if (violations_.size() < 100) violations_.push_back(std::move(text));
}

void InvariantChecker::on_commit(ReplicaId replica, const bft::CommittedBatch& batch) {
  auto [it, inserted] = committed_.emplace(batch.seq, batch.batch_digest);
  if (!inserted && it->second != batch.batch_digest) {
    violation(fmt::format(
        "agreement: replica {} committed batch {} at sequence {}, another honest replica {}",
        replica, batch.batch_digest.hex().substr(0, 12), batch.seq,
        it->second.hex().substr(0, 12)));
  }
}

void InvariantChecker::same_at(std::map<bft::Seq, std::pair<ReplicaId, crypto::Digest>>& seen,
                               const char* what, ReplicaId replica, bft::Seq seq,
                               const crypto::Digest& digest) {
  auto [it, inserted] = seen.emplace(seq, std::pair{replica, digest});
  if (!inserted && it->second.second != digest) {
    violation(fmt::format("agreement: after sequence {} replica {} has {} {}, replica {} has {}",
                          seq, replica, what, digest.hex().substr(0, 12), it->second.first,
                          it->second.second.hex().substr(0, 12)));
  }
}

void InvariantChecker::on_replica_invariant(ReplicaId replica, const std::string& what) {
  violation(fmt::format("replica-invariant: replica {}: {}", replica, what));
}

void InvariantChecker::on_sent(ReplicaId replica, const bft::SignedMessage& message) {
  std::optional<std::tuple<ReplicaId, bft::MessageType, bft::View, bft::Seq>> key;
  crypto::Digest digest;
  if (const auto* pp = message.as<bft::PrePrepare>()) {
    key = {replica, message.type(), pp->view, pp->seq};
    digest = pp->batch_digest;
  } else if (const auto* p = message.as<bft::Prepare>()) {
    key = {replica, message.type(), p->view, p->seq};
    digest = p->batch_digest;
  } else if (const auto* c = message.as<bft::Commit>()) {
    key = {replica, message.type(), c->view, c->seq};
    digest = c->batch_digest;
  }
  if (!key) return;
  auto [it, inserted] = signed_.emplace(*key, digest);
  if (!inserted && it->second != digest) {
    violation(
        fmt::format("no-contradiction: replica {} signed two different {} for view {} "
                    "sequence {}",
                    replica, bft::to_string(message.type()), std::get<2>(*key), std::get<3>(*key)));
  }
}

void InvariantChecker::on_state(ReplicaId replica, bft::Seq seq, const crypto::Digest& log_head) {
  same_at(log_heads_, "register log hash", replica, seq, log_head);
}

void InvariantChecker::on_checkpoint(ReplicaId replica, bft::Seq seq,
                                     const crypto::Digest& digest) {
  same_at(checkpoints_, "checkpoint digest", replica, seq, digest);
}

bool InvariantChecker::on_release(ReplicaId replica, const bft::RegisterEntry& entry) {
  if (!checked_.insert({replica, entry.version}).second) return false;
  check_certificate(fmt::format("replica {}", replica), *entry.certificate);
  return released_.insert(entry.version).second;
}

void InvariantChecker::check_certificate(const std::string& holder,
                                         const crypto::ReleaseCertificate& certificate) {
  const auto version = certificate.statement.adapter_version;
  crypto::VerifyOptions options;
  options.cache = cache_;
  if (auto verdict = crypto::verify(certificate, config_.validator_set(), options); !verdict.ok()) {
    violation(fmt::format(
        "register-safety: {} holds a certificate for version {} that does not verify: {}", holder,
        version, verdict.reason));
  }
  const AdapterSpec* spec = nullptr;
  for (const auto& a : scenario_.adapters) {
    if (a.version == version) spec = &a;
  }
  std::size_t honest_pass = 0;
  for (auto id : certificate.signers().ids()) {
    if (honest(id) && spec != nullptr && spec->honest_verdict(id) == Verdict::kPass) ++honest_pass;
  }
  // Within the model (at most f Byzantine validators) every certificate holds f+1 honest PASS
  // votes. Beyond it a certificate may rest on Byzantine votes for an adapter every honest
  // validator passes as well; what the bound protects, an adapter an honest validator fails
  // never certified, is what counts then.
  bool within_model = scenario_.byzantine.size() <= config_.f;
  if (honest_pass < std::size_t{config_.f} + 1 &&
      (within_model || spec == nullptr || !spec->passes())) {
    violation(fmt::format(
        "register-safety: version {} certified with {} honest PASS votes, fewer than f+1 = {}",
        version, honest_pass, config_.f + 1));
  }
  auto [it, first] = certified_.emplace(version, certificate.statement.artifact_digest);
  if (!first && it->second != certificate.statement.artifact_digest) {
    violation(fmt::format("register-safety: two digests certified for version {}", version));
  }
}

void InvariantChecker::on_load(std::uint32_t node, std::uint64_t serving,
                               const crypto::ReleaseCertificate& certificate,
                               const crypto::Digest& loaded) {
  const auto version = certificate.statement.adapter_version;
  if (version <= serving) {
    violation(fmt::format("serving-safety: node {} would go from version {} back to {}", node,
                          serving, version));
  }
  if (loaded != certificate.statement.artifact_digest) {
    violation(fmt::format(
        "serving-safety: node {} loaded version {} with a digest its certificate does not name",
        node, version));
  }
  // A certificate may reach a node (from any validator) before an honest replica's register
  // holds the release; what makes the load safe is the certificate itself.
  check_certificate(fmt::format("node {}", node), certificate);
}

void InvariantChecker::at_end(const std::vector<VersionOutcome>& outcomes) {
  double stable_from = scenario_.gst_s;
  for (const auto& p : scenario_.partitions) stable_from = std::max(stable_from, p.end_s);
  // The bound assumes a stable cluster: it starts once the last crash or restart is over.
  for (const auto& c : scenario_.crashes)
    stable_from = std::max(stable_from, c.recover_s.value_or(c.at_s));
  const auto& adapters = scenario_.adapters;
  for (std::size_t i = 0; i < adapters.size(); ++i) {
    const auto& a = adapters[i];
    const auto& o = outcomes[i];
    if (!a.passes() || a.tampered_artifact || a.submit_s < stable_from) continue;
    if (a.submit_s + o.bound_s > scenario_.duration_s) continue;  // the run ends before the bound
    if (i + 1 < adapters.size() && adapters[i + 1].submit_s < a.submit_s + o.bound_s)
      continue;  // superseded
    if (!o.certified_s) {
      violation(fmt::format(
          "liveness: passing adapter version {} (submitted at {:.2f}s) was never certified",
          a.version, a.submit_s));
    } else if (!o.converged_s || *o.converged_s - a.submit_s > o.bound_s) {
      violation(fmt::format(
          "liveness: the fleet did not converge on version {} within {:.2f}s of submission",
          a.version, o.bound_s));
    }
  }
}

}  // namespace bftgate::sim
